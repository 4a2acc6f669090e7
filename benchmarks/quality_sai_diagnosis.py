# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Quality benchmark of the ``sai_diagnosis`` bundle: the rows of Table V of Chen et al. (TMI 2021) on the embedded
histology default (``histology_96``: 236 train / 74 val / 66 test PCam-like patches, LR 96x96, SR x2 = 192x192).

Variants, all built from the bundle's modules and trained with the same recipe:

* ``lr_only``: one ResNet-18 (``monai_ext.networks.sai.build_resnet18_encoder``) on the LR patch, cross-entropy;
* ``sr_only``: one ResNet-18 on the SR image, cross-entropy;
* ``lr_sr``: ``SAIDiagnosisNet`` with its four SAI blocks replaced by a pass-through (no interaction, no affinity
  matrices), four CEs + rank loss (``SAIDiagnosisLoss`` with the SAC / SAR weights at 0);
* ``lr_sr_sai``: ``SAIDiagnosisNet`` with SAI and the full ``SAIDiagnosisLoss``.

Deviations from the bundle's ``train.json``, to keep the benchmark within a CPU budget: the SR images are computed
once by the distilled student (``models/student.pt`` from ``train_sr.json`` + ``distill.json``) and kept fixed (the
bundle fine-tunes the SR network at 0.01x the learning rate); augmentation is flips + rot90 applied identically to
LR and SR (no brightness / contrast jitter, which would desynchronise the pair); no ImageNet weights. Each variant
keeps the epoch with the best validation accuracy and is scored on the test split with
``monai_ext.metrics.classification_metrics``. SAI mixes samples of a batch; the SAI network is trained once per seed
and evaluated in both eval modes of its SAI blocks (``eval_interaction``), each mode keeping its own best
validation epoch: ``"batch"`` (released code: the samples of an eval batch interact) with the training batch size
(8) and one image at a time (batch 1, as folder inference), and ``"reference"`` (each image interacts with itself
and the bank of the last training samples; the prediction does not depend on the batch, checked here by comparing
batch 8 with batch 1).

Usage (from the repository root, after the two SR stages)::

    python -m monai.bundle run training --config_file bundles/sai_diagnosis/configs/train_sr.json
    python -m monai.bundle run training --config_file bundles/sai_diagnosis/configs/distill.json
    python benchmarks/quality_sai_diagnosis.py --epochs 6

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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from monai_ext.data import build_histology_datalist, embedded_dataset_dir  # noqa: E402
from monai_ext.losses import SAIDiagnosisLoss  # noqa: E402
from monai_ext.metrics import classification_metrics  # noqa: E402
from monai_ext.networks import MRCNet, SAIDiagnosisNet  # noqa: E402
from monai_ext.networks.sai import build_resnet18_encoder  # noqa: E402

VARIANTS = {
    "lr_only": "LR only (ResNet-18)",
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
    """One ResNet-18 classifier on either the LR or the SR image of a pair."""

    def __init__(self, num_classes: int, use_sr: bool) -> None:
        super().__init__()
        self.net = build_resnet18_encoder(3, num_classes=num_classes)
        self.use_sr = use_sr

    def forward(self, x_lr: torch.Tensor, x_sr: torch.Tensor) -> torch.Tensor:
        return self.net(x_sr if self.use_sr else x_lr)


def load_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    items = build_histology_datalist(embedded_dataset_dir("histology_96"), split)
    images = np.stack([np.asarray(Image.open(d["image"]).convert("RGB"), dtype=np.float32) / 255.0 for d in items])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.tensor([d["label"] for d in items])


@torch.no_grad()
def super_resolve(student: MRCNet, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    return torch.cat([student(images[i : i + batch]).clamp(0, 1) for i in range(0, len(images), batch)])


def augment(x_lr: torch.Tensor, x_sr: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Flips and rot90 (k in 0..3), the same for the LR and SR image of every sample, one draw per sample."""
    draws = torch.randint(0, 2, (len(x_lr), 2), generator=generator).bool()
    turns = torch.randint(0, 4, (len(x_lr),), generator=generator)
    out_lr, out_sr = [], []
    for lr, sr, (flip_v, flip_h), k in zip(x_lr, x_sr, draws.tolist(), turns.tolist()):
        dims = [d for d, flip in ((1, flip_v), (2, flip_h)) if flip]
        if dims:
            lr, sr = lr.flip(dims), sr.flip(dims)
        out_lr.append(torch.rot90(lr, k, (1, 2)))
        out_sr.append(torch.rot90(sr, k, (1, 2)))
    return torch.stack(out_lr), torch.stack(out_sr)


def build_variant(name: str, num_classes: int, bank_size: int = 8) -> tuple[nn.Module, Any]:
    if name in ("lr_only", "sr_only"):
        ce = nn.CrossEntropyLoss()
        return SingleBranch(num_classes, use_sr=name == "sr_only"), lambda out, y: ce(out, y)
    net = SAIDiagnosisNet(3, num_classes, eval_interaction="batch", bank_size=bank_size)
    if name == "lr_sr":
        net.interactions = nn.ModuleList([NoInteraction() for _ in range(4)])
        return net, SAIDiagnosisLoss(consistency_weight=0.0, regularization_weight=0.0)
    return net, SAIDiagnosisLoss()


def set_eval_interaction(net: nn.Module, mode: str) -> None:
    for block in getattr(net, "interactions", []):
        if hasattr(block, "eval_interaction"):
            block.eval_interaction = mode


@torch.no_grad()
def predict(net: nn.Module, x_lr: torch.Tensor, x_sr: torch.Tensor, batch: int) -> torch.Tensor:
    net.eval()
    return torch.cat([net(x_lr[i : i + batch], x_sr[i : i + batch]) for i in range(0, len(x_lr), batch)])


def train_variant(name: str, data: dict[str, tuple], args: argparse.Namespace, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net, loss_fn = build_variant(name, 2, args.bank_size)
    modes = ("batch", "reference") if name == "lr_sr_sai" else ("batch",)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.5)
    x_lr, x_sr, y = data["train"]
    v_lr, v_sr, v_y = data["val"]
    best = {mode: (-1.0, 0, None) for mode in modes}
    history = []
    start, cpu_start = time.time(), time.process_time()
    for epoch in range(1, args.epochs + 1):
        net.train()
        order = torch.randperm(len(y), generator=generator)
        losses = []
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):  # drop_last: the gate's BN needs B > 1
            idx = order[i : i + args.batch_size]
            b_lr, b_sr = augment(x_lr[idx], x_sr[idx], generator)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(b_lr, b_sr), y[idx])
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        scheduler.step()
        entry = {"epoch": epoch, "train_loss": float(torch.stack(losses).mean())}
        for mode in modes:
            set_eval_interaction(net, mode)
            val_acc = classification_metrics(v_y, predict(net, v_lr, v_sr, args.batch_size), 2)["accuracy"]
            entry["val_accuracy" if mode == "batch" else f"val_accuracy_{mode}"] = val_acc
            if val_acc > best[mode][0]:
                best[mode] = (val_acc, epoch, {k: v.clone() for k, v in net.state_dict().items()})
        history.append(entry)
        print(f"[{name} seed {seed}] {entry}", flush=True)
    train_wall, train_cpu = round(time.time() - start, 1), round(time.process_time() - cpu_start, 1)
    t_lr, t_sr, t_y = data["test"]
    set_eval_interaction(net, "batch")
    net.load_state_dict(best["batch"][2])
    result = {
        "seed": seed,
        "best_epoch": best["batch"][1],
        "val_accuracy": best["batch"][0],
        "test": classification_metrics(t_y, predict(net, t_lr, t_sr, args.batch_size), 2),
        "history": history,
        "train_wall_s": train_wall,
        "train_cpu_s": train_cpu,
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    if name == "lr_sr_sai":
        result["test_batch1"] = classification_metrics(t_y, predict(net, t_lr, t_sr, 1), 2)
        set_eval_interaction(net, "reference")
        net.load_state_dict(best["reference"][2])
        batched, single = predict(net, t_lr, t_sr, args.batch_size), predict(net, t_lr, t_sr, 1)
        result["best_epoch_reference"] = best["reference"][1]
        result["val_accuracy_reference"] = best["reference"][0]
        result["test_reference"] = classification_metrics(t_y, batched, 2)
        result["reference_max_logit_gap_batch8_vs_batch1"] = float((batched - single).abs().max())
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and (population) standard deviation over seeds of the reported test metrics."""
    summary: dict[str, Any] = {}
    for part in ("test", "test_batch1", "test_reference"):
        if part in runs[0]:
            values = {k: np.array([r[part][k] for r in runs]) for k in REPORTED}
            summary[part] = {k: {"mean": float(v.mean()), "std": float(v.std())} for k, v in values.items()}
    return summary


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        "# SAI diagnosis quality benchmark (histology_96 test split, 66 patches)",
        "",
        f"Command: `{report['command']}`  ",
        f"{settings['epochs']} epochs per variant (best validation epoch kept), batch {settings['batch_size']}, seeds "
        f"{settings['seeds']}, {settings['threads']} torch thread(s); total wall {report['wall_s']} s, CPU "
        f"{report['cpu_s']} s; load average at start / end {report['load_start']} / {report['load_end']}.",
        "",
        "Test scores, mean +- std over seeds:",
        "",
        "| variant | accuracy | macro F1 | kappa | MCC |",
        "|---|---|---|---|---|",
    ]
    for result in report["results"].values():
        parts = (
            ("test", ', eval_interaction "batch", batches of 8' if "test_reference" in result["summary"] else ""),
            ("test_batch1", ', eval_interaction "batch", one image at a time'),
            ("test_reference", ', eval_interaction "reference" (any batch)'),
        )
        for part, suffix in parts:
            if part in result["summary"]:
                t = result["summary"][part]
                keys = ("accuracy", "macro_f1", "kappa", "mcc")
                cells = " | ".join(f"{t[k]['mean']:.3f} +- {t[k]['std']:.3f}" for k in keys)
                lines.append(f"| {result['label']}{suffix} | {cells} |")
    gaps = [r["reference_max_logit_gap_batch8_vs_batch1"] for res in report["results"].values() for r in res["runs"]
            if "reference_max_logit_gap_batch8_vs_batch1" in r]
    if gaps:
        lines += ["", f"Reference mode, largest |logit(batch 8) - logit(batch 1)| over the test set: {max(gaps):.2e}."]
    lines += ["", f"SR images: {report['sr_source']} (fixed during training)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", default=str(REPO_ROOT / "bundles/sai_diagnosis/models/student.pt"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--weight_decay", type=float, default=1e-5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--bank_size", type=int, default=8, help="reference bank of the SAI blocks")
    parser.add_argument("--sr_cache", default=None, help="file to keep the SR images in between runs (optional)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks/results/quality_sai_diagnosis.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not Path(args.student).is_file():
        raise SystemExit(
            f"distilled student {args.student!r} not found: run train_sr.json and distill.json of "
            "bundles/sai_diagnosis first (see the module docstring), or pass --student"
        )
    start, cpu_start, load_start = time.time(), time.process_time(), round(os.getloadavg()[0], 2)
    student = MRCNet(3, 3, upscale_factor=2, num_recursions=1)
    student.load_state_dict(torch.load(args.student, map_location="cpu", weights_only=True))
    student.eval()
    cache = Path(args.sr_cache) if args.sr_cache else None
    cached = torch.load(cache, weights_only=True) if cache is not None and cache.is_file() else {}
    if cached and cached.get("student") != os.path.abspath(args.student):
        cached = {}
    data = {}
    for split in ("train", "val", "test"):
        images, labels = load_split(split)
        sr = cached[split] if split in cached else super_resolve(student, images)
        data[split] = (images, sr, labels)
    if cache is not None and not cached:
        torch.save({"student": os.path.abspath(args.student), **{k: v[1] for k, v in data.items()}}, cache)
    results = {}
    for name in args.variants:
        runs = [train_variant(name, data, args, seed) for seed in args.seeds]
        results[name] = {"label": VARIANTS[name], "summary": summarise(runs), "runs": runs}
    report = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": "python benchmarks/quality_sai_diagnosis.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": vars(args),
        "sr_source": f"MRCNet student x2 from {args.student}",
        "split_sizes": {k: len(v[2]) for k, v in data.items()},
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
