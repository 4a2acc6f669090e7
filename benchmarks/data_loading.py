# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Does data loading keep the model busy? The DS2F bundle's own training pipeline, timed three ways.

The pipeline, network, loss and optimizer are read from ``bundles/ds2f/configs/train.json`` (the CPU default: embedded
CHASE_DB1, U-Net base 16, LR 240 x 248 -> HR 480 x 496, batch 2), so the numbers describe the shipped bundle. For
each loader variant the same number of training iterations runs; ``busy`` is the compute time of those iterations
(measured on one pre-loaded batch) divided by the wall time of the loop, i.e. the fraction of time the model is not
waiting for data.

Variants: ``Dataset`` with 0 workers (every image decoded at every epoch), ``CacheDataset`` with 0 workers (the
bundle's default: decoded images cached, random and LR/HR transforms still run per sample) and ``CacheDataset`` with
worker processes (``num_workers``; transforms run beside the training step).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["measure_data_loading"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DS2F_TRAIN_CONFIG = REPO_ROOT / "bundles" / "ds2f" / "configs" / "train.json"


def measure_data_loading(num_batches: int = 3, workers: int = 2, device: str = "cpu") -> dict[str, Any]:
    """Time the DS2F bundle's training loop with three loader variants.

    Args:
        num_batches: training iterations per variant (after one untimed iteration).
        workers: worker processes of the third variant.
        device: training device.

    Returns:
        ``{"config": ..., "compute_s_per_batch": ..., "variants": [{"name", "data_s_per_batch",
        "loop_s_per_batch", "busy", "cache_s"}]}``.
    """
    from monai.bundle import ConfigParser
    from monai.data import CacheDataset, DataLoader, Dataset

    from monai_ext.engines import DualStreamPrepareBatch

    parser = ConfigParser()
    parser.read_config(str(DS2F_TRAIN_CONFIG))
    parser["device"] = f"$torch.device('{device}')"
    data = parser.get_parsed_content("train#dataset#data")
    transform = parser.get_parsed_content("train#preprocessing")
    batch_size = parser.get_parsed_content("batch_size")
    network = parser.get_parsed_content("network")
    loss_fn = parser.get_parsed_content("loss")
    optimizer = parser.get_parsed_content("optimizer")
    prepare_batch = DualStreamPrepareBatch()
    dev = torch.device(device)
    network.train()

    def train_step(batch: dict[str, Any]) -> None:
        inputs, targets = prepare_batch(batch, dev, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(network(inputs), targets)
        loss.backward()
        optimizer.step()

    def loop(loader: DataLoader) -> tuple[float, float]:
        """Seconds per batch of the training loop and of the data fetches alone within it."""
        iterator = iter(loader)
        train_step(next(iterator))  # untimed: worker start-up, first-call allocations
        fetch = 0.0
        start = time.perf_counter()
        for _ in range(num_batches):
            t0 = time.perf_counter()
            batch = next(iterator)
            fetch += time.perf_counter() - t0
            train_step(batch)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return (time.perf_counter() - start) / num_batches, fetch / num_batches

    # pure compute on one pre-loaded batch
    fixed = next(iter(DataLoader(Dataset(data, transform), batch_size=batch_size, shuffle=False)))
    train_step(fixed)
    start = time.perf_counter()
    for _ in range(num_batches):
        train_step(fixed)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    compute = (time.perf_counter() - start) / num_batches

    needed = batch_size * (num_batches + 1)
    subset = (data * (needed // len(data) + 1))[:needed] if data else data
    variants = []
    t0 = time.perf_counter()
    cached = CacheDataset(subset, transform, cache_rate=1.0, num_workers=0, progress=False)
    cache_s = time.perf_counter() - t0
    for name, dataset, nw in (
        ("Dataset, 0 workers", Dataset(subset, transform), 0),
        ("CacheDataset, 0 workers (bundle default)", cached, 0),
        (f"CacheDataset, {workers} workers", cached, workers),
    ):
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=nw, drop_last=True)
        loop_s, fetch_s = loop(loader)
        variants.append(
            {
                "name": name,
                "num_workers": nw,
                "loop_s_per_batch": loop_s,
                "data_wait_s_per_batch": fetch_s,
                "busy": min(1.0, compute / loop_s),
                "cache_s": cache_s if isinstance(dataset, CacheDataset) else None,
            }
        )
    return {
        "config": str(DS2F_TRAIN_CONFIG.relative_to(REPO_ROOT)),
        "batch_size": batch_size,
        "num_batches": num_batches,
        "compute_s_per_batch": compute,
        "variants": variants,
    }
