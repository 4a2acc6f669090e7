# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Former home of the lesion dataset layouts, now :mod:`monai_ext.data.layouts.lesion`; kept as a re-export so that
old imports (``from monai_ext.data.lesion_layouts import idrid``) give the same objects."""

from __future__ import annotations

from typing import Any

from .layouts import lesion as _lesion
from .layouts.lesion import *  # noqa: F401,F403
from .layouts.lesion import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    # the module's other names (layout texts, private helpers) too
    return getattr(_lesion, name)
