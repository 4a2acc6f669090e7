# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The import graph of ``monai_ext``: no import loop, and the layering of docs/contracts.md.

The checks run in a fresh interpreter (``python -c``): in the test process ``monai_ext`` is already imported, and a
loop or an unwanted import would go unnoticed. One interpreter imports every module alone, each after removing all
of ``monai_ext`` from ``sys.modules``: the same import order as in a fresh interpreter (a loop shows up as a
"partially initialized module" error), while torch and MONAI load only once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import monai_ext

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "monai_ext"

_IMPORT_EACH = """
import importlib, json, sys, traceback, warnings
warnings.simplefilter("ignore")  # the deprecated re-export modules warn when imported
report = {"failures": {}, "loaded": {}}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "monai_ext" or m.startswith("monai_ext.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        report["failures"][name] = traceback.format_exc(limit=-3)
    report["loaded"][name] = sorted(m for m in sys.modules if m.startswith("monai_ext."))
print(json.dumps(report))
"""


def _python(code: str, *args: str) -> str:
    """The last line ``code`` prints in a fresh interpreter that imports ``monai_ext`` from this checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def _all_modules() -> list[str]:
    """Every module of the package, from its files (``__main__`` modules run a command and are left out)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.fixture(scope="module")
def import_report() -> dict:
    return json.loads(_python(_IMPORT_EACH, json.dumps(_all_modules())))


def test_the_package_under_test_is_this_checkout():
    assert Path(monai_ext.__file__).resolve().parent == PACKAGE


def test_module_list_covers_every_subpackage():
    names = _all_modules()
    for package in ("bundle", "data", "engines", "handlers", "losses", "metrics", "networks", "transforms", "utils"):
        assert f"monai_ext.{package}" in names
    assert {"monai_ext", "monai_ext.handlers.resume", "monai_ext.utils.checkpoint_io"} <= set(names)


@pytest.mark.slow
def test_every_module_imports_alone(import_report):
    """No import loop: every module of monai_ext imports on its own, whichever is imported first."""
    assert sorted(import_report["loaded"]) == _all_modules()
    failures = import_report["failures"]
    assert not failures, "\n".join(f"{name}:\n{text}" for name, text in failures.items())


@pytest.mark.slow
@pytest.mark.parametrize("package", ["monai_ext.networks", "monai_ext.handlers"])
def test_networks_and_handlers_import_nothing_from_engines(import_report, package):
    modules = [name for name in import_report["loaded"] if _in(name, package)]
    assert len(modules) > 5, modules
    for name in modules:
        engines = [m for m in import_report["loaded"][name] if _in(m, "monai_ext.engines")]
        assert not engines, f"importing {name} imports {engines}"


@pytest.mark.slow
def test_layering(import_report):
    """utils imports no other subpackage; networks, losses, transforms, data and metrics import neither handlers
    nor engines (except the deprecated re-export monai_ext.metrics.handlers, which imports where its names went)."""
    lower = [f"monai_ext.{p}" for p in ("networks", "losses", "transforms", "data", "metrics")]
    for name, loaded in import_report["loaded"].items():
        if _in(name, "monai_ext.utils"):
            assert all(_in(m, "monai_ext.utils") for m in loaded), (name, loaded)
        if any(_in(name, p) for p in lower) and name != "monai_ext.metrics.handlers":
            upper = [m for m in loaded if _in(m, "monai_ext.handlers") or _in(m, "monai_ext.engines")]
            assert not upper, (name, upper)


def test_networks_alone_in_a_fresh_interpreter():
    """The plain form of the check above, without removing modules from sys.modules."""
    code = "import sys, monai_ext.networks; print(sorted(m for m in sys.modules if m.startswith('monai_ext.engines')))"
    assert _python(code) == "[]"


def test_importing_monai_ext_alone_stays_light():
    """``import monai_ext`` (the bundle configs' first import, and the command-line tools') loads no torch and no
    subpackage but utils; the subpackages and the torch-based helpers of monai_ext.utils load on first access."""
    code = (
        "import sys, monai_ext; print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('monai_ext.')}), "
        "'torch' in sys.modules)"
    )
    assert _python(code) == "['utils'] False"
    code = (
        "import sys, monai_ext; f = monai_ext.utils.safe_load_checkpoint; h = monai_ext.handlers.ResumeFromCheckpoint; "
        "print(f.__module__, h.__module__, 'torch' in sys.modules)"
    )
    assert _python(code) == "monai_ext.utils.checkpoint_io monai_ext.handlers.resume True"
