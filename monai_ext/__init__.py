# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Super-resolution-assisted medical image analysis on MONAI.

Networks, losses, transforms, dataset layouts, metrics, handlers and engines shared by the bundles in ``bundles/``.
The subpackages are imported on first access (``monai_ext.handlers.ValidationHandler`` after ``import monai_ext``),
so a bundle config's expressions may name any of them while ``import monai_ext`` itself stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .utils.errors import install_excepthook as _install_excepthook

# uncaught data / weights errors of a `python -m monai.bundle run ...` end with their own short message
_install_excepthook()

_SUBPACKAGES = ("bundle", "data", "engines", "handlers", "losses", "metrics", "networks", "transforms", "utils")


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
