# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Former home of the vessel dataset layouts, now :mod:`monai_ext.data.layouts.vessel`; kept as a re-export so that
old imports (``from monai_ext.data.vessel_layouts import drive``) give the same objects."""

from __future__ import annotations

from typing import Any

from .layouts import vessel as _vessel
from .layouts.vessel import *  # noqa: F401,F403
from .layouts.vessel import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    # the module's other names (layout texts, private helpers) too
    return getattr(_vessel, name)
