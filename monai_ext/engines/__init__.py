# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""monai_ext.engines."""

from __future__ import annotations
