# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Deprecated: ``monai_ext.engines.seeding`` moved to :mod:`monai_ext.utils.seeding` and
:mod:`monai_ext.handlers.seeding`.

This thin re-export is kept for one release; importing it emits a ``FutureWarning``.
"""

from __future__ import annotations

from ..handlers.seeding import EpochSeedHandler
from ..utils.deprecation import warn_moved_module
from ..utils.seeding import epoch_seed, make_generator, seed_everything, seed_worker

__all__ = [
    "epoch_seed",
    "make_generator",
    "seed_everything",
    "seed_worker",
    "EpochSeedHandler",
]

warn_moved_module(__name__, "monai_ext.utils.seeding and monai_ext.handlers.seeding")
