# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Short error reports for problems a user fixes from the message alone.

``python -m monai.bundle run`` evaluates config expressions; when one raises, MONAI wraps the error in
``RuntimeError: Failed to evaluate ConfigExpression ...`` and Python prints a traceback of 60 lines or more whose last
line is that wrapper, with the useful message (a dataset folder that is missing, weights that were never trained) in
the middle. :func:`install_excepthook` (called when ``monai_ext`` is imported, which every bundle config does) makes
such errors end the output with the message itself:

.. code-block:: text

    monai_ext: stopped by a problem with the data, weights or options (full traceback: MONAI_EXT_TRACEBACK=1).
    DatasetLayoutError: /data/DRIVE/test: folder not found ...

Errors that are not ours (bugs, out of memory, ...) keep Python's full traceback. The hook only acts on uncaught
exceptions of the main program; libraries, servers and pytest are not affected.
"""

from __future__ import annotations

import os
import sys
import traceback
from types import TracebackType

__all__ = ["USER_ERROR_NAMES", "user_error_in_chain", "format_user_error", "install_excepthook", "TRACEBACK_ENV"]

#: set this environment variable to ``1`` to get Python's full traceback for every error.
TRACEBACK_ENV = "MONAI_EXT_TRACEBACK"

#: our errors whose message is meant for the user (the classes live in several sub-packages; matched by module and
#: name so that this module imports none of them).
USER_ERROR_NAMES = {
    "monai_ext.data.errors": {"DataError", "DatasetLayoutError"},
    "monai_ext.engines.folder_inference": {"FolderInferenceError"},
    "monai_ext.handlers.nonfinite": {"NonFiniteLossError"},
    "monai_ext.utils.checkpoint_io": {"CheckpointReadError", "UnsafeCheckpointError", "MissingWeightsError"},
    "monai_ext.utils.options": {"RenamedOptionError"},
    "monai_ext.utils.paths": {"UnsafeOutputPathError"},
    "monai_ext.utils.run_paths": {"TrainingOutputError"},
}

_MLFLOW_HINT = (
    "MLflow tracking (--tracking mlflow) needs the optional 'mlflow' package: pip install -e \".[mlflow]\" "
    "(or pip install mlflow)"
)


def _is_user_error(exc: BaseException) -> bool:
    for cls in type(exc).__mro__:
        if cls.__name__ in USER_ERROR_NAMES.get(cls.__module__, ()):
            return True
    return False


def _is_missing_mlflow(exc: BaseException) -> bool:
    return type(exc).__name__ in ("OptionalImportError", "ModuleNotFoundError", "ImportError") and "mlflow" in str(exc)


def user_error_in_chain(exc: BaseException) -> tuple[str, str] | None:
    """``(error name, message)`` of the first user-facing error in ``exc``'s chain (causes and contexts), or None.

    User-facing errors: the data, checkpoint, inference and output-path errors of ``monai_ext`` (see
    :data:`USER_ERROR_NAMES`), and a missing optional ``mlflow`` package (reported with the install command).
    """
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        if _is_user_error(item):
            return type(item).__name__, str(item)
        if _is_missing_mlflow(item):
            return "MissingOptionalPackage", _MLFLOW_HINT
        item = item.__cause__ if item.__cause__ is not None else item.__context__
    return None


def format_user_error(name: str, message: str) -> str:
    """The short report printed instead of the traceback: one hint line, then the error as the last lines."""
    return (
        "monai_ext: stopped by a problem with the data, weights or options "
        f"(full traceback: {TRACEBACK_ENV}=1).\n{name}: {message.rstrip()}\n"
    )


def _excepthook_factory(previous):  # type: ignore[no-untyped-def]
    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        found = None
        if os.environ.get(TRACEBACK_ENV, "") in ("", "0"):
            try:
                found = user_error_in_chain(exc)
            except Exception:  # never let the reporter hide the original error
                found = None
        if found is None:
            previous(exc_type, exc, tb)
            return
        try:
            sys.stderr.flush()
            sys.stdout.flush()
            sys.stderr.write(format_user_error(*found))
            sys.stderr.flush()
        except Exception:
            traceback.print_exception(exc_type, exc, tb)

    excepthook.monai_ext_hook = True  # type: ignore[attr-defined]
    return excepthook


def install_excepthook() -> None:
    """Make uncaught user-facing errors end the program's output with their message (idempotent)."""
    if getattr(sys.excepthook, "monai_ext_hook", False):
        return
    sys.excepthook = _excepthook_factory(sys.excepthook)
