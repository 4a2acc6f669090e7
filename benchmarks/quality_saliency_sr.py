# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Quality benchmark of the saliency_sr bundle on the CHASE_DB1 test split at x4.

Mahapatra et al., MICCAI 2017 (arXiv:1710.04783): PSNR / SSIM (Y channel) of bicubic upsampling vs the MSE-only
generator (stage 1) vs the saliency-guided GAN (stage 2, started from stage 1), and the downstream protocol of the
journal version's Table 2: a vessel U-Net trained on HR images scores HR, SR and bicubic test images (Dice,
accuracy, sensitivity).

Everything runs through the bundle's own configs with ``python -m monai.bundle`` (one subprocess per step, logs kept
in ``<workdir>/logs``):

1. ``train.json`` run id ``training`` (the default training command): stage 1 (MSE pre-training) ->
   ``checkpoint_mse_x4_final.pt``, then stage 2 (adversarial, started from stage 1) -> ``checkpoint_gan_x4_final.pt``;
2. ``train.json`` + ``train_downstream_seg.json`` -> ``seg_model.pt``;
3. ``train.json`` + ``evaluate.json`` once per generator (MSE-only, GAN), factor 4;
4. with ``--chain``: ``train.json`` + ``train_chain.json`` (the literal chain of separately trained x2 generators,
   each with the same MSE + adversarial schedule) and ``evaluate.json`` + ``evaluate_chain.json``.

Usage::

    python benchmarks/quality_saliency_sr.py                       # the bundle's default settings (model card)
    python benchmarks/quality_saliency_sr.py --pretrain-epochs 2 --gan-epochs 1 --seg-epochs 1 --quick
    python benchmarks/quality_saliency_sr.py --chain --set learning_rate=5e-5   # chain too, extra config overrides

Writes ``benchmarks/results/quality_saliency_sr.json`` and ``.md`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = REPO_ROOT / "bundles" / "saliency_sr" / "configs"
FACTOR = 4


def _run(name: str, run_id: str, configs: list[str], args: dict, workdir: Path) -> float:
    """Run one bundle workflow in a subprocess; return its wall time in seconds."""
    args_file = workdir / f"{name}_args.json"
    args_file.write_text(json.dumps(args, indent=2))
    config_file = str([str(CONFIGS / c) for c in configs])
    command = [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", config_file]
    command += ["--args_file", str(args_file)]
    log_path = workdir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log_path.open("w") as log:
        result = subprocess.run(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = log_path.read_text().splitlines()[-20:]
        raise RuntimeError(f"step {name} failed (exit {result.returncode}); log {log_path}:\n" + "\n".join(tail))
    print(f"{name}: {seconds:.0f} s", flush=True)
    return seconds


def _table(results: dict) -> str:
    sr = results["super_resolution"]
    lines = [
        "| x4, CHASE_DB1 test (8 images) | PSNR (dB, Y) | SSIM (Y) | RMSE (Y) | sharpness (Tenengrad) |",
        "|---|---|---|---|---|",
    ]
    methods = (
        ("bicubic", "bicubic"),
        ("MSE-only generator (stage 1)", "mse"),
        ("saliency GAN (stage 2)", "gan"),
        ("chain of separately trained x2 generators", "chain"),
    )
    for name, key in methods:
        if key not in sr:
            continue
        m = sr[key]
        lines.append(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['rmse']:.4f} | {m['sharpness']:.4f} |")
    lines.append(f"| HR reference | - | - | - | {sr['hr_sharpness']:.4f} |")
    lines += ["", "| vessel U-Net (trained on HR) applied to | Dice | accuracy | sensitivity | specificity |"]
    lines.append("|---|---|---|---|---|")
    seg = results["downstream_segmentation"]
    for name, key in (
        ("HR images", "hr"),
        ("bicubic x4", "bicubic"),
        ("MSE-only SR x4", "mse"),
        ("saliency-GAN SR x4", "gan"),
        ("chain SR x4", "chain"),
    ):
        if key not in seg:
            continue
        m = seg[key]
        lines.append(
            f"| {name} | {m['dice']:.4f} | {m['accuracy']:.4f} | {m['sensitivity']:.4f} | {m['specificity']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=None, help="bundle_root of the runs (default: a temporary folder)")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="default: the bundle's pretrain_epochs")
    parser.add_argument("--gan-epochs", type=int, default=None, help="default: the bundle's max_epochs")
    parser.add_argument("--seg-epochs", type=int, default=None, help="default: the bundle's seg_max_epochs")
    parser.add_argument("--quick", action="store_true", help="tiny networks and images (smoke test of the script)")
    parser.add_argument("--chain", action="store_true", help="also train and evaluate train_chain.json")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ID=JSON",
        help="extra config override (JSON value) for every run, e.g. --set learning_rate=5e-5",
    )
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results" / "quality_saliency_sr"))
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="quality_saliency_sr_"))
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = workdir / "models"
    common: dict = {"bundle_root": str(workdir), "upscale_rate": FACTOR}
    if args.pretrain_epochs is not None:
        common["pretrain_epochs"] = args.pretrain_epochs
    if args.gan_epochs is not None:
        common["max_epochs"] = args.gan_epochs
    seg_args = {} if args.seg_epochs is None else {"seg_max_epochs": args.seg_epochs}
    if args.quick:
        common.update({"num_res_blocks": 1, "num_channels": 8, "disc_channels": 4, "seg_base_channels": 4})
        common.update({"hr_spatial_size": [64, 64], "hr_patch_size": [32, 32]})
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects ID=JSON, got {item!r}")
        common[key] = json.loads(value)
    timings = {
        "training_stage1_and_stage2": _run("training", "training", ["train.json"], common, workdir),
        "downstream_seg": _run(
            "downstream_seg",
            "training",
            ["train.json", "train_downstream_seg.json"],
            {**common, **seg_args},
            workdir,
        ),
    }
    evaluations = [("mse", "checkpoint_mse_x4_final.pt", []), ("gan", "checkpoint_gan_x4_final.pt", [])]
    if args.chain:
        chain_configs = ["train.json", "train_chain.json"]
        timings["training_chain"] = _run("training_chain", "training", chain_configs, common, workdir)
        evaluations.append(("chain", f"chain_x{FACTOR}_final.pt", ["evaluate_chain.json"]))
    summaries = {}
    for key, checkpoint, extra_configs in evaluations:
        out = workdir / f"evaluation_{key}"
        eval_args = {
            **common,
            "eval_factors": [FACTOR],
            "sr_checkpoints": {str(FACTOR): str(ckpt_dir / checkpoint)},
            "eval_output_dir": str(out),
            "require_generators": True,
            "require_segmentation": True,
        }
        configs = ["train.json", "evaluate.json", *extra_configs]
        timings[f"evaluate_{key}"] = _run(f"evaluate_{key}", "evaluating", configs, eval_args, workdir)
        summaries[key] = json.loads((out / "evaluation.json").read_text())

    x4 = f"x{FACTOR}"
    results: dict = {
        "super_resolution": {
            "bicubic": summaries["mse"]["super_resolution"][x4]["bicubic"],
            "mse": summaries["mse"]["super_resolution"][x4]["sr"],
            "gan": summaries["gan"]["super_resolution"][x4]["sr"],
            "hr_sharpness": summaries["mse"]["super_resolution"][x4]["bicubic"]["sharpness_hr"],
        },
        "downstream_segmentation": {
            "hr": summaries["mse"]["downstream_segmentation"]["hr"],
            "bicubic": summaries["mse"]["downstream_segmentation"][x4]["bicubic"],
            "mse": summaries["mse"]["downstream_segmentation"][x4]["sr"],
            "gan": summaries["gan"]["downstream_segmentation"][x4]["sr"],
        },
    }
    if "chain" in summaries:
        results["super_resolution"]["chain"] = summaries["chain"]["super_resolution"][x4]["sr"]
        results["downstream_segmentation"]["chain"] = summaries["chain"]["downstream_segmentation"][x4]["sr"]
    report = {
        "benchmark": "saliency_sr quality, CHASE_DB1 test split (8 images), x4",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {**common, **seg_args, "quick": args.quick, "chain": args.chain, "bundle_root": "<workdir>"},
        "bundle_defaults": "bundles/saliency_sr/configs/train.json and train_downstream_seg.json (+ train_chain.json), "
        "overridden by settings",
        "evaluation_settings": summaries["gan"]["settings"],
        "timings_seconds": timings,
        "total_seconds": sum(timings.values()),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "device": "cuda" if torch.cuda.is_available() else "cpu",
        },
        "results": results,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = [
        f"# {report['benchmark']}",
        "",
        f"Command: `{report['command']}`; total {report['total_seconds'] / 60:.1f} min on {os.cpu_count()} CPU cores "
        f"(load average at the end {report['environment']['load_average_at_end'][0]:.1f}).",
        "",
        _table(results),
        "",
    ]
    output.with_suffix(".md").write_text("\n".join(markdown))
    print("\n".join(markdown))


if __name__ == "__main__":
    main()
