# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Errors raised by the data layer (dataset layouts, readers, validation).

Every error names the file or folder at fault and the problem, so that a bad dataset is fixed from the message alone.
"""

from __future__ import annotations

__all__ = ["DataError", "DatasetLayoutError"]


class DataError(ValueError):
    """A data file cannot be used: unreadable or truncated, wrong size, unexpected channel count or values.

    Subclasses ``ValueError`` so that callers catching bad input in general also catch it.
    """


class DatasetLayoutError(DataError):
    """A dataset folder does not follow the expected layout: missing or empty folder, unpaired files, bad split."""
