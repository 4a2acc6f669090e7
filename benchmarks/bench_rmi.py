# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Benchmark of RMILoss forward + backward: on-device float64 Cholesky path vs the authors' host float64 path.

The released DS2F code computes the RMI covariances with ``.type(torch.DoubleTensor)``, i.e. it copies the
neighbourhood vectors to the CPU in float64 at every step, inverts with ``torch.inverse`` and takes the log-det by
Cholesky there. ``monai_ext.losses.RMILoss`` keeps everything on the input's device (one Gram matrix per class,
Cholesky solves). Both paths share the BCE term, the one-hot labels and the pooling, and must give the same value
(1e-6 relative).

Each variant runs in its own subprocess so that its peak memory is its own: peak GPU memory above the inputs
(``torch.cuda.max_memory_allocated``) on CUDA, growth of the peak resident set size (``ru_maxrss``) on CPU.

Usage::

    python benchmarks/bench_rmi.py                       # 2x2x1168x1752 on CUDA if available, else CPU
    python benchmarks/bench_rmi.py --size 2x2x584x876 --device cpu --repeats 3

Writes ``benchmarks/results/rmi.json`` (``--output``) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from monai_ext.losses import RMILoss  # noqa: E402

VARIANTS = ("monai_ext", "authors_host_float64")


class HostFloat64RMILoss(RMILoss):
    """The authors' covariance path: vectors copied to the CPU in float64, explicit inverse, result copied back."""

    def rmi_per_sample(self, labels: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        labels, probs = self._downsample(labels, probs)
        n, c, h, w = labels.shape
        r, d = self.radius, self.radius * self.radius
        hv, wv = h - r + 1, w - r + 1
        la = torch.stack([labels[..., y : y + hv, x : x + wv] for y in range(r) for x in range(r)], dim=2)
        pr = torch.stack([probs[..., y : y + hv, x : x + wv] for y in range(r) for x in range(r)], dim=2)
        la = la.reshape(n, c, d, -1).to("cpu", torch.float64)
        pr = pr.reshape(n, c, d, -1).to("cpu", torch.float64)
        la = la - la.mean(dim=3, keepdim=True)
        pr = pr - pr.mean(dim=3, keepdim=True)
        eye = torch.eye(d, dtype=torch.float64)
        la_cov, pr_cov, la_pr_cov = la @ la.transpose(2, 3), pr @ pr.transpose(2, 3), la @ pr.transpose(2, 3)
        pr_cov_inv = torch.inverse(pr_cov + self.reg * eye)
        appro_var = la_cov - la_pr_cov @ pr_cov_inv @ la_pr_cov.transpose(-2, -1)
        chol = torch.linalg.cholesky(appro_var + self.reg * eye)
        log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1) + 1e-8).sum(dim=-1)
        return ((0.5 * log_det).sum(dim=1) / d).to(probs.device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_worker(
    variant: str, size: tuple[int, int, int, int], device_name: str, repeats: int, pool_size: int, dtype: str
) -> dict:
    device = torch.device(device_name)
    n, c, h, w = size
    g = torch.Generator(device=device).manual_seed(0)
    logits = torch.randn(n, c, h, w, generator=g, device=device, dtype=getattr(torch, dtype)).requires_grad_(True)
    labels = torch.randint(0, c, (n, h, w), generator=g, device=device)
    cls = RMILoss if variant == "monai_ext" else HostFloat64RMILoss
    loss_fn = cls(num_classes=c, pool="avg", pool_size=pool_size, pool_stride=pool_size)

    def step() -> torch.Tensor:
        logits.grad = None
        loss = loss_fn(logits, labels)
        loss.backward()
        return loss.detach()

    _sync(device)
    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak so far: inputs only
    value = step()  # warm-up, also the value reported
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_bytes = torch.cuda.memory_allocated(device)
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    result = {
        "variant": variant,
        "value": float(value.double().cpu()),
        "time_s_median": statistics.median(times),
        "time_s_all": times,
        "peak_rss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before_kib) / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if device.type == "cuda":
        result["peak_gpu_mib_above_inputs"] = (torch.cuda.max_memory_allocated(device) - base_bytes) / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2x2x1168x1752", help="NxCxHxW of the logits (default 2x2x1168x1752)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, or auto (cuda when available)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pool-size", type=int, default=3, help="pool size = stride (DS2F: 3)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="dtype of the logits")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results" / "rmi.json"))
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        if len(size) != 4:
            raise ValueError
    except ValueError:
        parser.error(f"--size must look like 2x2x1168x1752 (N x C x H x W), got {args.size!r}")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"

    if args.worker:
        print(json.dumps(run_worker(args.worker, size, device, args.repeats, args.pool_size, args.dtype)))
        return

    results = {}
    for variant in VARIANTS:
        cmd = [sys.executable, __file__, "--worker", variant, "--size", args.size, "--device", device]
        cmd += ["--repeats", str(args.repeats), "--pool-size", str(args.pool_size), "--dtype", args.dtype]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"bench_rmi worker {variant!r} failed:\n{proc.stderr}")
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])

    ours, ref = results["monai_ext"], results["authors_host_float64"]
    rel_diff = abs(ours["value"] - ref["value"]) / max(abs(ref["value"]), 1e-12)
    summary = {
        "size": list(size),
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else f"{platform.machine()} CPU",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "pool_size": args.pool_size,
        "dtype": args.dtype,
        "results": results,
        "value_rel_diff": rel_diff,
        "values_match_1e-6": rel_diff <= 1e-6,
        "speedup_vs_authors": ref["time_s_median"] / ours["time_s_median"],
    }
    memory_key = "peak_gpu_mib_above_inputs" if device.startswith("cuda") else "peak_rss_growth_mib"
    print(f"RMILoss forward+backward, {args.dtype} logits {args.size}, device {device}, median of {args.repeats}")
    print(f"| variant | time (s) | {memory_key} (MiB) | value |")
    print("|---|---|---|---|")
    for name, res in results.items():
        print(f"| {name} | {res['time_s_median']:.4f} | {res[memory_key]:.1f} | {res['value']:.8f} |")
    print(f"speed-up vs authors' path: {summary['speedup_vs_authors']:.2f}x; value relative difference {rel_diff:.2e}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")
    if not summary["values_match_1e-6"]:
        sys.exit(f"values differ by {rel_diff:.2e} (> 1e-6 relative)")


if __name__ == "__main__":
    main()
