# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Super-resolution-assisted medical image analysis on MONAI.

Networks, losses, transforms, dataset layouts and metrics shared by the bundles in ``bundles/``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .utils.errors import install_excepthook as _install_excepthook

# uncaught data / weights errors of a `python -m monai.bundle run ...` end with their own short message
_install_excepthook()
