# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Suite-wide checks: the test suite must not write into the working tree.

At the start of the session (the controller process under ``pytest -n``) the output of
``git status --ignored --porcelain`` is recorded; at the end it is compared, and any file or folder the suite
created or changed in the working tree fails the run (exit status 1) with the list of paths. Tests write to
``tmp_path``. The check is skipped outside a git work tree or when git is missing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
