# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Quality benchmark of the DS2F bundle: U-Net+Interp vs DS2F (U-Net+Interp+SR+MSCG) on CHASE_DB1.

Both models share the backbone width, the low-resolution input and the upscale rate (x2) of
``bundles/ds2f/configs/train.json``; they differ only by the ablation file layered on top
(``configs/ablation/unet_interp.json`` vs ``configs/ablation/unet_interp_sr_mscg.json``). Each (model, seed) is trained
by the bundle itself::

    python -m monai.bundle run training --config_file "[train.json, ablation/<model>.json]" --bundle_root <run dir> ...

and evaluated on the test split at the original image resolution with ``configs/evaluate.json``; the test scores are
read from the evaluation's ``summary.json`` (pooled over all pixels, as the papers report, and the mean of per-image
scores). Wall time, CPU time of the child process and the machine load (1-minute load average sampled every 15 s)
are recorded for every command, so the timings can be judged on a shared machine.

Usage (from the repository root)::

    python benchmarks/quality_ds2f.py                                   # bundle defaults (30 epochs), seed 0
    python benchmarks/quality_ds2f.py --max-epochs 10 --seeds 0 1 2 --parallel 2 --threads 1
    python benchmarks/quality_ds2f.py --max-epochs 1 --hr-size 96 96 --runs-dir /tmp/q   # smoke test

Writes ``benchmarks/results/quality_ds2f.json`` and ``.md`` (``--output``); run folders (checkpoints, logs,
evaluation CSV/JSON/overlays) go to ``--runs-dir``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLE = "bundles/ds2f"
TRAIN_CONFIG = f"{BUNDLE}/configs/train.json"
EVAL_CONFIG = f"{BUNDLE}/configs/evaluate.json"
MODELS = {
    "unet_interp": ("U-Net+Interp", f"{BUNDLE}/configs/ablation/unet_interp.json"),
    "unet_interp_sr_mscg": ("DS2F (U-Net+Interp+SR+MSCG)", f"{BUNDLE}/configs/ablation/unet_interp_sr_mscg.json"),
}
METRICS = ("dice", "iou", "mcc", "bm")
BEST_METRIC = re.compile(r"Key metric: (\S+) best value: ([-+0-9.eE]+) at epoch: (\d+)")


class LoadSampler:
    """Sample the 1-minute load average in a background thread while a command runs."""

    def __init__(self, interval: float = 15.0) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            if hasattr(os, "getloadavg"):
                self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float | None]:
        if not self.samples:
            return {"load1_mean": None, "load1_max": None}
        return {"load1_mean": round(statistics.fmean(self.samples), 2), "load1_max": round(max(self.samples), 2)}


def display(cmd: list[str]) -> str:
    """The command as a user types it from the repository root (``python``, config lists in double quotes)."""
    words = ["python" if word == sys.executable else word for word in cmd]
    return " ".join(f'"{w}"' if w.startswith("[") and "'" in w else shlex.quote(w) for w in words)


def run_command(cmd: list[str], log_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd`` from the repository root with stdout/stderr to ``log_path``; return timings and the load.

    Raises:
        RuntimeError: when the command fails (the message names the log file).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with LoadSampler() as load, open(log_path, "w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        cpu_s = None
        if hasattr(os, "wait4"):  # the child's own CPU time, also when several runs share the machine
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu_s = round(usage.ru_utime + usage.ru_stime, 1)
        else:
            proc.wait()
        wall_s = round(time.perf_counter() - start, 1)
    if proc.returncode != 0:
        raise RuntimeError(f"command failed with exit code {proc.returncode}, see {log_path}: {display(cmd)}")
    return {"command": display(cmd), "log": str(log_path), "wall_s": wall_s, "cpu_s": cpu_s, **load.summary()}


def overrides(args: argparse.Namespace, seed: int) -> list[str]:
    """CLI overrides shared by the training and evaluation commands of one run (the network must match)."""
    extra = ["--seed", str(seed)]
    if args.max_epochs is not None:
        extra += ["--max_epochs", str(args.max_epochs)]
    if args.val_interval is not None:
        extra += ["--val_interval", str(args.val_interval)]
    if args.hr_size is not None:
        extra += ["--hr_spatial_size", json.dumps(list(args.hr_size)).replace(" ", "")]
    if args.base_channels is not None:
        extra += ["--base_channels", str(args.base_channels)]
    if args.learning_rate is not None:
        extra += ["--learning_rate", str(args.learning_rate)]
    return extra


def config_list(*files: str) -> str:
    return "[" + ",".join(f"'{f}'" for f in files) + "]"


def run_one(model: str, seed: int, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """Train and evaluate one (model, seed) through the bundle; return the scores and timings."""
    label, ablation = MODELS[model]
    run_dir = Path(args.runs_dir).resolve() / f"{model}_seed{seed}"
    common = ["--bundle_root", str(run_dir)] + overrides(args, seed)
    train_cmd = [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file"]
    train_cmd += [config_list(TRAIN_CONFIG, ablation)] + common
    eval_cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file"]
    eval_cmd += [config_list(TRAIN_CONFIG, ablation, EVAL_CONFIG)] + common
    print(f"[{model} seed {seed}] training: {display(train_cmd)}", flush=True)
    train = run_command(train_cmd, run_dir / "train.log", env)
    best = BEST_METRIC.findall((run_dir / "train.log").read_text())
    print(f"[{model} seed {seed}] evaluating ({train['wall_s']} s of training)", flush=True)
    evaluate = run_command(eval_cmd, run_dir / "evaluate.log", env)
    summary_path = run_dir / "eval" / "evaluation" / "summary.json"
    if not summary_path.is_file():
        raise RuntimeError(f"evaluation wrote no summary at {summary_path}; see {evaluate['log']}")
    summary = json.loads(summary_path.read_text())
    scores = {agg: {m: float(summary[agg][m]) for m in METRICS} for agg in ("pooled", "mean")}
    model_pt = run_dir / "models" / "model.pt"
    result = {
        "model": model,
        "label": label,
        "seed": seed,
        "run_dir": str(run_dir),
        "checkpoint": str(model_pt),
        "checkpoint_mb": round(model_pt.stat().st_size / 2**20, 2),
        "best_val": (
            {"metric": best[-1][0], "value": float(best[-1][1]), "epoch": int(best[-1][2])} if best else None
        ),
        "test": scores,
        "test_num_images": summary.get("num_images"),
        "test_pr_auc": summary.get("pr_auc"),
        "train": train,
        "evaluate": evaluate,
    }
    print(f"[{model} seed {seed}] pooled {scores['pooled']}", flush=True)
    return result


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample standard deviation over seeds of every test score, per model."""
    out: dict[str, Any] = {}
    for model in MODELS:
        rows = [r for r in results if r["model"] == model]
        if not rows:
            continue
        entry: dict[str, Any] = {"num_seeds": len(rows)}
        for agg in ("pooled", "mean"):
            for m in METRICS:
                values = [r["test"][agg][m] for r in rows]
                entry[f"{agg}_{m}"] = {
                    "mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                }
        out[model] = entry
    return out


def markdown(report: dict[str, Any]) -> str:
    cfg = report["settings"]
    lines = [
        "# DS2F quality benchmark: U-Net+Interp vs DS2F on CHASE_DB1",
        "",
        f"Generated {report['date']} by `{report['benchmark_command']}` (commit {report['commit']}).",
        "",
        f"Both models: U-Net backbone (base width {cfg['base_channels']}), x2, low-resolution input = HR "
        f"{cfg['hr_spatial_size']} bicubic-downsampled by 2, {cfg['max_epochs']} epochs, batch "
        f"{cfg['batch_size']}, SGD learning rate {cfg['learning_rate']} with poly decay, validation every "
        f"{cfg['val_interval']} epochs, embedded CHASE_DB1 split (train {cfg['split_sizes']['train']} / val "
        f"{cfg['split_sizes']['val']} / test {cfg['split_sizes']['test']}). Best checkpoint by validation IoU, "
        "scored on the test split at the original image resolution (999x960) with `configs/evaluate.json`. "
        "Pooled: one confusion matrix over all test pixels (as the papers report); mean: mean of per-image scores.",
        "",
        "| model | seed | Dice | IoU | MCC | BM | Dice (mean) | IoU (mean) | MCC (mean) | BM (mean) "
        "| best val IoU (epoch) | train wall s | train CPU s | eval wall s | load1 mean/max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        p, m, t = r["test"]["pooled"], r["test"]["mean"], r["train"]
        best = f"{r['best_val']['value']:.4f} ({r['best_val']['epoch']})" if r["best_val"] else "n/a"
        lines.append(
            f"| {r['label']} | {r['seed']} | "
            + " | ".join(f"{p[k]:.4f}" for k in METRICS)
            + " | "
            + " | ".join(f"{m[k]:.4f}" for k in METRICS)
            + f" | {best} | {t['wall_s']:.0f} | {t['cpu_s']} | {r['evaluate']['wall_s']:.0f} | "
            f"{t['load1_mean']}/{t['load1_max']} |"
        )
    if any(v["num_seeds"] > 1 for v in report["aggregate"].values()):
        lines += ["", "Pooled test scores, mean +- std over seeds:", ""]
        lines += ["| model | seeds | Dice | IoU | MCC | BM |", "|---|---|---|---|---|---|"]
        for model, v in report["aggregate"].items():
            cells = " | ".join(f"{v[f'pooled_{k}']['mean']:.4f} +- {v[f'pooled_{k}']['std']:.4f}" for k in METRICS)
            lines.append(f"| {MODELS[model][0]} | {v['num_seeds']} | {cells} |")
    machine = report["machine"]
    lines += [
        "",
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs, Python {machine['python']}, torch "
        f"{machine['torch']}, MONAI {machine['monai']}, device {machine['device']}; {cfg['parallel']} run(s) at a "
        f"time, OMP/MKL threads per run: {cfg['threads'] or 'torch default'}; total wall time "
        f"{report['total_wall_s']:.0f} s. The machine was shared with other jobs: "
        "`load1` is the 1-minute load average sampled every 15 s during training; CPU s is the training process's own "
        "user+system time, the better measure of cost on a busy machine.",
        "",
        "## Commands (from the repository root)",
        "",
    ]
    for r in report["runs"]:
        lines += [f"- {r['label']}, seed {r['seed']}:", f"  - train: `{r['train']['command']}`"]
        lines += [f"  - evaluate: `{r['evaluate']['command']}`"]
    lines.append("")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    import monai
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }


def resolved_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The values the runs use: the bundle defaults unless overridden on the command line."""
    sys.path.insert(0, str(REPO_ROOT))
    from monai.bundle import ConfigParser

    from monai_ext.data import build_datalist, embedded_dataset_dir

    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / TRAIN_CONFIG))
    dataset_dir = embedded_dataset_dir("chasedb1")
    return {
        "max_epochs": args.max_epochs if args.max_epochs is not None else parser["max_epochs"],
        "val_interval": args.val_interval if args.val_interval is not None else parser["val_interval"],
        "hr_spatial_size": list(args.hr_size) if args.hr_size is not None else parser["hr_spatial_size"],
        "base_channels": args.base_channels if args.base_channels is not None else parser["base_channels"],
        "batch_size": parser["batch_size"],
        "learning_rate": args.learning_rate if args.learning_rate is not None else parser["learning_rate"],
        "scale_factor": parser["scale_factor"],
        "seeds": list(args.seeds),
        "parallel": args.parallel,
        "threads": args.threads,
        "split_sizes": {s: len(build_datalist("chasedb1", dataset_dir, s)) for s in ("train", "val", "test")},
    }


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-epochs", type=int, default=None, help="training epochs (default: train.json's)")
    ap.add_argument("--val-interval", type=int, default=None, help="validation interval in epochs (default: config)")
    ap.add_argument("--hr-size", type=int, nargs=2, default=None, metavar=("H", "W"), help="HR training size")
    ap.add_argument("--base-channels", type=int, default=None, help="U-Net base width (default: config)")
    ap.add_argument("--learning-rate", type=float, default=None, help="initial SGD learning rate (default: config)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="one training run per model and seed")
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS), help="models to run")
    ap.add_argument("--runs-dir", default="/tmp/quality_ds2f_runs", help="parent folder of the per-run bundle_root")
    ap.add_argument("--parallel", type=int, default=1, help="number of runs at a time")
    ap.add_argument("--threads", type=int, default=None, help="OMP/MKL threads of each run (default: torch's)")
    ap.add_argument("--output", default=str(REPO_ROOT / "benchmarks/results/quality_ds2f"), help="JSON/MD stem")
    args = ap.parse_args()

    env = dict(os.environ)
    if args.threads is not None:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    report: dict[str, Any] = {
        "benchmark_command": shlex.join(["python", "benchmarks/quality_ds2f.py"] + sys.argv[1:]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine_info(),
        "settings": resolved_settings(args),
    }
    jobs = [(seed, model) for seed in args.seeds for model in args.models]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        futures = [pool.submit(run_one, model, seed, args, env) for seed, model in jobs]
        results = [f.result() for f in futures]
    report["total_wall_s"] = round(time.perf_counter() - start, 1)
    report["runs"] = results
    report["aggregate"] = aggregate(results)
    stem = Path(args.output)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    stem.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
