# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of monai_ext.losses.DualStreamLoss: every term equals its standalone loss, weights, skipping."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_ext.losses import ClassBalancedCELoss, DualStreamLoss, RMILoss, SSIMLoss

N, C, H, W = 2, 2, 24, 30


def _outputs(seed: int = 0, requires_grad: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {
        "seg": torch.randn(N, C, H, W, generator=g),
        "sr": torch.rand(N, 3, H, W, generator=g) * 2 - 1,
        "fused_seg": torch.randn(N, C, H, W, generator=g),
        "fused_sr": torch.rand(N, 3, H, W, generator=g) * 2 - 1,
    }
    return {k: v.requires_grad_(requires_grad) for k, v in out.items()}


def _targets(seed: int = 1, empty: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    label = torch.zeros(N, 1, H, W, dtype=torch.long) if empty else torch.randint(0, C, (N, 1, H, W), generator=g)
    return {
        "label": label,
        "hr_image": torch.rand(N, 3, H, W, generator=g) * 2 - 1,
        "intensity_range": torch.tensor([[-1.0, 1.0]] * N),
    }


def test_ds2f_default_terms_equal_standalone_losses():
    out, tgt = _outputs(), _targets()
    loss = DualStreamLoss()
    total = loss(out, tgt)
    label = tgt["label"][:, 0]
    expected = {
        "seg": F.cross_entropy(out["seg"], label),
        "sr": F.mse_loss(out["sr"], tgt["hr_image"]),
        "fused_seg": RMILoss(num_classes=C)(out["fused_seg"], label),
        "fused_sr": SSIMLoss(data_range=2.0)(out["fused_sr"], tgt["hr_image"]),
    }
    for name, value in expected.items():
        torch.testing.assert_close(loss.last_terms[name], value)
        assert not loss.last_terms[name].requires_grad
    torch.testing.assert_close(total, sum(expected.values()))
    torch.testing.assert_close(loss.last_terms["total"], total.detach())


def test_ss_maf_paper_configuration():
    out, tgt = _outputs(), _targets()
    loss = DualStreamLoss(seg_loss="cbce", fused_sr_loss="mse", cbce_beta=0.99)
    total = loss(out, tgt)
    label = tgt["label"][:, 0]
    expected = (
        ClassBalancedCELoss(beta=0.99)(out["seg"], label)
        + F.mse_loss(out["sr"], tgt["hr_image"])
        + RMILoss(num_classes=C)(out["fused_seg"], label)
        + F.mse_loss(out["fused_sr"], tgt["hr_image"])
    )
    torch.testing.assert_close(total, expected)


def test_weights_apply_and_dict_overrides():
    out, tgt = _outputs(), _targets()
    base = DualStreamLoss()
    base(out, tgt)
    terms = base.last_terms
    weighted = DualStreamLoss(seg_weight=2.0, weights={"sr": 0.5, "fused_sr": 3.0}, fused_seg_weight=0.25)
    total = weighted(out, tgt)
    expected = 2.0 * terms["seg"] + 0.5 * terms["sr"] + 0.25 * terms["fused_seg"] + 3.0 * terms["fused_sr"]
    torch.testing.assert_close(total, expected)
    zero = DualStreamLoss(weights={"fused_seg": 0.0})
    torch.testing.assert_close(zero(out, tgt), terms["seg"] + terms["sr"] + terms["fused_sr"])
    assert "fused_seg" not in zero.last_terms


def test_missing_outputs_are_skipped():
    out, tgt = _outputs(), _targets()
    loss = DualStreamLoss()
    full = DualStreamLoss()
    full(out, tgt)
    fim = {k: out[k] for k in ("seg", "sr", "fused_seg")}  # SuperVessel FIM: no fused_sr
    expected = full.last_terms["seg"] + full.last_terms["sr"] + full.last_terms["fused_seg"]
    torch.testing.assert_close(loss(fim, tgt), expected)
    assert set(loss.last_terms) == {"seg", "sr", "fused_seg", "total"}
    plain = loss({"seg": out["seg"]}, {"label": tgt["label"]})
    torch.testing.assert_close(plain, full.last_terms["seg"])
    eval_mode = loss(out["seg"], tgt)  # eval-mode network: a plain tensor is the seg output
    torch.testing.assert_close(eval_mode, full.last_terms["seg"])
    none_terms = DualStreamLoss(fused_sr_loss="none", fused_seg_loss="none")
    torch.testing.assert_close(none_terms(out, tgt), full.last_terms["seg"] + full.last_terms["sr"])


def test_supervessel_ce_on_fused_seg_and_ssim_data_range_fallback():
    out, tgt = _outputs(), _targets()
    loss = DualStreamLoss(fused_seg_loss="ce", ssim_data_range=1.0)
    del tgt["intensity_range"]
    loss(out, tgt)
    torch.testing.assert_close(loss.last_terms["fused_seg"], F.cross_entropy(out["fused_seg"], tgt["label"][:, 0]))
    torch.testing.assert_close(loss.last_terms["fused_sr"], SSIMLoss(data_range=1.0)(out["fused_sr"], tgt["hr_image"]))
    authors = DualStreamLoss(ssim_kwargs={"authors_data_range": True})
    authors(out, _targets())
    torch.testing.assert_close(authors.last_terms["fused_sr"], loss.last_terms["fused_sr"])


@pytest.mark.parametrize("seg_loss", ["ce", "cbce"])
def test_empty_mask_batch_is_finite_with_finite_grads(seg_loss):
    out, tgt = _outputs(requires_grad=True), _targets(empty=True)
    total = DualStreamLoss(seg_loss=seg_loss)(out, tgt)
    assert torch.isfinite(total)
    total.backward()
    for name, value in out.items():
        assert value.grad is not None and torch.isfinite(value.grad).all(), name


def test_reduction_none_is_per_sample():
    out, tgt = _outputs(), _targets()
    per_sample = DualStreamLoss(seg_loss="cbce", reduction="none")(out, tgt)
    assert per_sample.shape == (N,)
    for i in range(N):
        sample_out = {k: v[i : i + 1] for k, v in out.items()}
        label = tgt["label"][i : i + 1, 0]
        weights = ClassBalancedCELoss().class_weights(tgt["label"][:, 0], C).float()  # class weights of the batch
        cbce = F.cross_entropy(sample_out["seg"], label, weight=weights)
        expected = (
            cbce
            + F.mse_loss(sample_out["sr"], tgt["hr_image"][i : i + 1])
            + RMILoss(num_classes=C, reduction="none")(sample_out["fused_seg"], label)[0]
            + SSIMLoss(data_range=2.0)(sample_out["fused_sr"], tgt["hr_image"][i : i + 1])
        )
        torch.testing.assert_close(per_sample[i], expected)


def test_errors():
    out, tgt = _outputs(), _targets()
    with pytest.raises(ValueError, match="seg_loss"):
        DualStreamLoss(seg_loss="dice")
    with pytest.raises(ValueError, match="weight keys"):
        DualStreamLoss(weights={"aux": 1.0})
    with pytest.raises(ValueError, match="hr_image"):
        DualStreamLoss()(out, {"label": tgt["label"]})
    with pytest.raises(ValueError, match="no loss term"):
        DualStreamLoss()({"aux": out["seg"]}, tgt)
    with pytest.raises(ValueError, match="reduction"):
        DualStreamLoss(reduction="batch")
