# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Quality benchmark of the ``sai_diagnosis`` bundle: the rows of Table V of Chen et al. (TMI 2021) on the embedded
histology default (``histology_96``: 236 train / 74 val / 66 test PCam-like patches of 96x96 native pixels).

The native 96 px patch is the high-resolution (HR) image. The low-resolution (LR) input of every variant is the
patch downsampled by ``--lr_downscale`` (default 2: 48x48) with antialiased bicubic interpolation, the degradation
the SR stages are trained to invert (``train_sr.json``: HR tiles at the native scale, LR by the same resize). The SR
image is the distilled MRC-Net student's x2 output of the LR input, back at the native size.

Variants, all built from the bundle's modules and trained with the same recipe:

* ``hr_only``: one ResNet-18 (``monai_ext.networks.sai.build_resnet18_encoder``) on the native patch: the upper
  bound, what a perfect SR could give;
* ``lr_only``: one ResNet-18 on the LR patch;
* ``bicubic_only``: one ResNet-18 on the bicubic x2 upsampling of the LR patch (the control for "a larger input");
* ``sr_only``: one ResNet-18 on the SR image;
* ``lr_sr``: ``SAIDiagnosisNet`` with its four SAI blocks replaced by a pass-through (no interaction, no affinity
  matrices), four CEs + rank loss (``SAIDiagnosisLoss`` with the SAC / SAR weights at 0);
* ``lr_sr_sai``: ``SAIDiagnosisNet`` with SAI and the full ``SAIDiagnosisLoss``.

Deviations from the bundle's ``train.json``, to keep the benchmark within a CPU budget: the SR images are computed
once by the distilled student and kept fixed (the bundle fine-tunes the SR network at 0.01x the learning rate);
augmentation is flips + rot90 applied identically to all inputs of a sample (no brightness / contrast jitter, which
would desynchronise the pair); no ImageNet weights. Each variant keeps the epoch with the best validation accuracy
(the first epoch that reaches it) and is scored on the
test split with ``monai_ext.metrics.classification_metrics``. SAI mixes samples of a batch; the SAI network is
trained once per seed and evaluated in both eval modes of its SAI blocks (``eval_interaction``), each mode keeping
its own best validation epoch: ``"batch"`` (released code: the samples of an eval batch interact) with the training
batch size (8) and one image at a time (batch 1, as folder inference), and ``"reference"`` (each image interacts with
itself and the bank of the last training samples; the prediction does not depend on the batch, checked here by
comparing batch 8 with batch 1).

Usage (from the repository root, after the two SR stages)::

    python -m monai.bundle run training --config_file bundles/sai_diagnosis/configs/train_sr.json
    python -m monai.bundle run training --config_file bundles/sai_diagnosis/configs/distill.json
    python benchmarks/quality_sai_diagnosis.py --epochs 30 --seeds 0 1 2

Writes ``benchmarks/results/quality_sai_diagnosis.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
import torch.nn.functional as F
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from monai_ext.data import build_histology_datalist, embedded_dataset_dir  # noqa: E402
from monai_ext.losses import SAIDiagnosisLoss  # noqa: E402
from monai_ext.metrics import classification_metrics  # noqa: E402
from monai_ext.networks import MRCNet, SAIDiagnosisNet  # noqa: E402
from monai_ext.networks.sai import build_resnet18_encoder  # noqa: E402
from monai_ext.transforms import resize_image  # noqa: E402

VARIANTS = {
    "hr_only": "HR only (ResNet-18, native patch: upper bound)",
    "lr_only": "LR only (ResNet-18)",
    "bicubic_only": "bicubic x{factor} of LR (ResNet-18, control)",
    "sr_only": "SR only (ResNet-18)",
    "lr_sr": "LR + SR, no SAI",
    "lr_sr_sai": "LR + SR + SAI (ours)",
}
REPORTED = ("accuracy", "macro_f1", "kappa", "mcc", "macro_sensitivity", "macro_specificity")


class NoInteraction(nn.Module):
    """Stand-in for an SAI block: features pass unchanged, the B x B matrices are identities (the LR+SR row)."""

    def forward(self, f_lr: torch.Tensor, f_sr: torch.Tensor) -> tuple[torch.Tensor, ...]:
        eye = torch.eye(f_lr.shape[0], device=f_lr.device, dtype=f_lr.dtype)
        return f_lr, f_sr, eye, eye, eye, eye


class SingleBranch(nn.Module):
    """One ResNet-18 classifier on one of the inputs of a sample (``"hr"``, ``"lr"``, ``"bicubic"`` or ``"sr"``)."""

    def __init__(self, num_classes: int, source: str, widen_factor: float = 1.0) -> None:
        super().__init__()
        self.net = build_resnet18_encoder(3, num_classes=num_classes, widen_factor=widen_factor)
        self.source = source

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(inputs[self.source])


class PairBranches(nn.Module):
    """``SAIDiagnosisNet`` fed with the LR and the SR image of a sample."""

    def __init__(self, net: SAIDiagnosisNet) -> None:
        super().__init__()
        self.net = net

    @property
    def interactions(self) -> nn.ModuleList:
        return self.net.interactions

    def forward(self, inputs: dict[str, torch.Tensor]) -> Any:
        return self.net(inputs["lr"], inputs["sr"])


SOURCES = ("hr", "lr", "bicubic", "sr")


def load_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The native patches of a split as (N, 3, 96, 96) in [0, 1] and their labels."""
    items = build_histology_datalist(embedded_dataset_dir("histology_96"), split)
    images = np.stack([np.asarray(Image.open(d["image"]).convert("RGB"), dtype=np.float32) / 255.0 for d in items])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.tensor([d["label"] for d in items])


def degrade(images: torch.Tensor, factor: int) -> torch.Tensor:
    """The LR inputs: antialiased bicubic downsampling by ``factor``, as the SR stages make their LR images."""
    if factor == 1:
        return images.clone()
    size = [s // factor for s in images.shape[-2:]]
    return torch.stack([resize_image(x, size, antialias=True) for x in images]).clamp(0, 1)


@torch.no_grad()
def super_resolve(student: MRCNet, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    return torch.cat([student(images[i : i + batch]).clamp(0, 1) for i in range(0, len(images), batch)])


def bicubic_upsample(images: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    return F.interpolate(images, size=tuple(size), mode="bicubic", align_corners=False).clamp(0, 1)


def augment(inputs: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Flips and rot90 (k in 0..3), the same for every input of a sample, one draw per sample."""
    count = len(next(iter(inputs.values())))
    draws = torch.randint(0, 2, (count, 2), generator=generator).bool().tolist()
    turns = torch.randint(0, 4, (count,), generator=generator).tolist()
    out = {}
    for key, batch in inputs.items():
        samples = []
        for x, (flip_v, flip_h), k in zip(batch, draws, turns):
            dims = [d for d, flip in ((1, flip_v), (2, flip_h)) if flip]
            samples.append(torch.rot90(x.flip(dims) if dims else x, k, (1, 2)))
        out[key] = torch.stack(samples)
    return out


def build_variant(
    name: str, num_classes: int, bank_size: int = 8, widen_factor: float = 1.0
) -> tuple[nn.Module, Any]:
    if name.endswith("_only"):
        ce = nn.CrossEntropyLoss()
        return SingleBranch(num_classes, name[: -len("_only")], widen_factor), lambda out, y: ce(out, y)
    net = SAIDiagnosisNet(3, num_classes, eval_interaction="batch", bank_size=bank_size, widen_factor=widen_factor)
    if name == "lr_sr":
        net.interactions = nn.ModuleList([NoInteraction() for _ in range(4)])
        return PairBranches(net), SAIDiagnosisLoss(consistency_weight=0.0, regularization_weight=0.0)
    return PairBranches(net), SAIDiagnosisLoss()


def set_eval_interaction(net: nn.Module, mode: str) -> None:
    for block in getattr(net, "interactions", []):
        if hasattr(block, "eval_interaction"):
            block.eval_interaction = mode


def _take(inputs: dict[str, torch.Tensor], index: Any) -> dict[str, torch.Tensor]:
    return {k: v[index] for k, v in inputs.items()}


@torch.no_grad()
def predict(net: nn.Module, inputs: dict[str, torch.Tensor], batch: int) -> torch.Tensor:
    net.eval()
    count = len(next(iter(inputs.values())))
    return torch.cat([net(_take(inputs, slice(i, i + batch))) for i in range(0, count, batch)])


def train_variant(name: str, data: dict[str, tuple], args: argparse.Namespace, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net, loss_fn = build_variant(name, 2, args.bank_size, args.widen_factor)
    modes = ("batch", "reference") if name == "lr_sr_sai" else ("batch",)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.5)
    x, y = data["train"]
    v_x, v_y = data["val"]
    best = {mode: (-1.0, 0, None) for mode in modes}
    history = []
    start, cpu_start = time.time(), time.process_time()
    for epoch in range(1, args.epochs + 1):
        net.train()
        order = torch.randperm(len(y), generator=generator)
        losses = []
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):  # drop_last: the gate's BN needs B > 1
            idx = order[i : i + args.batch_size]
            batch = augment(_take(x, idx), generator)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(batch), y[idx])
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        scheduler.step()
        entry = {"epoch": epoch, "train_loss": float(torch.stack(losses).mean())}
        for mode in modes:
            set_eval_interaction(net, mode)
            val_acc = classification_metrics(v_y, predict(net, v_x, args.batch_size), 2)["accuracy"]
            entry["val_accuracy" if mode == "batch" else f"val_accuracy_{mode}"] = val_acc
            if val_acc > best[mode][0]:
                best[mode] = (val_acc, epoch, {k: v.clone() for k, v in net.state_dict().items()})
        history.append(entry)
        print(f"[{name} seed {seed}] {entry}", flush=True)
    train_wall, train_cpu = round(time.time() - start, 1), round(time.process_time() - cpu_start, 1)
    t_x, t_y = data["test"]
    set_eval_interaction(net, "batch")
    net.load_state_dict(best["batch"][2])
    result = {
        "seed": seed,
        "best_epoch": best["batch"][1],
        "val_accuracy": best["batch"][0],
        "test": classification_metrics(t_y, predict(net, t_x, args.batch_size), 2),
        "history": history,
        "train_wall_s": train_wall,
        "train_cpu_s": train_cpu,
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    if name == "lr_sr_sai":
        result["test_batch1"] = classification_metrics(t_y, predict(net, t_x, 1), 2)
        set_eval_interaction(net, "reference")
        net.load_state_dict(best["reference"][2])
        batched, single = predict(net, t_x, args.batch_size), predict(net, t_x, 1)
        result["best_epoch_reference"] = best["reference"][1]
        result["val_accuracy_reference"] = best["reference"][0]
        result["test_reference"] = classification_metrics(t_y, batched, 2)
        result["reference_max_logit_gap_batch8_vs_batch1"] = float((batched - single).abs().max())
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample standard deviation (n - 1; 0 for a single run) over seeds of the reported test metrics."""
    summary: dict[str, Any] = {}
    for part in ("test", "test_batch1", "test_reference"):
        if part in runs[0]:
            values = {k: np.array([r[part][k] for r in runs], dtype=float) for k in REPORTED}
            summary[part] = {
                k: {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
                for k, v in values.items()
            }
    return summary


_PARTS = (
    ("test", "val_accuracy", "best_epoch", ""),
    ("test_batch1", "val_accuracy", "best_epoch", ', eval_interaction "batch", one image at a time'),
    ("test_reference", "val_accuracy_reference", "best_epoch_reference", ', eval_interaction "reference" (any batch)'),
)


def _row_label(result: dict[str, Any], part: str, suffix: str) -> str:
    if part == "test" and "test_reference" in result["summary"]:
        suffix = ', eval_interaction "batch", batches of 8'
    return result["label"] + suffix


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    sizes = report["split_sizes"]
    factor = settings["lr_downscale"]
    lines = [
        f"# SAI diagnosis quality benchmark (histology_96, test split of {sizes['test']} patches)",
        "",
        f"Command: `{report['command']}`  ",
        f"HR = the native 96x96 patch; LR = HR downsampled x{factor} (antialiased bicubic); SR = {report['sr_source']}, "
        "computed once and kept fixed.  ",
        f"ResNet-18 width x{settings.get('widen_factor', 1.0)} (1 = the paper's). "
        f"{settings['epochs']} epochs per variant (Adam lr {settings['lr']}, weight decay {settings['weight_decay']}, "
        f"batch {settings['batch_size']}; the epoch with the best validation accuracy on {sizes['val']} patches is "
        f"scored on the test split), seeds {settings['seeds']}, {settings['threads']} torch thread(s); total wall "
        f"{report['wall_s']} s, CPU {report['cpu_s']} s; load average at start / end {report['load_start']} / "
        f"{report['load_end']}.",
        *([f"The variants ran in {len(report['merged_from'])} parallel processes (one thread each): the wall time "
            "is the longest process's, the CPU time their sum."] if "merged_from" in report else []),
        "",
        f"Test scores, mean +- sample std over {len(settings['seeds'])} seeds:",
        "",
        "| variant | accuracy | macro F1 | kappa | MCC |",
        "|---|---|---|---|---|",
    ]
    keys = ("accuracy", "macro_f1", "kappa", "mcc")
    for result in report["results"].values():
        for part, _, _, suffix in _PARTS:
            if part in result["summary"]:
                t = result["summary"][part]
                cells = " | ".join(f"{t[k]['mean']:.3f} +- {t[k]['std']:.3f}" for k in keys)
                lines.append(f"| {_row_label(result, part, suffix)} | {cells} |")
    lines += ["", "Per seed (test accuracy / macro F1; validation accuracy at the kept epoch):", "",
              "| variant | seed | test accuracy | test macro F1 | val accuracy (epoch) | train wall s |",
              "|---|---|---|---|---|---|"]
    for result in report["results"].values():
        for part, val_key, epoch_key, suffix in _PARTS:
            for run in result["runs"]:
                if part in run:
                    lines.append(
                        f"| {_row_label(result, part, suffix)} | {run['seed']} | {run[part]['accuracy']:.3f} | "
                        f"{run[part]['macro_f1']:.3f} | {run[val_key]:.3f} ({run[epoch_key]}) | {run['train_wall_s']} |"
                    )
    gaps = [r["reference_max_logit_gap_batch8_vs_batch1"] for res in report["results"].values() for r in res["runs"]
            if "reference_max_logit_gap_batch8_vs_batch1" in r]
    if gaps:
        lines += ["", f"Reference mode, largest |logit(batch 8) - logit(batch 1)| over the test set: {max(gaps):.2e}."]
    if "image_quality" in report:
        q = report["image_quality"]
        lines += ["", "Image quality of the inputs against the native patches (test split, PSNR dB / SSIM): "
                  + "; ".join(f"{k} {v['psnr']:.2f} / {v['ssim']:.4f}" for k, v in q.items()) + "."]
    return "\n".join(lines) + "\n"


def image_quality(hr: torch.Tensor, candidates: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """PSNR and SSIM of the upsampled inputs against the native patches (data range 1)."""
    from pytorch_msssim import ssim

    out = {}
    for name, images in candidates.items():
        mse = F.mse_loss(images, hr, reduction="none").mean(dim=(1, 2, 3)).clamp_min(1e-12)
        out[name] = {
            "psnr": float((10 * torch.log10(1.0 / mse)).mean()),
            "ssim": float(ssim(images, hr, data_range=1.0, size_average=True)),
        }
    return out


def merge_reports(paths: list[Path], output: Path) -> dict[str, Any]:
    """One report from several made with the same settings but different variants (run in parallel processes)."""
    reports = [json.loads(p.read_text()) for p in paths]
    first = reports[0]
    same = ("lr_downscale", "epochs", "batch_size", "lr", "weight_decay", "seeds", "bank_size", "student",
            "widen_factor")
    for path, report in zip(paths[1:], reports[1:]):
        differing = [k for k in same if report["settings"].get(k) != first["settings"].get(k)]
        if differing:
            raise SystemExit(f"{path}: settings {differing} differ from {paths[0]}; only like runs can be merged")
    merged = dict(first)
    merged["results"] = {k: v for name in VARIANTS for r in reports for k, v in r["results"].items() if k == name}
    merged["command"] = "; ".join(r["command"] for r in reports)
    merged["wall_s"] = max(r["wall_s"] for r in reports)
    merged["cpu_s"] = round(sum(r["cpu_s"] for r in reports), 1)
    merged["load_start"] = max(r["load_start"] for r in reports)
    merged["load_end"] = max(r["load_end"] for r in reports)
    merged["settings"] = dict(first["settings"], variants=list(merged["results"]), merge=None)
    merged["merged_from"] = [str(p) for p in paths]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(merged, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(merged))
    print(markdown(merged))
    return merged


def select_learning_rates(paths: list[Path], output: Path) -> dict[str, Any]:
    """Per variant (and SAI eval mode), the learning rate with the best mean validation accuracy over seeds among
    reports that differ only in ``lr``; the test scores of that choice. The test split plays no part in the choice."""
    reports = [json.loads(p.read_text()) for p in paths]
    fixed = ("lr_downscale", "epochs", "batch_size", "weight_decay", "seeds", "bank_size", "student", "widen_factor")
    for path, report in zip(paths[1:], reports[1:]):
        differing = [k for k in fixed if report["settings"].get(k) != reports[0]["settings"].get(k)]
        if differing:
            raise SystemExit(f"{path}: settings {differing} differ from {paths[0]}; only the lr may differ")
    rows, sweep = [], []
    for name in VARIANTS:
        for part, val_key, epoch_key, suffix in _PARTS:
            candidates = []
            for report in reports:
                result = report["results"].get(name)
                if result is None or part not in result["summary"]:
                    continue
                val = float(np.mean([r[val_key] for r in result["runs"]]))
                candidates.append((val, report["settings"]["lr"], result))
            if not candidates:
                continue
            label = _row_label(candidates[0][2], part, suffix)
            sweep.append((label, {lr: val for val, lr, _ in candidates}))
            val, lr, result = max(candidates, key=lambda c: c[0])
            test = result["summary"][part]
            per_seed = [run[part]["accuracy"] for run in result["runs"]]
            rows.append({"variant": name, "part": part, "label": label, "lr": lr, "val_accuracy_mean": val,
                         "test": test, "test_accuracy_per_seed": per_seed})
    lrs = sorted({r["settings"]["lr"] for r in reports})
    settings = reports[0]["settings"]
    lines = [
        f"# SAI diagnosis: learning rate chosen on validation per variant ({len(settings['seeds'])} seeds)",
        "",
        f"From {', '.join(f'`{p.name}`' for p in paths)} (lr {lrs}); LR = native patch downsampled "
        f"x{settings['lr_downscale']}; ResNet-18 width x{settings.get('widen_factor', 1.0)}; {settings['epochs']} "
        "epochs; for each variant the lr with the higher mean validation accuracy (of the kept epochs) is chosen, "
        "then its test scores are reported (mean +- sample std over seeds, and per seed).",
        "",
        "| variant | lr | val accuracy (mean) | test accuracy | macro F1 | kappa | MCC | test accuracy per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["test"]
        cells = " | ".join(f"{t[k]['mean']:.3f} +- {t[k]['std']:.3f}" for k in ("accuracy", "macro_f1", "kappa", "mcc"))
        seeds = ", ".join(f"{a:.3f}" for a in r["test_accuracy_per_seed"])
        lines.append(f"| {r['label']} | {r['lr']:g} | {r['val_accuracy_mean']:.3f} | {cells} | {seeds} |")
    lines += ["", "Validation accuracy (mean over seeds) per lr:", "",
              "| variant | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |", "|---|" + "---|" * len(lrs)]
    for label, vals in sweep:
        lines.append(f"| {label} | " + " | ".join(f"{vals[lr]:.3f}" if lr in vals else "-" for lr in lrs) + " |")
    text = "\n".join(lines) + "\n"
    selection = {"sources": [str(p) for p in paths], "learning_rates": lrs, "rows": rows}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(selection, indent=2) + "\n")
    output.with_suffix(".md").write_text(text)
    print(text)
    return selection


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", default=str(REPO_ROOT / "bundles/sai_diagnosis/models/student.pt"))
    parser.add_argument("--lr_downscale", type=int, default=2, choices=(2, 4),
                        help="LR = native patch downsampled by this factor; the x2 student is applied log2 times")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (the paper's text: 1e-4)")
    parser.add_argument("--weight_decay", type=float, default=1e-5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--bank_size", type=int, default=8, help="reference bank of the SAI blocks")
    parser.add_argument("--widen_factor", type=float, default=1.0,
                        help="channel multiplier of every ResNet-18 (1: the paper's; the bundle default 0.25)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks/results/quality_sai_diagnosis.json"))
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="combine the reports of runs made with the same settings (e.g. variants split over two "
                        "processes) into --output and stop; trains nothing")
    parser.add_argument("--select", nargs="+", default=None, metavar="JSON",
                        help="reports that differ only in --lr: choose each variant's lr on validation, write the "
                        "table to --output and stop; trains nothing")
    args = parser.parse_args(argv)
    if args.select:
        return select_learning_rates([Path(p) for p in args.select], Path(args.output))
    if args.merge:
        return merge_reports([Path(p) for p in args.merge], Path(args.output))
    torch.set_num_threads(args.threads)
    if not Path(args.student).is_file():
        raise SystemExit(
            f"distilled student {args.student!r} not found: run train_sr.json and distill.json of "
            "bundles/sai_diagnosis first (see the module docstring), or pass --student"
        )
    start, cpu_start, load_start = time.time(), time.process_time(), round(os.getloadavg()[0], 2)
    student = MRCNet(3, 3, scale_factor=2, num_recursions=1)
    student.load_state_dict(torch.load(args.student, map_location="cpu", weights_only=True))
    student.eval()
    data, quality = {}, {}
    for split in ("train", "val", "test"):
        hr, labels = load_split(split)
        lr = degrade(hr, args.lr_downscale)
        sr = lr
        for _ in range(args.lr_downscale.bit_length() - 1):  # x2 student applied once for x2, twice for x4
            sr = super_resolve(student, sr)
        inputs = {"hr": hr, "lr": lr, "bicubic": bicubic_upsample(lr, hr.shape[-2:]), "sr": sr}
        data[split] = (inputs, labels)
        if split == "test":
            quality = image_quality(hr, {"bicubic": inputs["bicubic"], "sr": sr})
    results = {}
    for name in args.variants:
        runs = [train_variant(name, data, args, seed) for seed in args.seeds]
        label = VARIANTS[name].format(factor=args.lr_downscale)
        results[name] = {"label": label, "summary": summarise(runs), "runs": runs}
    report = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": "python benchmarks/quality_sai_diagnosis.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": vars(args),
        "sr_source": f"MRC-Net student x2 from {args.student}"
        + (" applied twice" if args.lr_downscale == 4 else ""),
        "split_sizes": {k: len(v[1]) for k, v in data.items()},
        "image_quality": quality,
        "results": results,
        "wall_s": round(time.time() - start, 1),
        "cpu_s": round(time.process_time() - cpu_start, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_start": load_start,
        "load_end": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
