# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Deprecated: ``monai_ext.engines.loss_terms`` moved to :mod:`monai_ext.handlers.loss_terms`.

This thin re-export is kept for one release; importing it emits a ``FutureWarning``.
"""

from __future__ import annotations

from ..handlers.loss_terms import LossTermsHandler
from ..utils.deprecation import warn_moved_module

__all__ = [
    "LossTermsHandler",
]

warn_moved_module(__name__, "monai_ext.handlers.loss_terms")
