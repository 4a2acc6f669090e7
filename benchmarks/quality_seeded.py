# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Seeded comparison of the ablation arms of DS2F or SS-MAF, each at its own learning rate chosen on validation.

Arms (the papers' ablation rows plus the SuperVessel baseline), all with the same backbone width, low-resolution input,
x2 rate, schedule and number of SGD steps; they differ only by the ablation file layered on ``train.json``:

* ``unet_interp``: U-Net+Interp (LR input, logits bilinearly upsampled x2; no SR stream),
* ``unet_interp_sr``: U-Net+Interp+SR (dual stream, no fusion module),
* ``ds2f`` / ``ss_maf``: U-Net+Interp+SR+MSCG (DS2F) or +MAF (SS-MAF), the bundle's default network,
* ``supervessel_fim``: SuperVessel's FIM on the two streams' outputs instead of a feature-level module.

Protocol (no decision looks at the test split):

1. **Sweep**: every arm is trained once (seed ``--sweep-seed``) at every learning rate of ``--lrs`` with the same
   budget. Each training validates every ``val_interval`` epochs and keeps its best checkpoint by validation IoU.
2. **Selection**: each arm's learning rate is the one with the highest best validation IoU (read from the training
   log, ``Key metric: val_iou best value``); ties go to the smaller learning rate.
3. **Seeds**: every arm is trained with every seed of ``--seeds`` at its chosen learning rate (the sweep run of the
   sweep seed is reused) and its best checkpoint is evaluated on the test split with ``configs/evaluate.json``
   (original image resolution, pooled Dice / IoU / MCC / BM / recall / PR-AUC from ``summary.json``'s ``headline``).

Every run is the bundle's own command in a subprocess, from the repository root::

    python -m monai.bundle run training --config_file "['bundles/<b>/configs/train.json','<ablation>.json']" \\
        --bundle_root <runs-dir>/<arm>_lr<lr>_seed<seed> --seed <seed> --learning_rate <lr> <bundle overrides>
    python -m monai.bundle run --config_file "[train.json, <ablation>.json, evaluate.json]" <same overrides>

Wall time, the child's CPU time (user+system, from ``wait4``) and the machine's 1-minute load average (sampled every
15 s) are recorded for every command. The benchmark is resumable: a training whose final checkpoint and log exist and
an evaluation whose ``summary.json`` exists are not rerun (their recorded timings are kept in ``run.json`` of the run
folder), so an interrupted benchmark continues where it stopped with the same command. Results are rewritten after
every run, so partial tables are usable.

Usage (from the repository root; bundle overrides after ``--``)::

    nice -n 10 python benchmarks/quality_seeded.py --bundle ds2f --lrs 0.01 0.02 0.05 --seeds 0 1 2 \\
        -- --max_epochs 10 --val_interval 2 --train_hr_spatial_size "[240,248]"
    nice -n 10 python benchmarks/quality_seeded.py --bundle ss_maf -- --max_epochs 4 --val_interval 1

Writes ``benchmarks/results/quality_<bundle>_seeded.json`` and ``.md`` (``--output``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.quality_ds2f import BEST_METRIC, LoadSampler, display  # noqa: E402  (shared with the one-seed table)

#: per bundle: arm -> (label, ablation config relative to the bundle's configs folder)
ARMS: dict[str, dict[str, tuple[str, str]]] = {
    "ds2f": {
        "unet_interp": ("U-Net+Interp", "ablation/unet_interp.json"),
        "unet_interp_sr": ("U-Net+Interp+SR", "ablation/unet_interp_sr.json"),
        "ds2f": ("DS2F (U-Net+Interp+SR+MSCG)", "ablation/unet_interp_sr_mscg.json"),
        "supervessel_fim": ("SuperVessel (U-Net+Interp+SR+FIM)", "ablation/unet_supervessel_fim.json"),
    },
    "ss_maf": {
        "unet_interp": ("U-Net+Interp", "ablation/unet_interp.json"),
        "unet_interp_sr": ("U-Net+Interp+SR", "ablation/unet_interp_sr.json"),
        "ss_maf": ("SS-MAF (U-Net+Interp+SR+MAF)", "ablation/unet_interp_sr_maf.json"),
        "supervessel_fim": ("SuperVessel (U-Net+Interp+SR+FIM)", "ablation/unet_supervessel_fim.json"),
    },
}
DATASETS = {"ds2f": "chasedb1", "ss_maf": "idrid_ex_512"}
METRICS = {"ds2f": ("dice", "iou", "mcc", "bm", "pr_auc"), "ss_maf": ("dice", "iou", "mcc", "bm", "recall", "pr_auc")}
HEADERS = {"dice": "Dice", "iou": "IoU", "mcc": "MCC", "bm": "BM", "recall": "recall", "pr_auc": "PR-AUC"}
def run_command(cmd: list[str], log_path: Path, env: dict[str, str], niceness: int) -> dict[str, Any]:
    """Run ``cmd`` from the repository root with its output to ``log_path``; return wall/CPU time and the load.

    Raises:
        RuntimeError: when the command fails (the message names the log file).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    preexec = (lambda: os.nice(niceness)) if niceness else None
    with LoadSampler() as load, open(log_path, "w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec)
        cpu_s = None
        if hasattr(os, "wait4"):  # the child's own CPU time, meaningful also on a shared machine
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu_s = round(usage.ru_utime + usage.ru_stime, 1)
        else:
            proc.wait()
        wall_s = round(time.perf_counter() - start, 1)
    if proc.returncode != 0:
        raise RuntimeError(f"command failed with exit code {proc.returncode}, see {log_path}: {display(cmd)}")
    return {"command": display(cmd), "log": str(log_path), "wall_s": wall_s, "cpu_s": cpu_s, **load.summary()}


def config_list(*files: str) -> str:
    return "[" + ",".join(f"'{f}'" for f in files) + "]"


def best_validation(log_text: str) -> dict[str, Any] | None:
    """The last ``Key metric ... best value ... at epoch`` line of a training log, or None when it validated never."""
    found = BEST_METRIC.findall(log_text)
    if not found:
        return None
    name, value, epoch = found[-1]
    return {"metric": name, "value": float(value), "epoch": int(epoch)}


def lr_tag(lr: float) -> str:
    return f"{lr:g}"


class Runner:
    """Trains and evaluates (arm, lr, seed) runs of one bundle, skipping what a previous invocation finished."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.bundle = args.bundle
        self.configs = f"bundles/{args.bundle}/configs"
        self.runs_dir = Path(args.runs_dir or f"/tmp/quality_{args.bundle}_seeded_runs").resolve()
        self.overrides = list(args.overrides)
        self.niceness = args.nice
        self.report_only = args.report_only
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), self.env.get("PYTHONPATH")]))
        if args.threads is not None:
            self.env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))

    def run_dir(self, arm: str, lr: float, seed: int) -> Path:
        return self.runs_dir / f"{arm}_lr{lr_tag(lr)}_seed{seed}"

    def commands(self, arm: str, lr: float, seed: int) -> tuple[list[str], list[str]]:
        ablation = f"{self.configs}/{ARMS[self.bundle][arm][1]}"
        train_json, eval_json = f"{self.configs}/train.json", f"{self.configs}/evaluate.json"
        common = ["--bundle_root", str(self.run_dir(arm, lr, seed)), "--seed", str(seed)]
        common += ["--learning_rate", lr_tag(lr), *self.overrides]
        train = [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file"]
        train += [config_list(train_json, ablation), *common]
        evaluate = [sys.executable, "-m", "monai.bundle", "run", "--config_file"]
        evaluate += [config_list(train_json, ablation, eval_json), *common]
        return train, evaluate

    def _record(self, run_dir: Path) -> dict[str, Any]:
        path = run_dir / "run.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _save(self, run_dir: Path, record: dict[str, Any]) -> None:
        (run_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")

    def train(self, arm: str, lr: float, seed: int) -> dict[str, Any] | None:
        """Train one run unless a finished one is on disk; return its record (timings, best validation).

        With ``--report-only``, a run not finished on disk is not started and None is returned.
        """
        run_dir = self.run_dir(arm, lr, seed)
        record = self._record(run_dir)
        log = run_dir / "train.log"
        finished = (run_dir / "models" / "checkpoint_final.pt").is_file() and log.is_file()
        if not (finished and "train" in record):
            if self.report_only:
                return None
            cmd, _ = self.commands(arm, lr, seed)
            print(f"[{arm} lr {lr_tag(lr)} seed {seed}] training: {display(cmd)}", flush=True)
            record = {"arm": arm, "label": ARMS[self.bundle][arm][0], "learning_rate": lr, "seed": seed}
            record["run_dir"] = str(run_dir)
            record["train"] = run_command(cmd, log, self.env, self.niceness)
        record["best_val"] = best_validation(log.read_text())
        self._save(run_dir, record)
        print(f"[{arm} lr {lr_tag(lr)} seed {seed}] best val {record['best_val']}", flush=True)
        return record

    def evaluate(self, arm: str, lr: float, seed: int) -> dict[str, Any]:
        """Evaluate the best checkpoint of a trained run on the test split unless its summary exists."""
        run_dir = self.run_dir(arm, lr, seed)
        record = self._record(run_dir)
        summary_path = run_dir / "eval" / "evaluation" / "summary.json"
        if not (summary_path.is_file() and "evaluate" in record):
            if self.report_only:
                return record
            _, cmd = self.commands(arm, lr, seed)
            print(f"[{arm} lr {lr_tag(lr)} seed {seed}] evaluating", flush=True)
            record["evaluate"] = run_command(cmd, run_dir / "evaluate.log", self.env, self.niceness)
        if not summary_path.is_file():
            raise RuntimeError(f"evaluation wrote no summary at {summary_path}; see {run_dir / 'evaluate.log'}")
        summary = json.loads(summary_path.read_text())
        pooled = dict(summary["pooled"])
        if "pr_auc" in summary:
            pooled["pr_auc"] = summary["pr_auc"]
        headline = summary.get("headline", pooled)
        record["test"] = {m: float(headline.get(m, pooled.get(m, float("nan")))) for m in METRICS[self.bundle]}
        record["test_mean_per_image"] = {m: float(v) for m, v in summary["mean"].items() if m in METRICS[self.bundle]}
        record["test_num_images"] = summary.get("num_images")
        self._save(run_dir, record)
        print(f"[{arm} lr {lr_tag(lr)} seed {seed}] test {record['test']}", flush=True)
        return record


def select_lr(sweep: list[dict[str, Any]]) -> float:
    """The learning rate of the sweep run with the best validation score; ties (and never-validated) go low."""

    def key(r: dict[str, Any]) -> tuple[float, float]:
        value = r["best_val"]["value"] if r.get("best_val") else float("-inf")
        return (value, -r["learning_rate"])

    return max(sweep, key=key)["learning_rate"]


def mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def aggregate(bundle: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arm in ARMS[bundle]:
        rows = [r for r in runs if r["arm"] == arm and "test" in r]
        if rows:
            out[arm] = {"num_seeds": len(rows), "seeds": [r["seed"] for r in rows]}
            out[arm].update({m: mean_std([r["test"][m] for r in rows]) for m in METRICS[bundle]})
    return out


def budget(bundle: str, overrides: list[str]) -> dict[str, Any]:
    """The schedule the runs use: ``train.json``'s values with the command-line overrides applied."""
    from monai.bundle import ConfigParser

    from monai_ext.data import build_datalist, embedded_dataset_dir

    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / f"bundles/{bundle}/configs/train.json"))
    values = {k: parser[k] for k in ("max_epochs", "val_interval", "batch_size", "base_channels", "hr_spatial_size")}
    values["train_hr_spatial_size"] = parser.get_parsed_content("train_hr_spatial_size")
    for flag, value in zip(overrides[::2], overrides[1::2]):
        key = flag.lstrip("-")
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    dataset = DATASETS[bundle]
    sizes = {s: len(build_datalist(dataset, embedded_dataset_dir(dataset), s)) for s in ("train", "val", "test")}
    per_epoch = -(-sizes["train"] // int(values["batch_size"]))
    values.update(dataset=dataset, split_sizes=sizes, iterations=per_epoch * int(values["max_epochs"]))
    return values


def fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    bundle, cfg = report["bundle"], report["budget"]
    metrics = METRICS[bundle]
    arms = ARMS[bundle]
    lines = [
        f"# Seeded comparison of the {bundle} ablation arms ({cfg['dataset']})",
        "",
        f"Generated {report['date']} by `{report['benchmark_command']}` (commit {report['commit']}).",
        "",
        f"Budget (same for every arm and learning rate): {cfg['max_epochs']} epochs x "
        f"{cfg['iterations'] // max(1, int(cfg['max_epochs']))} iterations = {cfg['iterations']} SGD steps, batch "
        f"{cfg['batch_size']}, base width {cfg['base_channels']}, HR {cfg['hr_spatial_size']} with training crops "
        f"{cfg['train_hr_spatial_size']}, validation every {cfg['val_interval']} epochs; split train "
        f"{cfg['split_sizes']['train']} / val {cfg['split_sizes']['val']} / test {cfg['split_sizes']['test']}. "
        f"Bundle overrides: `{' '.join(report['overrides']) or 'none'}`.",
        "",
        *([report["note"], ""] if report.get("note") else []),
        "Status: {trainings_done} of {trainings_planned} trainings and {test_evaluations_done} of "
        "{test_evaluations_planned} test evaluations done; rerun the command to continue (finished runs are kept)."
        .format(**report["status"]),
        "",
        "## Learning-rate sweep (seed " + str(report["sweep_seed"]) + "; selection by best validation IoU)",
        "",
        "Cells: best validation IoU (pooled over the validation images at HR) and its epoch; '-': not run yet.",
        "",
        "| arm | " + " | ".join(f"lr {lr_tag(lr)}" for lr in report["lrs"]) + " | chosen lr |",
        "|---|" + "---|" * (len(report["lrs"]) + 1),
    ]
    for arm, (label, _) in arms.items():
        cells = []
        for lr in report["lrs"]:
            r = next((s for s in report["sweep"] if s["arm"] == arm and s["learning_rate"] == lr), None)
            if r is None:
                cells.append("-")
            elif r.get("best_val"):
                cells.append(f"{r['best_val']['value']:.4f} (ep {r['best_val']['epoch']})")
            else:
                cells.append("no validation")
        chosen = report["chosen_lr"].get(arm)
        values = {r["best_val"]["value"] if r.get("best_val") else None for r in report["sweep"] if r["arm"] == arm}
        tie = " (tie)" if chosen and len(values) == 1 else ""
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {lr_tag(chosen) + tie if chosen else '-'} |")
    lines += [
        "",
        "## Test split, per seed (best checkpoint by validation IoU; original resolution; pooled over all pixels)",
        "",
        "| arm | lr | seed | " + " | ".join(HEADERS[m] for m in metrics)
        + " | best val IoU (epoch) | train wall s | train CPU s | load1 mean/max |",
        "|---|---|---|" + "---|" * (len(metrics) + 4),
    ]
    for r in report["runs"]:
        if "test" not in r:
            continue
        t = r["train"]
        best = f"{r['best_val']['value']:.4f} ({r['best_val']['epoch']})" if r.get("best_val") else "n/a"
        lines.append(
            f"| {r['label']} | {lr_tag(r['learning_rate'])} | {r['seed']} | "
            + " | ".join(fmt(r["test"][m]) for m in metrics)
            + f" | {best} | {t['wall_s']:.0f} | {t['cpu_s']} | {t['load1_mean']}/{t['load1_max']} |"
        )
    lines += [
        "",
        "## Test split, mean +- sample std over seeds",
        "",
        "| arm | lr | seeds | " + " | ".join(HEADERS[m] for m in metrics)
        + " |",
        "|---|---|---|" + "---|" * len(metrics),
    ]
    for arm, v in report["aggregate"].items():
        lines.append(
            f"| {arms[arm][0]} | {lr_tag(report['chosen_lr'][arm])} | {v['num_seeds']} | "
            + " | ".join(f"{v[m]['mean']:.4f} +- {v[m]['std']:.4f}" for m in metrics)
            + " |"
        )
    machine = report["machine"]
    total_train = sum(r["train"]["wall_s"] for r in report["all_runs"] if "train" in r)
    total_cpu = sum(r["train"]["cpu_s"] or 0 for r in report["all_runs"] if "train" in r)
    total_eval = sum(r["evaluate"]["wall_s"] for r in report["all_runs"] if "evaluate" in r)
    lines += [
        "",
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs, Python {machine['python']}, torch "
        f"{machine['torch']}, MONAI {machine['monai']}, device {machine['device']}; one run at a time, "
        f"OMP/MKL threads per run: {report['threads'] or 'torch default'}, niceness +{report['nice']}. "
        f"Sum over all runs: training {total_train:.0f} s wall / {total_cpu:.0f} s CPU, evaluation "
        f"{total_eval:.0f} s wall. The machine was shared: `load1` is the 1-minute load average sampled every 15 s "
        "during training; the CPU seconds (user+system of the training process) measure the cost independently of "
        "the load.",
        "",
        "## Commands (from the repository root)",
        "",
    ]
    for r in report["all_runs"]:
        if "train" not in r:
            continue
        lines.append(f"- {r['label']}, lr {lr_tag(r['learning_rate'])}, seed {r['seed']}:")
        lines.append(f"  - train: `{r['train']['command']}`")
        if "evaluate" in r:
            lines.append(f"  - evaluate: `{r['evaluate']['command']}`")
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


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", choices=sorted(ARMS), required=True)
    ap.add_argument("--arms", nargs="+", default=None, help="arms to run (default: all of the bundle)")
    ap.add_argument("--lrs", type=float, nargs="+", default=[0.01, 0.02, 0.05], help="learning-rate sweep")
    ap.add_argument("--sweep-seed", type=int, default=0, help="seed of the learning-rate sweep")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds at each arm's chosen lr")
    ap.add_argument("--runs-dir", default=None, help="parent of the per-run bundle_root (default /tmp/quality_*)")
    ap.add_argument("--threads", type=int, default=1, help="OMP/MKL threads of each run (0: torch's default)")
    ap.add_argument("--nice", type=int, default=10, help="niceness added to every run (0: none)")
    ap.add_argument("--output", default=None, help="JSON/MD stem (default benchmarks/results/quality_<b>_seeded)")
    ap.add_argument(
        "--report-only", action="store_true", help="start no run; rewrite the tables from the finished runs on disk"
    )
    ap.add_argument("--note", default="", help="free text written under the budget line of the markdown")
    ap.add_argument("overrides", nargs=argparse.REMAINDER, help="bundle overrides after '--', for every run")
    args = ap.parse_args()
    args.overrides = args.overrides[1:] if args.overrides[:1] == ["--"] else args.overrides
    if any(o in ("--seed", "--learning_rate", "--bundle_root") for o in args.overrides[::2]):
        ap.error("--seed, --learning_rate and --bundle_root are set per run by the benchmark")
    args.threads = args.threads or None
    arms = args.arms or list(ARMS[args.bundle])
    unknown = sorted(set(arms) - set(ARMS[args.bundle]))
    if unknown:
        ap.error(f"unknown arms for {args.bundle}: {unknown}; choose from {list(ARMS[args.bundle])}")
    runner = Runner(args)
    stem = Path(args.output or REPO_ROOT / f"benchmarks/results/quality_{args.bundle}_seeded")
    stem.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "bundle": args.bundle,
        "benchmark_command": shlex.join(
            ["python", "benchmarks/quality_seeded.py"] + [a for a in sys.argv[1:] if a != "--report-only"]
        ),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine_info(),
        "budget": budget(args.bundle, args.overrides),
        "overrides": args.overrides,
        "note": args.note,
        "threads": args.threads,
        "nice": args.nice,
        "lrs": list(args.lrs),
        "sweep_seed": args.sweep_seed,
        "seeds": list(args.seeds),
        "selection": "per arm, the learning rate with the highest best validation IoU of the sweep-seed run "
        "(ties to the smaller lr); the test split is never used for a choice",
        "sweep": [],
        "chosen_lr": {},
        "runs": [],
        "all_runs": [],
    }
    records: dict[tuple[str, float, int], dict[str, Any]] = {}

    def write() -> None:
        report["sweep"] = [records[(a, lr, args.sweep_seed)] for a in arms for lr in args.lrs
                           if (a, lr, args.sweep_seed) in records]
        report["runs"] = [records[(a, report["chosen_lr"][a], s)] for a in arms if a in report["chosen_lr"]
                          for s in args.seeds if (a, report["chosen_lr"][a], s) in records]
        report["all_runs"] = list(records.values())
        report["aggregate"] = aggregate(args.bundle, report["runs"])
        extra_seeds = [s for s in args.seeds if s != args.sweep_seed]
        report["status"] = {
            "trainings_done": sum("train" in r for r in records.values()),
            "trainings_planned": len(arms) * (len(args.lrs) + len(extra_seeds)),
            "test_evaluations_done": sum("test" in r for r in records.values()),
            "test_evaluations_planned": len(arms) * len(args.seeds),
        }
        stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        stem.with_suffix(".md").write_text(markdown(report))

    start = time.perf_counter()
    # 1. sweep, arm by arm at every lr; 2. select; evaluate the chosen sweep run at once (a first full row early)
    for arm in arms:
        for lr in args.lrs:
            record = runner.train(arm, lr, args.sweep_seed)
            if record is not None:
                records[(arm, lr, args.sweep_seed)] = record
            write()
        if any((arm, lr, args.sweep_seed) not in records for lr in args.lrs):
            continue  # --report-only with an unfinished sweep: no choice for this arm yet
        chosen = select_lr([records[(arm, lr, args.sweep_seed)] for lr in args.lrs])
        report["chosen_lr"][arm] = chosen
        if args.sweep_seed in args.seeds:
            records[(arm, chosen, args.sweep_seed)] = runner.evaluate(arm, chosen, args.sweep_seed)
        write()
    # 3. the other seeds at the chosen lr, seed-major so that every arm gets its second seed before any its third
    for seed in args.seeds:
        for arm in arms:
            if seed == args.sweep_seed or arm not in report["chosen_lr"]:
                continue
            lr = report["chosen_lr"][arm]
            if runner.train(arm, lr, seed) is None:
                continue
            records[(arm, lr, seed)] = runner.evaluate(arm, lr, seed)
            write()
    report["total_wall_s_this_invocation"] = round(time.perf_counter() - start, 1)
    write()
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
