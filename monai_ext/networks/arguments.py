# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Checks of constructor arguments shared by the networks."""

from __future__ import annotations

__all__ = ["require_spatial_dims"]


def require_spatial_dims(owner: str, spatial_dims: int, example: str) -> None:
    """Raise unless ``spatial_dims`` is 1, 2 or 3.

    The modules that took ``spatial_dims`` last now take it first (MONAI's order); a call written in the former
    order passes a channel count there, and this check names the new order instead of failing deep inside.

    Args:
        owner: the class name, for the message.
        spatial_dims: the value given.
        example: a correct call, e.g. ``"MSCG(2, 64, 64)"``.

    Raises:
        ValueError: ``"<owner>: spatial_dims must be 1, 2 or 3, got <v>; it is the first argument ..."``.
    """
    if spatial_dims not in (1, 2, 3):
        raise ValueError(
            f"{owner}: spatial_dims must be 1, 2 or 3, got {spatial_dims!r}; it is the first argument (MONAI's "
            f"order), e.g. {example}."
        )
