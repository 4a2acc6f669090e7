# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The process's rank and the number of processes, for code that runs with or without ``torchrun``.

Read from the default process group when it exists, else from the variables ``torchrun`` sets (``RANK``,
``WORLD_SIZE``), else rank 0 of a world of 1. Unlike ignite's ``idist``, nothing here starts collective calls, so
a handler may ask for the rank at any time. The helpers that set up a distributed run (``init_distributed``,
samplers, rank-0 handler lists) are in :mod:`monai_ext.engines.distributed`, which re-exports these two.
"""

from __future__ import annotations

import os

import torch.distributed as dist

__all__ = ["get_rank", "get_world_size", "int_from_env"]


def int_from_env(name: str, default: int) -> int:
    """The integer value of the environment variable ``name``, or ``default`` when it is unset or empty.

    Raises:
        ValueError: the variable is set to something that is not an integer.
    """
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as e:
        raise ValueError(f"environment variable {name}={value!r} is not an integer.") from e


def get_rank() -> int:
    """The process's global rank: from the process group when it exists, else ``RANK`` (set by ``torchrun``),
    else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int_from_env("RANK", 0)


def get_world_size() -> int:
    """The number of processes: from the process group when it exists, else ``WORLD_SIZE``, else 1."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int_from_env("WORLD_SIZE", 1)
