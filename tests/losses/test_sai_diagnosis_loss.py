# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of SAIDiagnosisLoss: the weighted total against an independent computation of every term."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_ext.losses import SAIDiagnosisLoss


def _outputs(batch: int = 3, classes: int = 3, dtype=torch.float32, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    out = {k: torch.randn(batch, classes, generator=g, dtype=dtype)
           for k in ("logits_sr", "logits_lr", "logits_aux", "logits_ens")}
    for k in ("affinity_lr", "affinity_sr", "mixing_s2l", "mixing_l2s"):
        out[k] = tuple(torch.randn(batch, batch, generator=g, dtype=dtype) for _ in range(4))
    return out


def _distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    return torch.linalg.matrix_norm(torch.softmax(x, 1) - torch.softmax(y, 1)) ** 2 / b**2


def _expected(out: dict, labels: torch.Tensor, w=(2, 1, 1, 1, 100, 100, 1)) -> torch.Tensor:
    ce = [F.cross_entropy(out[k], labels) for k in ("logits_ens", "logits_sr", "logits_lr", "logits_aux")]
    sac = sum(_distance(s, l) for s, l in zip(out["affinity_sr"], out["affinity_lr"]))
    sar = 0.5 * sum(_distance(m[k + 1], m[k]) for m in (out["mixing_s2l"], out["mixing_l2s"]) for k in range(3))
    p = {k: torch.softmax(out[k], 1).gather(1, labels[:, None]).squeeze(1)
         for k in ("logits_sr", "logits_lr", "logits_aux", "logits_ens")}
    m = 0.05
    rank = (torch.clamp(p["logits_lr"] - p["logits_sr"] + m, min=0)
            + torch.clamp(p["logits_sr"] - p["logits_ens"] + m, min=0)
            + torch.clamp(p["logits_aux"] - p["logits_ens"] + m, min=0)
            + torch.clamp(p["logits_lr"] - p["logits_ens"] + 2 * m, min=0)).mean()
    terms = ce + [sac, sar, rank]
    return sum(wi * t for wi, t in zip(w, terms))


def test_total_matches_independent_computation():
    out, labels = _outputs(), torch.tensor([0, 2, 1])
    torch.testing.assert_close(SAIDiagnosisLoss()(out, {"label": labels}), _expected(out, labels))
    # labels as (B, 1) or as the tensor itself
    torch.testing.assert_close(SAIDiagnosisLoss()(out, labels[:, None]), _expected(out, labels))


def test_weights_are_configurable():
    out, labels = _outputs(seed=4), torch.tensor([1, 1, 0])
    weights = dict(ensemble_weight=0.5, sr_weight=0.0, lr_weight=3.0, aux_weight=0.0, consistency_weight=10.0,
                   regularization_weight=0.0, rank_weight=2.0)
    loss = SAIDiagnosisLoss(**weights)(out, {"label": labels})
    torch.testing.assert_close(loss, _expected(out, labels, w=(0.5, 0.0, 3.0, 0.0, 10.0, 0.0, 2.0)))
    terms = SAIDiagnosisLoss()(out, {"label": labels}), SAIDiagnosisLoss().terms(out, {"label": labels})
    assert set(terms[1]) == {"ce_ens", "ce_sr", "ce_lr", "ce_aux", "consistency", "regularization", "rank"}
    torch.testing.assert_close(sum(t.mean() for t in terms[1].values()), terms[0])


def test_reductions_and_batch_of_one():
    out, labels = _outputs(batch=4), torch.tensor([0, 1, 2, 0])
    per_sample = SAIDiagnosisLoss(reduction="none")(out, {"label": labels})
    assert per_sample.shape == (4,)
    torch.testing.assert_close(per_sample.sum(), SAIDiagnosisLoss(reduction="sum")(out, {"label": labels}))
    torch.testing.assert_close(per_sample.mean(), SAIDiagnosisLoss()(out, {"label": labels}))
    single = _outputs(batch=1)
    loss = SAIDiagnosisLoss()(single, {"label": torch.tensor([2])})
    assert torch.isfinite(loss)
    # with one sample the affinity terms vanish (1 x 1 matrices): only CE and rank remain
    torch.testing.assert_close(loss, SAIDiagnosisLoss(consistency_weight=0, regularization_weight=0)(
        single, {"label": torch.tensor([2])}))


def test_gradcheck():
    base = _outputs(batch=3, classes=2, dtype=torch.float64, seed=7)
    labels = torch.tensor([1, 0, 1])
    keys = ("logits_sr", "logits_lr", "logits_aux", "logits_ens")
    mats = ("affinity_lr", "affinity_sr", "mixing_s2l", "mixing_l2s")
    inputs = tuple(base[k].clone().requires_grad_() for k in keys) + tuple(
        torch.stack(base[k]).requires_grad_() for k in mats)
    loss = SAIDiagnosisLoss(rank_use_probabilities=False)

    def total(*args):
        out = dict(zip(keys, args[:4]))
        out.update({k: tuple(v) for k, v in zip(mats, args[4:])})
        return loss(out, {"label": labels})

    # every term is gradchecked exhaustively in its own test; the composite with a random projection
    assert torch.autograd.gradcheck(total, inputs, fast_mode=True)


def test_errors():
    out = _outputs()
    with pytest.raises(ValueError, match="reduction"):
        SAIDiagnosisLoss(reduction="batchmean")
    with pytest.raises(KeyError, match="label"):
        SAIDiagnosisLoss()(out, {"hr_image": torch.zeros(1)})
    with pytest.raises(ValueError, match="2 labels"):
        SAIDiagnosisLoss()(out, {"label": torch.tensor([0, 1])})
