# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Ignite event filters that the bundle configs can build with ``_target_`` instead of a ``$lambda`` string."""

from __future__ import annotations

from typing import Any

__all__ = ["EveryNEvents"]


class EveryNEvents:
    """Event filter that is true on every ``interval``-th event: iterations 10, 20, ... for ``interval=10``.

    Ignite and MONAI's ``StatsHandler`` / ``TensorBoardStatsHandler`` (``iteration_log``, ``epoch_log``) call an event
    filter as ``filter(engine, event_count)``; ``event_count`` counts from 1 over the whole run.

    Args:
        interval: positive number of events between two ``True`` results.

    Raises:
        ValueError: when ``interval`` is not a positive integer.
    """

    def __init__(self, interval: int) -> None:
        if isinstance(interval, bool) or int(interval) != interval or interval < 1:
            raise ValueError(f"interval must be a positive integer, got {interval!r}.")
        self.interval = int(interval)

    def __call__(self, engine: Any, event_count: int) -> bool:
        return event_count % self.interval == 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(interval={self.interval})"
