# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Quality benchmark of the SS-MAF bundle: U-Net+Interp vs SS-MAF on the embedded IDRiD hard-exudate data.

Zhang et al., "Hard Exudate Segmentation Supplemented by Super-Resolution with Multi-scale Attention Fusion Module",
BIBM 2022, Table I compares U-Net+Interp (LR input, logits bilinearly upsampled x2) with the full SS-MAF
(U-Net+Interp+SR+MAF). This script trains both through the bundle's own commands with the same settings (same
width, same LR input, x2, same schedule and number of updates), on the IDRiD training split (43 images; 11 held out
for best-checkpoint selection by foreground IoU), evaluates the best checkpoint of each on the 27 official test
images with ``configs/evaluate.json`` (exudate Dice / IoU / recall / precision / PR-AUC, dataset-pooled and
per-image, at the original 512x512 resolution), and writes ``benchmarks/results/quality_ss_maf.json`` and
``quality_ss_maf.md`` with the exact commands, wall times and machine load.

Every model is trained by ``python -m monai.bundle run training`` in a subprocess; the SS-MAF command with no extra
override is exactly the bundle's default training command (with ``--bundle_root`` pointing at a scratch folder).

Usage::

    python benchmarks/quality_ss_maf.py                        # bundle defaults (8 epochs, base 8, HR 512)
    python benchmarks/quality_ss_maf.py -- --max_epochs 4 --base_channels 16   # bundle overrides after --
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = "bundles/ss_maf/configs"
# model name -> (scratch folder name, config files layered on train.json); SS-MAF is train.json itself, so its
# training command is the bundle's default training command
MODELS = {
    "U-Net+Interp": ("unet_interp", [f"{CONFIGS}/ablation/unet_interp.json"]),
    "SS-MAF (U-Net+Interp+SR+MAF)": ("ss_maf", []),
}
METRICS = ("dice", "iou", "recall", "precision")


def _config_list(*files: str) -> str:
    return files[0] if len(files) == 1 else "[" + ",".join(f"'{f}'" for f in files) + "]"


def _run(command: list[str], log_path: Path) -> float:
    """Run ``command`` from the repository root, log its output, return its wall time in seconds.

    Raises:
        RuntimeError: when the command fails (the log file is named).
    """
    start = time.perf_counter()
    with log_path.open("w") as log:
        result = subprocess.run(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"command failed with exit code {result.returncode} (log: {log_path}): {shlex.join(command)}"
        )
    return elapsed


def _shell(command: list[str]) -> str:
    """Copy-paste form of ``command`` (python instead of the interpreter path, double quotes around config lists)."""
    words = ["python", *command[1:]]
    return " ".join(f'"{w}"' if any(c in w for c in "[]' ") else w for w in words)


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def benchmark(work_dir: Path, overrides: list[str]) -> dict:
    """Train and evaluate every model of ``MODELS``; return the results dict."""
    results = {}
    for name, (folder, extra_configs) in MODELS.items():
        root = work_dir / folder
        root.mkdir(parents=True, exist_ok=True)
        train_cmd = [
            sys.executable, "-m", "monai.bundle", "run", "training",
            "--config_file", _config_list(f"{CONFIGS}/train.json", *extra_configs),
            "--bundle_root", str(root), *overrides,
        ]
        eval_cmd = [
            sys.executable, "-m", "monai.bundle", "run", "evaluating",
            "--config_file", _config_list(f"{CONFIGS}/train.json", *extra_configs, f"{CONFIGS}/evaluate.json"),
            "--bundle_root", str(root), *overrides,
        ]
        print(f"[{name}] training ...", flush=True)
        load_before = _load_average()
        train_s = _run(train_cmd, root / "train.log")
        load_after = _load_average()
        print(f"[{name}] trained in {train_s:.0f} s; evaluating ...", flush=True)
        eval_s = _run(eval_cmd, root / "evaluate.log")
        summary = json.loads((root / "eval" / "evaluation" / "summary.json").read_text())
        metrics = json.loads((root / "eval" / "evaluation" / "test_metrics.json").read_text())
        results[name] = {
            "train_command": _shell(train_cmd),
            "evaluate_command": _shell(eval_cmd),
            "train_wall_s": round(train_s, 1),
            "evaluate_wall_s": round(eval_s, 1),
            "load_average_before_after_training": [load_before, load_after],
            "pooled": {m: summary["pooled"][m] for m in METRICS} | {"pr_auc": summary["pr_auc"]},
            "per_image_mean": {m: summary["mean"][m] for m in METRICS}
            | {"pr_auc": metrics["test_per_image_pr_auc"]},
            "num_test_images": summary["num_images"],
        }
        print(f"[{name}] pooled {results[name]['pooled']}", flush=True)
    return results


def markdown(report: dict) -> str:
    """Markdown table of the pooled and per-image scores of every model, with the commands that produced them."""
    lines = [
        "# SS-MAF quality benchmark (embedded IDRiD EX 512, official 27-image test split)",
        "",
        f"Budget: {report['budget']}. Machine: {report['machine']}.",
        "",
        "| model | pooled Dice | pooled IoU | pooled recall | pooled PR-AUC | per-image Dice | per-image IoU "
        "| per-image recall | per-image PR-AUC | train wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        p, m = r["pooled"], r["per_image_mean"]
        lines.append(
            f"| {name} | {p['dice']:.4f} | {p['iou']:.4f} | {p['recall']:.4f} | {p['pr_auc']:.4f} | {m['dice']:.4f} "
            f"| {m['iou']:.4f} | {m['recall']:.4f} | {m['pr_auc']:.4f} | {r['train_wall_s']:.0f} |"
        )
    lines += ["", f"Produced by: `{report['command']}`", "", "Commands:", ""]
    for name, r in report["results"].items():
        lines += [f"- {name}: `{r['train_command']}` then `{r['evaluate_command']}`"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "overrides", nargs=argparse.REMAINDER,
        help="bundle overrides after '--', passed to both trainings and evaluations, e.g. -- --max_epochs 4",
    )
    parser.add_argument("--work_dir", default=None, help="scratch folder for checkpoints and logs (default: temp)")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results" / "quality_ss_maf.json"))
    args = parser.parse_args()
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="quality_ss_maf_"))
    overrides = args.overrides[1:] if args.overrides[:1] == ["--"] else args.overrides
    start = time.perf_counter()
    results = benchmark(work_dir, overrides)
    total = time.perf_counter() - start
    report = {
        "command": _shell([sys.executable, "benchmarks/quality_ss_maf.py", *sys.argv[1:]]),
        "budget": f"bundle defaults{' with ' + ' '.join(overrides) if overrides else ''}; "
        f"{total / 60:.1f} min wall in total for both trainings and evaluations",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, load average at the end {_load_average()}",
        "overrides": overrides,
        "total_wall_s": round(total, 1),
        "results": results,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
