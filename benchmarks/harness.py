# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Timing, memory and machine helpers of the benchmark, and the runner that measures one case at one size.

Every (case, size) runs in its own process (see ``benchmarks/run.py``), because the CPU peak resident set size
(``ru_maxrss``) of a process only ever grows: a fresh process gives each case its own peak. Inside the process the
inference phase runs before the training phase, so the peak read after inference is the inference peak.

Speed switches (all off by default except ``inference_mode``, each recorded with the results):

* ``channels_last``: model and inputs in NHWC memory format;
* ``inference_mode``: ``torch.inference_mode()`` for inference (``False``: ``torch.no_grad()``);
* ``host_sync``: ``loss.item()`` in every training step, as logging handlers do (the slow path, for comparison);
* ``amp``: ``"bf16"`` or ``"fp16"`` autocast (fp16 uses a gradient scaler on CUDA);
* ``cudnn_benchmark``: ``torch.backends.cudnn.benchmark`` (CUDA only; on by default there, sizes are fixed);
* ``compile``: ``torch.compile`` of the network for the timed runs (counts always use the eager network).
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from benchmarks.flops import (
    count_parameters,
    flop_counter_flops,
    ptflops_macs,
    saved_activation_bytes,
    train_step_flops,
)

__all__ = [
    "Options",
    "machine_info",
    "load_average",
    "matmul_flops",
    "measure_matmul_peak",
    "sync",
    "current_rss_mib",
    "peak_rss_mib",
    "cpu_usage",
    "autocast_context",
    "time_calls",
    "run_case",
]

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Options:
    """Run options of one measurement (see the module docstring for the switches).

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        repeat: timed repetitions of each phase.
        warmup: untimed repetitions before the timed ones.
        channels_last: NHWC memory format for model and inputs.
        inference_mode: ``torch.inference_mode()`` (``True``) or ``torch.no_grad()`` for inference.
        host_sync: call ``loss.item()`` in every training step.
        amp: ``None``, ``"bf16"`` or ``"fp16"``.
        compile: ``torch.compile`` the network for the timed runs.
        cudnn_benchmark: cuDNN autotuning (CUDA only); ``None`` means on for CUDA.
        train: measure the training step (where the size defines a training batch).
        infer: measure inference.
        seed: seed of the random inputs and weights.
    """

    device: str = "cpu"
    repeat: int = 2
    warmup: int = 1
    channels_last: bool = False
    inference_mode: bool = True
    host_sync: bool = False
    amp: str | None = None
    compile: bool = False
    cudnn_benchmark: bool | None = None
    train: bool = True
    infer: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp must be None, 'bf16' or 'fp16', got {self.amp!r}.")
        if self.repeat < 1 or self.warmup < 0:
            raise ValueError(f"repeat must be >= 1 and warmup >= 0, got repeat={self.repeat}, warmup={self.warmup}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepBundle:
    """What a case builds for a measurement: the network, its inputs and targets, and its training step.

    ``train_step(update)`` runs forward, loss and backward, and the optimizer update when ``update`` is true; it
    returns the detached loss. ``forward_inputs`` are the positional inputs of an inference call.
    """

    model: nn.Module
    train_step: Callable[[bool], torch.Tensor] | None
    forward_inputs: tuple[torch.Tensor, ...]
    extra: dict[str, Any] = field(default_factory=dict)


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """Machine details recorded with every result file."""
    cpu_model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    mem_total_gib = None
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_total_gib = round(int(line.split()[1]) / 2**20, 1)
                    break
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_model": cpu_model,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_total_gib": mem_total_gib,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cuda_available": torch.cuda.is_available(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.device(device))
        info.update(
            gpu_name=props.name,
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            cuda_version=torch.version.cuda,
            cudnn_version=torch.backends.cudnn.version(),
        )
    return info


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (a busy shared machine makes every timing slower)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def matmul_flops(m: int, k: int, n: int) -> int:
    """FLOPs of an (m x k) @ (k x n) product, a multiply-add counted as 2 (FlopCounterMode's convention)."""
    return 2 * m * k * n


def sync(device: torch.device | str) -> None:
    """Wait for queued device work (a no-op on CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_peak(
    device: str = "cpu", size: int | None = None, repeat: int = 5, dtype: torch.dtype = torch.float32
) -> dict[str, Any]:
    """Dense matrix-multiply throughput of this machine, the reference for the achieved-FLOP/s fractions.

    Args:
        device: where to multiply.
        size: side of the square matrices (default 2048 on CPU, 8192 on CUDA).
        repeat: timed products; the fastest one is the peak.
        dtype: float32 by default (the training dtype without AMP).

    Returns:
        ``{"size", "dtype", "peak_flops", "median_flops", "times_s"}`` with FLOP/s values.
    """
    dev = torch.device(device)
    if size is None:
        size = 8192 if dev.type == "cuda" else 2048
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=g, dtype=torch.float32).to(dev, dtype)
    b = torch.randn(size, size, generator=g, dtype=torch.float32).to(dev, dtype)
    out = torch.mm(a, b)  # warm-up
    times = []
    for _ in range(repeat):
        sync(dev)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        sync(dev)
        times.append(time.perf_counter() - start)
    flops = matmul_flops(size, size, size)
    return {
        "size": size,
        "dtype": str(dtype).replace("torch.", ""),
        "peak_flops": flops / min(times),
        "median_flops": flops / statistics.median(times),
        "times_s": times,
    }


def current_rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux ``/proc/self/statm``; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_usage() -> dict[str, float]:
    """CPU seconds of this process so far (all threads), split into user and kernel time, and its page faults.

    Kernel time of a training step is mostly page faults: glibc returns every freed block above 32 MiB to the
    kernel, so the large activations of each step are mapped and zeroed afresh.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"user_s": usage.ru_utime, "sys_s": usage.ru_stime, "minor_faults": float(usage.ru_minflt)}


def _cpu_usage_per_call(before: dict[str, float], calls: int) -> dict[str, float]:
    after = cpu_usage()
    return {
        "cpu_user_s": (after["user_s"] - before["user_s"]) / calls,
        "cpu_sys_s": (after["sys_s"] - before["sys_s"]) / calls,
        "minor_faults": (after["minor_faults"] - before["minor_faults"]) / calls,
    }


def autocast_context(device: torch.device, amp: str | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``amp`` in ``("bf16", "fp16")``, a null context for ``None``."""
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_AMP_DTYPES[amp])


def _warm_up(fn: Callable[[], Any], calls: int, device: torch.device) -> None:
    for _ in range(calls):
        fn()
    sync(device)


def time_calls(fn: Callable[[], Any], repeat: int, warmup: int, device: torch.device, per_call: bool) -> list[float]:
    """Time ``fn``.

    Args:
        fn: the work.
        repeat: timed calls.
        warmup: untimed calls first.
        device: device to synchronise.
        per_call: ``True`` gives one time per call (latency, a device sync after each call); ``False`` times the
            loop of ``repeat`` calls as a whole with one sync at the end (throughput: the loop itself never waits
            for the device) and returns ``repeat`` copies of the mean.

    Returns:
        The times in seconds.
    """
    _warm_up(fn, warmup, device)
    if per_call:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            sync(device)
            times.append(time.perf_counter() - start)
        return times
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync(device)
    return [(time.perf_counter() - start) / repeat] * repeat


def _to_memory_format(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    if channels_last and t.ndim == 4:
        return t.contiguous(memory_format=torch.channels_last)
    return t


def _reset_gpu_peak(device: torch.device) -> float:
    if device.type != "cuda":
        return 0.0
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device) / 2**20


def _gpu_peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    sync(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def count_case(case: Any, tier: Any) -> dict[str, Any]:
    """Parameters and FLOPs of ``case`` at ``tier``, counted on the ``meta`` device (no arithmetic).

    Returns:
        ``params`` (total / inference / training_only), ``ptflops_gmac`` (per sample, eval mode, the DS2F convention),
        ``infer_flops_per_sample`` and ``train_step_flops`` (FlopCounterMode, whole training batch, forward +
        backward), ``train_saved_gib`` (activations saved for backward, by top-level part, see
        :func:`benchmarks.flops.saved_activation_bytes`) and ``train_flops_loss_counted`` (False when the loss could
        not run on ``meta`` and a plain sum of
        the outputs stood in for it).
    """
    meta = torch.device("meta")
    with meta:
        model = case.build()
    counts: dict[str, Any] = {"params": count_parameters(model, case.training_only)}
    counts["ptflops_gmac"] = ptflops_macs(model, (case.in_channels, *tier.lr_hw)) / 1e9
    inputs = case.make_inputs(1, tier, meta, None)[0]
    counts["infer_flops_per_sample"] = flop_counter_flops(model, inputs)
    if tier.train_batch:
        counts["train_flops_loss_counted"] = True
        try:
            bundle = case.prepare(model, tier.train_batch, tier, meta, Options(device="meta"))
            counts["train_step_flops"] = train_step_flops(lambda: bundle.train_step(False))
            model.zero_grad(set_to_none=True)
            saved = saved_activation_bytes(model, lambda: bundle.train_step(False))
            counts["train_saved_gib"] = {k: v / 2**30 for k, v in saved.items()}
        except (RuntimeError, NotImplementedError, TypeError, ValueError):
            model.zero_grad(set_to_none=True)
            model.train()
            batch_inputs = case.make_inputs(tier.train_batch, tier, meta, None)[0]

            def surrogate() -> None:
                out = model(*batch_inputs)
                tensors = out.values() if isinstance(out, dict) else [out]
                sum(t.float().mean() for t in tensors if isinstance(t, torch.Tensor)).backward()

            counts["train_step_flops"] = train_step_flops(surrogate)
            counts["train_flops_loss_counted"] = False
    return counts


def run_case(case: Any, tier: Any, options: Options) -> dict[str, Any]:
    """Measure one case at one size: counts, inference latency, training step time, peak memory.

    Args:
        case: a :class:`benchmarks.cases.Case`.
        tier: the :class:`benchmarks.cases.Size` to run.
        options: run options.

    Returns:
        A JSON-serialisable dict (times in seconds, memory in MiB, FLOPs as plain numbers).
    """
    device = torch.device(options.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True if options.cudnn_benchmark is None else options.cudnn_benchmark
    torch.manual_seed(options.seed)
    result: dict[str, Any] = {
        "case": case.name,
        "bundle": case.bundle,
        "dataset": case.dataset,
        "description": case.description,
        "lr_hw": list(tier.lr_hw),
        "out_hw": list(tier.out_hw),
        "train_batch": tier.train_batch if options.train else None,
        "infer_batch": tier.infer_batch,
        "options": options.to_dict(),
        "load_before": load_average(),
    }
    result.update(count_case(case, tier))
    if not tier.timed:
        result["train_batch"] = None
        result["timed"] = False
        result["load_after"] = load_average()
        return result

    model = case.build().to(device)
    if options.channels_last:
        model = model.to(memory_format=torch.channels_last)
    timed_model = torch.compile(model) if options.compile else model
    result["rss_after_build_mib"] = current_rss_mib()

    if options.infer:
        inputs = tuple(
            _to_memory_format(t, options.channels_last)
            for t in case.make_inputs(tier.infer_batch, tier, device, options.seed)[0]
        )
        model.eval()
        grad_context = torch.inference_mode if options.inference_mode else torch.no_grad
        base_gpu = _reset_gpu_peak(device)
        rss_before = current_rss_mib()

        def infer() -> None:
            with grad_context(), autocast_context(device, options.amp):
                timed_model(*inputs)

        _warm_up(infer, options.warmup, device)
        usage = cpu_usage()
        times = time_calls(infer, options.repeat, 0, device, per_call=True)
        result["infer"] = {
            **_cpu_usage_per_call(usage, options.repeat),
            "latency_s": statistics.median(times),
            "times_s": times,
            "images_per_s": tier.infer_batch / statistics.median(times),
            "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": rss_before,
            "peak_gpu_mib": _gpu_peak(device),
            "gpu_before_mib": base_gpu if device.type == "cuda" else None,
        }
        del inputs

    if options.train and tier.train_batch:
        model.train()
        bundle = case.prepare(model, tier.train_batch, tier, device, options, timed_model=timed_model)
        base_gpu = _reset_gpu_peak(device)
        rss_before = current_rss_mib()

        def train() -> None:
            loss = bundle.train_step(True)
            if options.host_sync:
                loss.item()

        _warm_up(train, options.warmup, device)
        usage = cpu_usage()
        times = time_calls(train, options.repeat, 0, device, per_call=False)
        step_s = statistics.median(times)
        result["train"] = {
            **_cpu_usage_per_call(usage, options.repeat),
            "step_s": step_s,
            "images_per_s": tier.train_batch / step_s,
            "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": rss_before,
            "peak_gpu_mib": _gpu_peak(device),
            "gpu_before_mib": base_gpu if device.type == "cuda" else None,
            "achieved_flops": result["train_step_flops"] / step_s,
        }
    result["load_after"] = load_average()
    return result


def format_seconds(values: Sequence[float]) -> str:
    """Short text of a list of durations (for log lines)."""
    return ", ".join(f"{v:.3f}" for v in values)
