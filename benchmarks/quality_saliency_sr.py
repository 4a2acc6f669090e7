# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Seeded quality benchmark of the saliency_sr bundle on the CHASE_DB1 test split.

Mahapatra et al., MICCAI 2017 (arXiv:1710.04783): PSNR / SSIM (Y channel, whole image and inside the field of view)
and FOV sharpness of bicubic upsampling vs the MSE-only generator (stage 1) vs the saliency-guided GAN (stage 2,
started from stage 1) vs the literal chain of separately trained x2 generators, and the downstream protocol of the
journal version's Table 2: a vessel U-Net trained on HR images segments HR, SR and bicubic test images (pooled Dice).

Everything runs through the bundle's own configs with ``python -m monai.bundle`` (one subprocess per step, logs kept
in ``<workdir>/logs``), for every factor and seed (``--seed`` is the bundle's ``seed``):

1. ``train.json`` run id ``training`` (the default training command, ``--scale_factor r --seed s``): stage 1 ->
   ``checkpoint_mse_x<r>_final.pt``, stage 2 -> ``checkpoint_gan_x<r>_final.pt``;
2. with ``--chain``: ``train.json`` + ``train_chain.json`` (each x2 stage with the same MSE + adversarial schedule);
   at x2 the chain is one x2 generator trained by the same schedule as the GAN row, so it is not trained again;
3. ``train.json`` + ``evaluate.json`` (+ ``evaluate_chain.json``) on the test split for every generator, and with
   ``--val`` for the stage-2 generator on the validation split too.

The downstream U-Net (``train_downstream_seg.json``, seed 0) is trained once per benchmark run, or taken from
``--seg-checkpoint`` (e.g. the shipped ``bundles/saliency_sr/models/seg_model.pt``); it does not depend on the SR
seed. Bicubic rows are deterministic (no seed).

Usage::

    python benchmarks/quality_saliency_sr.py --factors 4 --seeds 0 1 2 --chain --chain-seeds 0 \
        --pretrain-epochs 100 --gan-epochs 5 --seg-checkpoint bundles/saliency_sr/models/seg_model.pt  # the card
    python benchmarks/quality_saliency_sr.py --factors 2 4 8 --seeds 0 1 2 --chain --pretrain-epochs 150
    python benchmarks/quality_saliency_sr.py --factors 4 --seeds 0 --pretrain-epochs 2 --gan-epochs 1 --quick

Writes ``benchmarks/results/quality_saliency_sr.json`` and ``.md`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import math
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
SR_KEYS = ("psnr", "ssim", "psnr_fov", "ssim_fov", "sharpness_fov")
METHODS = (
    ("bicubic", "bicubic"),
    ("MSE generator (stage 1)", "mse"),
    ("saliency GAN (stage 2)", "gan"),
    ("chain of x2 generators", "chain"),
)


def _run(name: str, run_id: str, configs: list[str], args: dict, workdir: Path) -> float:
    """Run one bundle workflow in a subprocess; return its wall time in seconds."""
    args_file = workdir / "args" / f"{name}.json"
    args_file.parent.mkdir(parents=True, exist_ok=True)
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


def _stats(values: list[float]) -> dict:
    finite = [v for v in values if v is not None]
    if not finite:
        return {"mean": None, "std": None, "values": values}
    mean = sum(finite) / len(finite)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) if len(finite) > 1 else 0.0
    return {"mean": mean, "std": std, "values": values}


def _fmt(entry: dict, digits: int) -> str:
    if entry["mean"] is None:
        return "-"
    if len(entry["values"]) == 1 or entry["std"] == 0.0:
        return f"{entry['mean']:.{digits}f}"
    return f"{entry['mean']:.{digits}f} +- {entry['std']:.{digits}f}"


def _table(results: dict) -> str:
    lines = [
        "| factor | method | PSNR (dB) | SSIM | PSNR FOV (dB) | SSIM FOV | sharpness FOV / HR | vessel Dice |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for factor, rows in results["factors"].items():
        for name, key in METHODS:
            if key not in rows:
                continue
            m = rows[key]
            cells = [_fmt(m[k], d) for k, d in (("psnr", 2), ("ssim", 4), ("psnr_fov", 2), ("ssim_fov", 4))]
            cells += [_fmt(m["sharpness_ratio"], 3), _fmt(m["dice"], 4)]
            lines.append(f"| {factor} | {name} | " + " | ".join(cells) + " |")
        lines.append(f"| {factor} | HR | - | - | - | - | 1 | {rows['hr']['dice']['mean']:.4f} |")
    return "\n".join(lines)


def _per_seed(results: dict) -> str:
    lines = ["| factor | method | seed | PSNR | SSIM | PSNR FOV | SSIM FOV | sharpness ratio | Dice | val PSNR FOV |"]
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for factor, rows in results["factors"].items():
        for _, key in METHODS[1:]:
            if key not in rows:
                continue
            m = rows[key]
            for i, seed in enumerate(m.get("seeds", results["seeds"])):
                val = rows["gan_val_psnr_fov"]["values"][i] if key == "gan" and "gan_val_psnr_fov" in rows else None
                cells = [m[k]["values"][i] for k in ("psnr", "ssim", "psnr_fov", "ssim_fov", "sharpness_ratio", "dice")]
                text = [f"{c:.4f}" if c is not None else "-" for c in cells]
                val_text = f"{val:.2f}" if key == "gan" and val is not None else ""
                lines.append(f"| {factor} | {key} | {seed} | " + " | ".join(text) + f" | {val_text} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=None, help="folder of the runs (default: a temporary folder)")
    parser.add_argument("--factors", type=int, nargs="+", default=[4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="default: the bundle's pretrain_epochs")
    parser.add_argument("--gan-epochs", type=int, default=None, help="default: the bundle's max_epochs")
    parser.add_argument("--seg-epochs", type=int, default=None, help="default: the bundle's seg_max_epochs")
    parser.add_argument("--seg-checkpoint", default=None, help="a trained downstream U-Net (skips its training)")
    parser.add_argument("--quick", action="store_true", help="tiny networks and images (smoke test of the script)")
    parser.add_argument("--chain", action="store_true", help="also train and evaluate train_chain.json")
    parser.add_argument(
        "--reuse", action="store_true", help="skip the steps whose outputs exist in --workdir (restart a broken run)"
    )
    parser.add_argument("--val", action="store_true", help="also score the stage-2 generators on the val split")
    parser.add_argument("--chain-seeds", type=int, nargs="+", default=None, help="seeds of the chain (default: all)")
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
    common: dict = {}
    if args.pretrain_epochs is not None:
        common["pretrain_epochs"] = args.pretrain_epochs
    if args.gan_epochs is not None:
        common["max_epochs"] = args.gan_epochs
    if args.quick:
        common.update({"num_res_blocks": 1, "features": 8, "disc_channels": 4, "seg_base_channels": 4})
        common.update({"hr_spatial_size": [64, 64], "hr_patch_size": [32, 32]})
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects ID=JSON, got {item!r}")
        common[key] = json.loads(value)
    timings: dict[str, float] = {}

    seg_checkpoint = args.seg_checkpoint
    if seg_checkpoint is None and args.reuse and (workdir / "seg" / "models" / "seg_model.pt").is_file():
        seg_checkpoint = str(workdir / "seg" / "models" / "seg_model.pt")
    if seg_checkpoint is None:
        seg_root = workdir / "seg"
        seg_args = {**common, "bundle_root": str(seg_root), "seed": 0}
        if args.seg_epochs is not None:
            seg_args["seg_max_epochs"] = args.seg_epochs
        timings["downstream_seg"] = _run(
            "downstream_seg", "training", ["train.json", "train_downstream_seg.json"], seg_args, workdir
        )
        seg_checkpoint = str(seg_root / "models" / "seg_model.pt")

    summaries: dict[tuple[int, int, str], dict] = {}
    for factor in args.factors:
        for seed in args.seeds:
            tag = f"x{factor}_seed{seed}"
            root = workdir / tag
            run_args = {**common, "bundle_root": str(root), "scale_factor": factor, "seed": seed}
            if not (args.reuse and (root / "models" / f"checkpoint_gan_x{factor}_final.pt").is_file()):
                timings[f"training_{tag}"] = _run(f"training_{tag}", "training", ["train.json"], run_args, workdir)
            evaluations = [
                ("mse", f"checkpoint_mse_x{factor}_final.pt", [], "test"),
                ("gan", f"checkpoint_gan_x{factor}_final.pt", [], "test"),
            ]
            if args.val:
                evaluations.append(("gan_val", f"checkpoint_gan_x{factor}_final.pt", [], "val"))
            chain_seeds = args.seeds if args.chain_seeds is None else args.chain_seeds
            if args.chain and factor > 2 and seed in chain_seeds:
                chain_configs = ["train.json", "train_chain.json"]
                if not (args.reuse and (root / "models" / f"chain_x{factor}_final.pt").is_file()):
                    timings[f"training_chain_{tag}"] = _run(
                        f"training_chain_{tag}", "training", chain_configs, run_args, workdir
                    )
                evaluations.append(("chain", f"chain_x{factor}_final.pt", ["evaluate_chain.json"], "test"))
            for key, checkpoint, extra_configs, split in evaluations:
                out = root / f"evaluation_{key}"
                eval_args = {
                    **run_args,
                    "eval_factors": [factor],
                    "eval_split": split,
                    "sr_checkpoints": {str(factor): str(root / "models" / checkpoint)},
                    "seg_checkpoint": seg_checkpoint,
                    "eval_output_dir": str(out),
                    "require_generators": True,
                    "require_segmentation": split == "test",
                }
                configs = ["train.json", "evaluate.json", *extra_configs]
                name = f"evaluate_{key}_{tag}"
                if not (args.reuse and (out / "summary.json").is_file()):
                    timings[name] = _run(name, "evaluating", configs, eval_args, workdir)
                summaries[(factor, seed, key)] = json.loads((out / "summary.json").read_text())

    results: dict = {"seeds": args.seeds, "factors": {}}
    for factor in args.factors:
        x = f"x{factor}"
        rows: dict = {}
        first = summaries[(factor, args.seeds[0], "mse")]
        methods = ["mse", "gan"]
        bicubic = first["super_resolution"][x]["bicubic"]
        hr_sharp = bicubic["sharpness_fov_hr"]
        rows["bicubic"] = {k: _stats([bicubic[k]]) for k in SR_KEYS}
        rows["bicubic"]["sharpness_ratio"] = _stats([bicubic["sharpness_fov"] / hr_sharp])
        rows["bicubic"]["dice"] = _stats([first["downstream_segmentation"][x]["bicubic"]["dice"]])
        rows["hr"] = {"dice": _stats([first["downstream_segmentation"]["hr"]["dice"]]), "sharpness_fov": hr_sharp}
        for method in methods:
            per_seed = [summaries[(factor, s, method)] for s in args.seeds]
            sr = [p["super_resolution"][x]["sr"] for p in per_seed]
            rows[method] = {k: _stats([v[k] for v in sr]) for k in SR_KEYS}
            rows[method]["sharpness_ratio"] = _stats([v["sharpness_fov"] / hr_sharp for v in sr])
            rows[method]["dice"] = _stats([p["downstream_segmentation"][x]["sr"]["dice"] for p in per_seed])
        chain_seeds = [s for s in args.seeds if (factor, s, "chain") in summaries]
        if chain_seeds:
            per_seed = [summaries[(factor, s, "chain")] for s in chain_seeds]
            sr = [p["super_resolution"][x]["sr"] for p in per_seed]
            rows["chain"] = {k: _stats([v[k] for v in sr]) for k in SR_KEYS}
            rows["chain"]["sharpness_ratio"] = _stats([v["sharpness_fov"] / hr_sharp for v in sr])
            rows["chain"]["dice"] = _stats([p["downstream_segmentation"][x]["sr"]["dice"] for p in per_seed])
            rows["chain"]["seeds"] = chain_seeds
        if args.val:
            val = [summaries[(factor, s, "gan_val")]["super_resolution"][x] for s in args.seeds]
            rows["gan_val_psnr_fov"] = _stats([v["sr"]["psnr_fov"] for v in val])
            rows["gan_val_psnr_fov_bicubic"] = val[0]["bicubic"]["psnr_fov"]
        results["factors"][x] = rows

    report = {
        "benchmark": "saliency_sr quality, CHASE_DB1 test split (8 images), "
        + ", ".join(f"x{f}" for f in args.factors)
        + f", seeds {args.seeds}",
        "command": " ".join(["python", "benchmarks/quality_saliency_sr.py", *sys.argv[1:]]),
        "settings": {**common, "quick": args.quick, "chain": args.chain},
        "bundle_defaults": "bundles/saliency_sr/configs/train.json and train_downstream_seg.json (+ train_chain.json), "
        "overridden by settings",
        "seg_checkpoint": "trained by this run (seed 0)" if args.seg_checkpoint is None else args.seg_checkpoint,
        "evaluation_settings": summaries[(args.factors[0], args.seeds[0], "gan")]["settings"],
        "timings_seconds": timings,
        "total_seconds": sum(timings.values()),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
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
        f"(OMP_NUM_THREADS={report['environment']['omp_num_threads']}, load average at the end "
        f"{report['environment']['load_average_at_end'][0]:.1f}).",
        "",
        "Mean +- sample std over the seeds (bicubic and HR: deterministic). PSNR / SSIM on the BT.601 Y channel, "
        "border of r pixels cropped; FOV = HR channel mean > 20/255; sharpness = Tenengrad gradient energy inside "
        "the FOV divided by the HR image's; Dice: vessel U-Net trained on HR, pooled over the 8 test images.",
        "",
        _table(results),
        "",
        "Per seed (test split; the last column, with `--val`, is the stage-2 generator's FOV PSNR on the validation "
        "split):",
        "",
        _per_seed(results),
        "",
    ]
    output.with_suffix(".md").write_text("\n".join(markdown))
    print("\n".join(markdown))


if __name__ == "__main__":
    main()
