# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Old import paths of names that moved to another subpackage, kept for one release with a ``FutureWarning``.

A package whose names moved defines a module-level ``__getattr__`` that calls :func:`moved_attribute`, so that
``monai_ext.engines.SafeCheckpointLoader`` (attribute access, ``from ... import``, a bundle config's ``_target_``)
still returns the very same object as ``monai_ext.handlers.SafeCheckpointLoader`` and warns once per call site. An
old module kept as a thin re-export calls :func:`warn_moved_module` when it is imported. A constructor argument that
was renamed keeps its old keyword for one release through :func:`renamed_argument` (MONAI's ``deprecated_arg``).
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["moved_attribute", "renamed_argument", "renamed_attribute", "warn_moved_module"]

#: the release in which the current deprecations started (old names are removed in the next one).
DEPRECATED_SINCE = "0.1.0"


def _message(old: str, new: str) -> str:
    return f"{old} moved to {new}; the old path is deprecated and will be removed in the next release."


def _warn_attribute_caller(message: str) -> None:
    """``FutureWarning`` pointing at the code that looked up a deprecated module attribute.

    Called by :func:`moved_attribute` / :func:`renamed_attribute`, themselves called from a module's ``__getattr__``.
    ``from module import name`` looks the name up twice (once inside the import machinery, once in the importing
    code); only the second look-up warns, so the warning points at the user's line.
    """
    # frames: 0 here, 1 moved/renamed_attribute, 2 the module's __getattr__, 3 the code that asked for the name
    if sys._getframe(3).f_globals.get("__name__") != "importlib._bootstrap":
        warnings.warn(message, FutureWarning, stacklevel=4)


def moved_attribute(old_module: str, name: str, moved: Mapping[str, str]) -> Any:
    """The object ``name`` of its new module ``moved[name]``, with a ``FutureWarning`` naming the new path.

    Call it from the old package's module-level ``__getattr__``. ``from old_module import name`` looks the name up
    twice (once inside the import machinery, once in the importing code); only the second look-up warns, so the
    warning points at the user's line.

    Args:
        old_module: the module the name used to live in, e.g. ``"monai_ext.engines"``.
        name: the attribute asked for.
        moved: new module of each moved name, e.g. ``{"SafeCheckpointLoader": "monai_ext.handlers"}``.

    Raises:
        AttributeError: ``name`` is not in ``moved`` (as for any missing module attribute).
    """
    new_module = moved.get(name)
    if new_module is None:
        raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
    _warn_attribute_caller(_message(f"{old_module}.{name}", f"{new_module}.{name}"))
    return getattr(importlib.import_module(new_module), name)


def renamed_attribute(module: str, name: str, renamed: Mapping[str, str]) -> Any:
    """The object now called ``renamed[name]`` in ``module``, with a ``FutureWarning`` naming the new name.

    Call it from the package's module-level ``__getattr__`` for names that were renamed in place (for example
    ``monai_ext.networks.UNet``, which shadowed MONAI's own ``UNet``, is now ``BaselineUNet``).

    Args:
        module: the package, e.g. ``"monai_ext.networks"``.
        name: the attribute asked for.
        renamed: new name of each old name, e.g. ``{"UNet": "BaselineUNet"}``.

    Raises:
        AttributeError: ``name`` is not in ``renamed``.
    """
    new_name = renamed.get(name)
    if new_name is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    message = f"{module}.{name} was renamed {module}.{new_name}; the old name is deprecated and will be removed"
    _warn_attribute_caller(message + " in the next release.")
    return getattr(importlib.import_module(module), new_name)


def warn_moved_module(old_module: str, new_modules: str) -> None:
    """Warn (``FutureWarning``) that ``old_module`` is a thin re-export of ``new_modules`` kept for one release."""
    warnings.warn(_message(f"module {old_module}", new_modules), FutureWarning, stacklevel=3)


def renamed_argument(old: str, new: str) -> Any:
    """Decorator: keyword ``old`` of a function is accepted as ``new`` for one release, with a ``FutureWarning``.

    MONAI's own mechanism (``monai.utils.deprecated_arg`` with ``new_name``), as MONAI renamed ``dimensions`` to
    ``spatial_dims``: the decorated function keeps a parameter ``old`` (default None, otherwise ignored) so that the
    signature still binds the old keyword; the value reaches ``new``. Passing both keeps ``new``.

    Args:
        old: the former keyword.
        new: the keyword it was renamed to.
    """
    from monai.utils import deprecated_arg  # imported here: this module stays importable without torch

    return deprecated_arg(
        name=old,
        new_name=new,
        since=DEPRECATED_SINCE,
        version_val=DEPRECATED_SINCE,
        msg_suffix=f"Use `{new}` (MONAI's name); `{old}` will be removed in the next release.",
    )
