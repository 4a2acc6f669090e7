# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the SAC (eq. 9), SAR (eq. 11) and rank (eq. 13) losses on hand-built matrices and logits."""

from __future__ import annotations

import math

import pytest
import torch

from monai_ext.losses import RankLoss, SampleAffinityConsistencyLoss, SampleAffinityRegularizationLoss

LN2, LN3 = math.log(2.0), math.log(3.0)


def _diag(b: int, value: float) -> torch.Tensor:
    return value * torch.eye(b, dtype=torch.float64)


def test_sac_two_by_two_hand_values():
    x = torch.tensor([[0.0, LN3], [0.0, 0.0]], dtype=torch.float64)
    y = torch.zeros(2, 2, dtype=torch.float64)
    # T = 1: softmax rows of x are [1/4, 3/4] and [1/2, 1/2]; of y both [1/2, 1/2];
    # ||P - Q||_F^2 = 2 * (1/4)^2 = 1/8, divided by B^2 = 4
    assert SampleAffinityConsistencyLoss()([x], [y]).item() == pytest.approx(1 / 32)
    # T = 2: row 0 of x / 2 gives [1, sqrt(3)] / (1 + sqrt(3))
    delta = (math.sqrt(3) - 1) / (2 * (1 + math.sqrt(3)))
    assert SampleAffinityConsistencyLoss(temperature=2.0)(x, y).item() == pytest.approx(2 * delta**2 / 4)


def test_sac_sums_stages_and_reductions():
    # ln(2) I_3: softmax rows [1/2, 1/4, 1/4] (permuted); zeros: [1/3, 1/3, 1/3];
    # per row (1/6)^2 + 2 (1/12)^2 = 1/24, three rows 1/8, d = 1/8 / 9 = 1/72 per stage
    sr = [_diag(3, LN2), torch.zeros(3, 3, dtype=torch.float64)]
    lr = [torch.zeros(3, 3, dtype=torch.float64), _diag(3, LN2)]
    assert SampleAffinityConsistencyLoss()(sr, lr).item() == pytest.approx(2 / 72)
    assert SampleAffinityConsistencyLoss(reduction="sum")(sr, lr).item() == pytest.approx(3 * 2 / 72)
    per_row = SampleAffinityConsistencyLoss(reduction="none")(torch.stack(sr), torch.stack(lr))
    torch.testing.assert_close(per_row, torch.full((3,), 2 / 72, dtype=torch.float64))
    assert SampleAffinityConsistencyLoss()(sr[0], sr[0]).item() == 0.0


def test_sar_adjacent_stages_both_directions():
    zero, diag = torch.zeros(3, 3, dtype=torch.float64), _diag(3, LN2)
    loss = SampleAffinityRegularizationLoss()
    # s2l changes between stages 1 and 2 only; l2s is constant: 0.5 * 1/72
    assert loss([zero, diag, diag], [diag, diag, diag]).item() == pytest.approx(0.5 / 72)
    # both directions change once: 0.5 * (1/72 + 1/72)
    assert loss([zero, diag, diag], [zero, zero, diag]).item() == pytest.approx(1 / 72)
    # non-adjacent stages are not compared: [zero, diag, zero] changes twice
    assert loss([zero, diag, zero], [zero, zero, zero]).item() == pytest.approx(0.5 * 2 / 72)
    with pytest.raises(ValueError, match=">= 2"):
        loss([zero], [zero])


def test_affinity_losses_batch_of_one_are_zero_and_finite():
    a = torch.randn(4, 1, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, 1, 1, dtype=torch.float64, requires_grad=True)
    for loss in (SampleAffinityConsistencyLoss()(a, b), SampleAffinityRegularizationLoss()(a, b)):
        assert torch.isfinite(loss) and loss.item() == 0.0
        (grad_a,) = torch.autograd.grad(loss, a)
        assert torch.all(grad_a == 0)


def test_affinity_losses_gradcheck_and_both_inputs_get_gradient():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(3, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    for loss in (SampleAffinityConsistencyLoss(temperature=0.7), SampleAffinityRegularizationLoss(),
                 SampleAffinityConsistencyLoss(reduction="none")):
        assert torch.autograd.gradcheck(lambda x, y: loss(list(x), list(y)), (a, b))
    grads = torch.autograd.grad(SampleAffinityConsistencyLoss()(a, b), (a, b))
    assert all(torch.any(gr != 0) for gr in grads)  # nothing detached


def _hand_rank(scores: dict[str, list[float]], margin: float) -> float:
    total = 0.0
    for lr, sr, aux, ens in zip(scores["lr"], scores["sr"], scores["aux"], scores["ens"]):
        total += max(0.0, lr - sr + margin) + max(0.0, sr - ens + margin) + max(0.0, aux - ens + margin)
        total += max(0.0, lr - ens + 2 * margin)
    return total / len(scores["lr"])


def test_rank_loss_hand_values():
    logits = {
        "sr": torch.tensor([[0.2, 0.1], [0.0, 0.5]]),
        "lr": torch.tensor([[0.3, 0.0], [0.4, 0.4]]),
        "aux": torch.tensor([[1.0, -1.0], [0.0, 0.0]]),
        "ens": torch.tensor([[0.25, 0.0], [-1.0, 2.0]]),
    }
    target = torch.tensor([0, 1])
    true_logit = {k: [v[0, 0].item(), v[1, 1].item()] for k, v in logits.items()}

    def prob(v: torch.Tensor, i: int, t: int) -> float:
        return math.exp(v[i, t].item()) / sum(math.exp(z) for z in v[i].tolist())

    true_prob = {k: [prob(v, 0, 0), prob(v, 1, 1)] for k, v in logits.items()}
    args = (logits["sr"], logits["lr"], logits["aux"], logits["ens"], target)
    assert RankLoss(use_probabilities=False)(*args).item() == pytest.approx(_hand_rank(true_logit, 0.05))
    assert RankLoss()(*args).item() == pytest.approx(_hand_rank(true_prob, 0.05), rel=1e-6)
    assert RankLoss(margin=0.2, reduction="sum")(*args).item() == pytest.approx(2 * _hand_rank(true_prob, 0.2))
    assert RankLoss(reduction="none")(*args).shape == (2,)
    # a well-ordered sample (lr < sr < ens, aux < ens, gaps above the margins) costs nothing
    ordered = torch.tensor([[0.0, 0.0]]), torch.tensor([[-1.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    assert RankLoss(use_probabilities=False)(*ordered, torch.tensor([[1.0, 0.0]]), torch.tensor([[0]])).item() == 0.0


def test_rank_loss_gradcheck_and_batch_of_one():
    g = torch.Generator().manual_seed(1)
    logits = [torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True) for _ in range(4)]
    target = torch.tensor([0, 3, 1])
    for use_probabilities in (True, False):
        loss = RankLoss(margin=0.05, use_probabilities=use_probabilities)
        assert torch.autograd.gradcheck(lambda *z: loss(*z, target), tuple(logits))
    single = RankLoss()(*(z[:1] for z in logits), target[:1])
    assert torch.isfinite(single)


@pytest.mark.parametrize("cls", [SampleAffinityConsistencyLoss, SampleAffinityRegularizationLoss, RankLoss])
def test_invalid_reduction(cls):
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction="average")


def test_invalid_inputs():
    with pytest.raises(ValueError, match="temperature"):
        SampleAffinityConsistencyLoss(temperature=0.0)
    with pytest.raises(ValueError, match="B x B"):
        SampleAffinityConsistencyLoss()(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="stages"):
        SampleAffinityConsistencyLoss()([torch.zeros(2, 2)] * 2, [torch.zeros(2, 2)])
    with pytest.raises(ValueError, match="margin"):
        RankLoss(margin=-0.1)
