# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Speed, memory and FLOP benchmarks of the monai_ext bundles (see docs/benchmarks.md)."""

from __future__ import annotations
