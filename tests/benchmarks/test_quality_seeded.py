# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the seeded-comparison benchmark logic: log parsing, validation-based lr choice, resumption, tables.

No training is run: finished runs are written by hand into ``tmp_path`` and the benchmark is run with
``--report-only``, which must rebuild the tables from them and start nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from benchmarks import quality_seeded as qs

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_best_validation_reads_the_last_key_metric_line():
    log = (
        "INFO - Key metric: val_iou best value: 0.0 at epoch: 2\n"
        "INFO - Epoch[4] Metrics -- val_iou: 0.3100\n"
        "INFO - Key metric: val_iou best value: 0.31 at epoch: 4\n"
        "INFO - Key metric: val_iou best value: 0.31 at epoch: 4\n"
    )
    assert qs.best_validation(log) == {"metric": "val_iou", "value": 0.31, "epoch": 4}
    assert qs.best_validation("no validation ran") is None
    assert qs.best_validation("Key metric: val_iou best value: 2.99e-05 at epoch: 10")["value"] == pytest.approx(2.99e-5)


def _sweep(*pairs):
    return [{"learning_rate": lr, "best_val": None if v is None else {"value": v, "epoch": 2}} for lr, v in pairs]


def test_select_lr_by_validation_ties_and_missing_go_to_the_smaller_lr():
    assert qs.select_lr(_sweep((0.02, 0.40), (0.05, 0.55))) == 0.05
    assert qs.select_lr(_sweep((0.02, 0.60), (0.05, 0.55))) == 0.02
    assert qs.select_lr(_sweep((0.05, 0.0), (0.01, 0.0), (0.02, 0.0))) == 0.01  # nobody learned: smallest lr
    assert qs.select_lr(_sweep((0.01, None), (0.05, 0.1))) == 0.05


def test_aggregate_mean_and_sample_std_over_seeds():
    runs = [
        {"arm": "unet_interp", "seed": s, "test": {m: v for m in qs.METRICS["ds2f"]}}
        for s, v in ((0, 0.5), (1, 0.7), (2, 0.6))
    ]
    runs.append({"arm": "ds2f", "seed": 0})  # trained, not evaluated: left out
    out = qs.aggregate("ds2f", runs)
    assert set(out) == {"unet_interp"}
    assert out["unet_interp"]["num_seeds"] == 3
    assert out["unet_interp"]["dice"]["mean"] == pytest.approx(0.6)
    assert out["unet_interp"]["dice"]["std"] == pytest.approx(0.1)


@pytest.mark.parametrize("bundle", sorted(qs.ARMS))
def test_every_arm_config_builds_the_network_it_names(bundle):
    expected = {"unet_interp": (False, "none"), "unet_interp_sr": (True, "none"), "supervessel_fim": (True, "fim")}
    expected.update(ds2f=(True, "mscg"), ss_maf=(True, "maf"))
    configs = REPO_ROOT / "bundles" / bundle / "configs"
    for arm, (_, ablation) in qs.ARMS[bundle].items():
        parser = ConfigParser()
        parser.read_config([str(configs / "train.json"), str(configs / ablation)])
        parser["base_channels"] = 4
        net = parser.get_parsed_content("network_def", instantiate=True)
        sr, fusion = expected[arm]
        assert (net.sr_decoder is not None) == sr, arm
        assert (net.feature_fusion is not None) == (fusion in ("mscg", "maf")), arm
        assert (net.output_fusion is not None) == (fusion == "fim"), arm
        net.train()
        size = 32
        x = torch.rand(1, parser["in_channels"], size, size)
        outputs = net(x)
        assert outputs["seg"].shape == (1, 2, size * 2, size * 2)
        assert ("fused_seg" in outputs) == (fusion != "none"), arm


def _fake_run(root: Path, bundle: str, arm: str, lr: float, seed: int, val: float, dice: float | None) -> None:
    run_dir = root / f"{arm}_lr{qs.lr_tag(lr)}_seed{seed}"
    (run_dir / "models").mkdir(parents=True)
    (run_dir / "models" / "checkpoint_final.pt").write_bytes(b"x")
    (run_dir / "train.log").write_text(f"Key metric: val_iou best value: {val} at epoch: 4\n")
    timing = {"command": "python -m monai.bundle ...", "wall_s": 10.0, "cpu_s": 5.0, "load1_mean": 1.0,
              "load1_max": 2.0}
    record = {"arm": arm, "label": qs.ARMS[bundle][arm][0], "learning_rate": lr, "seed": seed,
              "run_dir": str(run_dir), "train": timing}
    if dice is not None:
        summary_dir = run_dir / "eval" / "evaluation"
        summary_dir.mkdir(parents=True)
        headline = {m: dice for m in ("dice", "iou", "mcc", "bm", "recall")} | {"pr_auc": dice + 0.1}
        summary = {"headline": headline, "pooled": headline, "mean": headline, "pr_auc": dice + 0.1, "num_images": 8}
        (summary_dir / "summary.json").write_text(json.dumps(summary))
        record["evaluate"] = timing
    (run_dir / "run.json").write_text(json.dumps(record))


def test_report_only_rebuilds_tables_from_finished_runs_and_starts_nothing(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    # sweep of the baseline: 0.05 wins on validation although 0.02 would score higher on test (never looked at)
    _fake_run(runs, "ds2f", "unet_interp", 0.02, 0, val=0.10, dice=None)
    _fake_run(runs, "ds2f", "unet_interp", 0.05, 0, val=0.30, dice=0.60)
    _fake_run(runs, "ds2f", "unet_interp", 0.05, 1, val=0.20, dice=0.50)
    _fake_run(runs, "ds2f", "ds2f", 0.02, 0, val=0.40, dice=0.70)  # DS2F sweep unfinished: no choice, no row
    out = tmp_path / "out" / "table"
    argv = ["quality_seeded.py", "--bundle", "ds2f", "--lrs", "0.02", "0.05", "--seeds", "0", "1", "2",
            "--runs-dir", str(runs), "--output", str(out), "--report-only", "--", "--max_epochs", "3"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(qs, "run_command", lambda *a, **k: pytest.fail("report-only started a command"))
    qs.main()
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["chosen_lr"] == {"unet_interp": 0.05}
    assert [(r["arm"], r["seed"]) for r in report["runs"]] == [("unet_interp", 0), ("unet_interp", 1)]
    assert report["aggregate"]["unet_interp"]["dice"]["mean"] == pytest.approx(0.55)
    assert report["aggregate"]["unet_interp"]["pr_auc"]["mean"] == pytest.approx(0.65)
    batch = ConfigParser.load_config_file(str(REPO_ROOT / "bundles/ds2f/configs/train.json"))["batch_size"]
    assert report["budget"]["max_epochs"] == 3 and report["budget"]["batch_size"] == batch
    assert report["budget"]["iterations"] == 3 * -(-16 // batch)  # 16 training images, last batch may be short
    assert report["status"] == {"trainings_done": 4, "trainings_planned": 16, "test_evaluations_done": 2,
                                "test_evaluations_planned": 12}
    assert "--report-only" not in report["benchmark_command"]
    text = out.with_suffix(".md").read_text()
    assert "| U-Net+Interp | 0.1000 (ep 4) | 0.3000 (ep 4) | 0.05 |" in text
    assert "| U-Net+Interp | 0.05 | 2 | 0.5500 +- 0.0707 |" in text


def test_per_run_overrides_are_refused_as_bundle_overrides(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["quality_seeded.py", "--bundle", "ss_maf", "--", "--learning_rate", "0.1"])
    with pytest.raises(SystemExit):
        qs.main()
    assert "set per run" in capsys.readouterr().err
