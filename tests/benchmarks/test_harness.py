# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the benchmark harness logic: FLOP conventions, parameter counts, comparisons, targets, JSON/markdown.

Nothing here asserts a time: speed goals are measured by ``benchmarks/run.py``, not by tests.
"""

from __future__ import annotations

import json
import sys

import pytest
import torch
import torch.nn as nn

from benchmarks.cases import CASES, DUAL_STREAM_TRAINING_ONLY, Case, Size
from benchmarks.flops import count_parameters, flop_counter_flops, ptflops_macs, train_step_flops
from benchmarks.harness import Options, count_case, matmul_flops, run_case, time_calls
from benchmarks.report import check_targets, compare, read_json, render_markdown, write_json
from benchmarks.run import _parse_args
from monai_ext.networks import BaselineUNet, DualStreamNet

# tiny network: conv 2->4 (3x3, pad 1, bias) -> BN -> ReLU -> maxpool 2 -> flatten -> linear 24->3, input 2x4x6
H, W = 4, 6


def tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * (H // 2) * (W // 2), 3),
    )


# by hand, per sample
CONV_MACS = (3 * 3 * 2 * 4) * (H * W)  # 72 MACs per output position, 24 positions
CONV_BIAS = 4 * H * W
LINEAR_MACS = 24 * 3


def test_ptflops_convention_by_hand():
    # ptflops (pytorch backend, count_functional=False): conv MACs + bias adds, BN 2 per element (affine),
    # ReLU 1 per output element, pooling 1 per input element, linear MACs + bias
    expected = CONV_MACS + CONV_BIAS + 2 * 4 * H * W + 4 * H * W + 4 * H * W + LINEAR_MACS + 3
    assert ptflops_macs(tiny_net(), (2, H, W)) == expected


def test_flop_counter_convention_by_hand():
    # FlopCounterMode: 2 FLOPs per multiply-add of convolutions and matrix products only, no bias, batch included
    batch = 3
    expected = batch * 2 * (CONV_MACS + LINEAR_MACS)
    assert flop_counter_flops(tiny_net(), torch.randn(batch, 2, H, W)) == expected


def test_train_step_flops_by_hand():
    # backward: weight gradients of conv and linear (same cost as their forward), input gradient of the linear;
    # no input gradient for the first conv (the image needs none)
    net = tiny_net()
    x = torch.randn(2, 2, H, W)

    def step():
        net(x).sum().backward()

    forward = 2 * 2 * (CONV_MACS + LINEAR_MACS)
    backward = 2 * 2 * (CONV_MACS + 2 * LINEAR_MACS)
    assert train_step_flops(step) == forward + backward


def test_meta_counts_equal_real_counts():
    torch.manual_seed(0)
    real = DualStreamNet(base_channels=4, scale_factor=2, fusion="mscg")
    with torch.device("meta"):
        meta = DualStreamNet(base_channels=4, scale_factor=2, fusion="mscg")
    assert ptflops_macs(real, (3, 16, 24)) == ptflops_macs(meta, (3, 16, 24))
    x_real, x_meta = torch.randn(2, 3, 16, 24), torch.empty(2, 3, 16, 24, device="meta")
    assert flop_counter_flops(real, x_real) == flop_counter_flops(meta, x_meta)

    def step(net, x):
        def run():
            net.train()
            sum(v.mean() for v in net(x).values()).backward()

        return run

    assert train_step_flops(step(real, x_real)) == train_step_flops(step(meta, x_meta))


def test_count_parameters_training_only_parts():
    class WithAux(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Conv2d(2, 3, 1)  # 2*3 + 3 = 9
            self.aux = nn.Linear(3, 2)  # 3*2 + 2 = 8
            self.tied = nn.Linear(3, 2, bias=False)
            self.tied.weight = self.aux.weight  # shared with the training-only part: counted once, as training-only

    counts = count_parameters(WithAux(), training_only=("aux", "not_there"))
    assert counts == {"total": 17, "inference": 9, "training_only": 8}
    assert count_parameters(WithAux())["inference"] == 17


def test_dual_stream_inference_params_equal_plain_unet():
    net = DualStreamNet(base_channels=4, scale_factor=2, fusion="mscg")
    counts = count_parameters(net, DUAL_STREAM_TRAINING_ONLY)
    assert counts["inference"] == sum(p.numel() for p in BaselineUNet(base_channels=4).parameters())
    extra = sum(p.numel() for m in (net.sr_decoder, net.sr_head, net.feature_fusion) for p in m.parameters())
    assert counts["training_only"] == extra > 0


def test_paper_counts_of_the_cases():
    # the cases are the papers' networks: DS2F paper U-Net 384.49 GMac at 876x584, SAI paper 26.01 M / 5.43e10
    unet = count_case(CASES["unet_lr_hrf"], CASES["unet_lr_hrf"].sizes["paper"])
    assert round(unet["ptflops_gmac"], 2) == 384.49
    sai = count_case(CASES["sai_framework_cadcap"], CASES["sai_framework_cadcap"].sizes["paper"])
    assert sai["params"]["total"] == 26_010_459
    assert sai["infer_flops_per_sample"] == pytest.approx(5.431e10, rel=0.01)


def test_checkpointed_ds2f_case_saves_less_and_recomputes_the_training_branch():
    plain_case, ckpt_case = CASES["ds2f_unet_hrf"], CASES["ds2f_unet_hrf_ckpt"]
    size = plain_case.sizes["small"]
    assert ckpt_case.sizes["small"] == size and ckpt_case.sizes["paper"] == plain_case.sizes["paper"]
    plain, ckpt = count_case(plain_case, size), count_case(ckpt_case, size)
    assert ckpt["params"] == plain["params"] and ckpt["infer_flops_per_sample"] == plain["infer_flops_per_sample"]
    # nothing of the SR stream or the fusion module is kept for backward; the segmentation stream is unchanged
    assert not set(ckpt["train_saved_gib"]) & {"sr_decoder", "sr_head", "feature_fusion"}
    for part in ("encoder", "seg_decoder"):
        assert ckpt["train_saved_gib"][part] == plain["train_saved_gib"][part]
    assert ckpt["train_saved_gib"]["total"] < 0.55 * plain["train_saved_gib"]["total"]
    # backward recomputes (at most) one forward pass of the training-only branch: train-mode minus eval-mode forward
    with torch.device("meta"):
        net = plain_case.build()
    x = plain_case.make_inputs(size.train_batch, size, torch.device("meta"), None, train=True)[0]
    with torch.no_grad():
        branch = train_step_flops(lambda: net.train()(*x)) - flop_counter_flops(net, x)  # flop_counter: eval mode
    extra = ckpt["train_step_flops"] - plain["train_step_flops"]
    assert 0.95 * branch <= extra <= branch

    assert matmul_flops(2, 3, 4) == 48
    calls = []
    times = time_calls(lambda: calls.append(1), repeat=3, warmup=2, device=torch.device("cpu"), per_call=True)
    assert len(calls) == 5 and len(times) == 3
    calls.clear()
    times = time_calls(lambda: calls.append(1), repeat=4, warmup=0, device=torch.device("cpu"), per_call=False)
    assert len(calls) == 4 and len(set(times)) == 1


def test_options_validation():
    with pytest.raises(ValueError, match="amp"):
        Options(amp="fp8")
    with pytest.raises(ValueError, match="repeat"):
        Options(repeat=0)


def _tiny_case() -> Case:
    def make_inputs(batch, size, device, seed, train=False):
        if device.type == "meta":
            return (torch.empty(batch, 2, H, W, device=device),), torch.empty(batch, dtype=torch.long, device=device)
        gen = torch.Generator().manual_seed(seed)
        return (torch.randn(batch, 2, H, W, generator=gen),), torch.randint(0, 3, (batch,), generator=gen)

    return Case(
        name="tiny",
        bundle="test",
        dataset="none",
        description="tiny",
        build=tiny_net,
        make_inputs=make_inputs,
        sizes={"small": Size((H, W), (H, W), train_batch=2)},
        make_loss=nn.CrossEntropyLoss,
        make_optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
        in_channels=2,
    )


def test_run_case_records_every_measurement():
    case = _tiny_case()
    result = run_case(case, case.sizes["small"], Options(repeat=1, warmup=0))
    assert result["params"]["total"] == sum(p.numel() for p in tiny_net().parameters())
    assert result["infer_flops_per_sample"] == 2 * (CONV_MACS + LINEAR_MACS)
    assert result["train_flops_loss_counted"] is True
    assert result["train_step_flops"] == 2 * 2 * (CONV_MACS + LINEAR_MACS) + 2 * 2 * (CONV_MACS + 2 * LINEAR_MACS)
    train = result["train"]
    assert train["achieved_flops"] == pytest.approx(result["train_step_flops"] / train["step_s"])
    assert train["images_per_s"] == pytest.approx(2 / train["step_s"])
    assert result["infer"]["peak_rss_mib"] <= train["peak_rss_mib"]  # the peak only grows; inference runs first
    for phase in (train, result["infer"]):
        assert phase["cpu_user_s"] >= 0 and phase["cpu_sys_s"] >= 0 and phase["minor_faults"] >= 0
    json.dumps(result)  # serialisable as it is


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="minor page faults as Linux counts them")
def test_cpu_usage_counts_kernel_time_and_page_faults_of_fresh_memory():
    from benchmarks.harness import cpu_usage

    size = 128 * 2**20  # above glibc's largest mmap threshold (32 MiB): freshly mapped, whatever the heap holds
    before = cpu_usage()
    block = torch.ones(size // 4)
    after = cpu_usage()
    assert block.sum().item() == block.numel()
    assert after["minor_faults"] - before["minor_faults"] >= size // (2 * 2**20)  # at least one per 2 MiB page
    assert after["user_s"] + after["sys_s"] > before["user_s"] + before["sys_s"]


def test_case_table_shows_the_kernel_share_of_training_cpu_time():
    from benchmarks.report import case_table

    plain = _fake(100.0, 25.0, latency=1.0, train_flops=600.0, step=10.0, peak=100.0, mem=2048)
    with_cpu = {**plain, "train": {**plain["train"], "cpu_user_s": 15.0, "cpu_sys_s": 5.0, "minor_faults": 9.0}}
    old_header, old_row = case_table({"a": plain})[0], case_table({"a": plain})[2]
    header, row = case_table({"a": with_cpu})[0], case_table({"a": with_cpu})[2]
    assert "kernel" not in old_header and "kernel" in header
    assert header.count("|") == old_header.count("|") + 1 == row.count("|")
    assert "| 15.0 / 5.0 (25%) |" in row and old_row.count("|") == old_header.count("|")
    mixed = case_table({"a": with_cpu, "b": plain})
    assert "| – |" in mixed[3] and mixed[3].count("|") == header.count("|")


def _fake(flops_infer, ptflops=None, latency=None, train_flops=None, step=None, peak=None, mem=None, params=None,
          rss_before=500.0, batch=2):
    r = {"infer_flops_per_sample": flops_infer, "ptflops_gmac": ptflops, "train_batch": batch,
         "params": params or {"total": 10, "inference": 8}, "train_step_flops": train_flops,
         "matmul_peak": {"peak_flops": peak} if peak else {}}
    if latency is not None:
        r["infer"] = {"latency_s": latency, "peak_rss_mib": rss_before + 100, "rss_before_mib": rss_before,
                      "peak_gpu_mib": None}
    if step is not None:
        r["train"] = {"step_s": step, "achieved_flops": train_flops / step, "peak_rss_mib": mem,
                      "rss_before_mib": rss_before, "peak_gpu_mib": None}
    return r


def test_compare_and_targets():
    cases = {
        "unet_hr_hrf": _fake(400.0, 100.0, latency=4.0),
        "unet_lr_hrf": _fake(100.0, 25.0, latency=1.0, params={"total": 8, "inference": 8}),
        "ds2f_unet_hrf": _fake(100.0, 25.5, latency=1.1, train_flops=600.0, step=10.0, peak=100.0, mem=8 * 1024),
        "ssmaf_unet_idrid": _fake(80.0, 20.0, latency=1.0, train_flops=300.0, step=10.0, peak=100.0, mem=17 * 1024),
        "mrcnet_student_cadcap": _fake(30.0, latency=1.0, train_flops=90.0, step=1.0, mem=700.0),
        "mrcnet_teacher_cadcap": _fake(90.0, latency=3.0, train_flops=270.0, step=3.0, mem=1100.0),
        "ds2f_unet_hrf_ckpt": _fake(100.0, 25.5, train_flops=690.0, step=11.5, peak=100.0, mem=4.5 * 1024),
    }
    cases["ds2f_unet_hrf"]["train_saved_gib"] = {"total": 6.0}
    cases["ds2f_unet_hrf_ckpt"]["train_saved_gib"] = {"total": 3.0}
    rmi = {"size": [2, 2, 1168, 1752], "speedup_vs_authors": 1.5, "value_rel_diff": 0.0, "device": "cpu",
           "results": {"monai_ext": {"time_s_median": 1.0}, "authors_host_float64": {"time_s_median": 1.5}}}
    comparisons = {c["name"]: c["values"] for c in compare(cases, rmi)}
    hr = comparisons["DS2F inference (LR in, HR out) / plain U-Net at the HR input"]
    assert hr["flops_ratio"] == 0.25 and hr["latency_ratio"] == pytest.approx(1.1 / 4.0)
    lr = comparisons["eval-mode DS2F / plain U-Net at the same LR input"]
    assert lr["flops_ratio"] == 1.0 and lr["inference_params_ratio"] == 1.0
    mrc = comparisons["MRC-Net student (T=1) / recursive teacher (T=3)"]  # growth above 500 MiB: 200 vs 600
    assert mrc["flops_ratio"] == pytest.approx(1 / 3) and mrc["train_memory_growth_ratio"] == pytest.approx(200 / 600)
    ckpt = comparisons["DS2F training with activation checkpointing / without"]  # growth above 500 MiB
    assert ckpt["saved_activations_ratio"] == 0.5 and ckpt["train_flops_ratio"] == pytest.approx(1.15)
    assert ckpt["train_step_ratio"] == pytest.approx(1.15)
    assert ckpt["train_memory_growth_ratio"] == pytest.approx((4.5 * 1024 - 500) / (8 * 1024 - 500))

    status = {t["target"]: t["status"] for t in check_targets({"paper": cases}, rmi, "cpu")}
    assert status["DS2F eval-mode conv work equals the plain U-Net at the LR input"] == "pass"
    assert status["DS2F eval-mode work is about 1/4 of the plain U-Net at the HR input (x2)"] == "pass"
    assert [v for k, v in status.items() if k.startswith("RMILoss")] == ["fail"]  # 1.5x < 2x
    frac = {k.rsplit(": ", 1)[1]: v for k, v in status.items() if "matmul peak" in k}
    assert frac == {"ds2f_unet_hrf": "pass", "ssmaf_unet_idrid": "fail"}  # 60% and 30% of the peak
    mem = {k.rsplit(": ", 1)[1]: v for k, v in status.items() if "memory" in k}
    assert mem == {"ds2f_unet_hrf": "pass", "ds2f_unet_hrf_ckpt": "pass", "ssmaf_unet_idrid": "fail"}  # 8, 4.5, 17 GiB
    without_ckpt = {k: v for k, v in cases.items() if k != "ds2f_unet_hrf_ckpt"}
    names = [t["target"] for t in check_targets({"paper": without_ckpt}, rmi, "cpu")]
    assert not any(n.endswith("ds2f_unet_hrf_ckpt") for n in names)  # optional case: no "not measured" row
    missing = check_targets({"small": {}}, None, "cpu")
    assert {t["status"] for t in missing} == {"not measured"}


def test_json_and_markdown_writing(tmp_path):
    cases = {"unet_lr_hrf": {**_fake(100.0, 25.0, latency=1.0, train_flops=600.0, step=10.0, peak=100.0, mem=2048),
                             "bundle": "ds2f", "lr_hw": [584, 876], "out_hw": [584, 876]},
             "broken": {"error": "worker exit 1: boom", "bundle": "x"}}
    run = {"name": "unit", "machine": {"cpu_model": "test cpu"}, "options": {"device": "cpu"},
           "cases": {"paper": cases}, "targets": [{"target": "t1", "status": "pass", "detail": "ok"}],
           "matmul_peak": {"peak_flops": 1e11, "dtype": "float32", "size": 64, "times_s": [1.0]}}
    path = write_json(run, tmp_path / "sub" / "unit.json")
    assert read_json(path) == run
    text = render_markdown([read_json(path)], intro="# Title", notes="## Notes")
    assert text.startswith("# Title") and text.rstrip().endswith("## Notes")
    row = next(line for line in text.splitlines() if line.startswith("| unet_lr_hrf"))
    # W x H sizes, params in M, GMac, GFLOPs per sample, achieved 60 FLOP/s of a 100 FLOP/s peak, 2 GiB peak
    assert "876x584 -> 876x584" in row and "| 25.00 |" in row and "(60%)" in row and "| 2.00 /" in row
    assert "| broken | x | error: worker exit 1: boom |" in text
    assert "| t1 | **pass** | ok |" in text


def test_cli_rejects_unknown_case():
    with pytest.raises(SystemExit):
        _parse_args(["--models", "no_such_case"])
    args = _parse_args(["--sizes", "paper", "--amp", "bf16", "--models", "unet_lr_hrf"])
    assert args.sizes == "paper" and args.amp == "bf16" and args.models == ["unet_lr_hrf"]


def test_saved_activation_bytes_by_hand():
    # Linear saves its input (2 x 4 floats; the weight is a parameter, not counted), ReLU saves its output (2 x 3)
    from benchmarks.flops import saved_activation_bytes

    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = torch.randn(2, 4)
    saved = saved_activation_bytes(net, lambda: net(x).sum().backward())
    assert saved == {"0": 2 * 4 * 4, "1": 2 * 3 * 4, "total": 56}
