# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Suite-wide checks and shared fixtures.

The test suite must not write into the working tree.

At the start of the session (the controller process under ``pytest -n``) the output of
``git status --ignored --porcelain`` is recorded; at the end it is compared, and any file or folder the suite
created or changed in the working tree fails the run (exit status 1) with the list of paths. Tests write to
``tmp_path``. The check is skipped outside a git work tree or when git is missing.

Shared fixtures: ``one_thread`` (module scope) runs a test module with one torch intra-op thread; use it with
``pytestmark = pytest.mark.usefixtures("one_thread")``. ``torch_threads(n)`` is the same as a context manager.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
_STATE: dict[str, set[str] | None] = {}


def git_status(repo: Path = REPO) -> set[str] | None:
    """The lines of ``git status --ignored --porcelain --untracked-files=all`` in ``repo``, or None without git."""
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), "status", "--ignored", "--porcelain", "--untracked-files=all"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    # bytecode caches and pytest's own cache are written by Python and pytest themselves, not by the tests
    ignored_noise = ("__pycache__/", ".pytest_cache/", ".pyc")
    return {line for line in result.stdout.splitlines() if not any(n in line for n in ignored_noise)}


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """``torch.set_num_threads(count)`` inside the block; the previous count is restored afterwards."""
    import torch  # here, not at the top: the controller process of ``pytest -n`` needs no torch

    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread is several times faster than many on a shared CPU."""
    with torch_threads(1):
        yield


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _is_xdist_worker(session.config) and os.environ.get("MONAI_EXT_SKIP_TREE_CHECK", "") in ("", "0"):
        _STATE["before"] = git_status()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = _STATE.get("before")
    if before is None or _is_xdist_worker(session.config):
        return
    after = git_status()
    if after is None:
        return
    changed = sorted(after - before)
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "the test suite wrote into the working tree (tests must use tmp_path):\n  " + "\n  ".join(changed)
        if reporter is not None:
            reporter.write_line(text, red=True)
        else:
            print(text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
