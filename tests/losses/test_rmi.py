# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of monai_ext.losses.RMILoss against a direct float64 numpy implementation of the RMI formula."""

from __future__ import annotations

import math
import numpy as np
import pytest
import torch

from monai_ext.losses import RMILoss

REG = 5e-4


def _np_pool(x: np.ndarray, mode: str, k: int, s: int) -> np.ndarray:
    """Pool a (H, W) map with padding k // 2; avg counts the zero padding, max ignores it."""
    p = k // 2
    h, w = x.shape
    out_h, out_w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            vals = []
            for a in range(i * s - p, i * s - p + k):
                for b in range(j * s - p, j * s - p + k):
                    if 0 <= a < h and 0 <= b < w:
                        vals.append(x[a, b])
            out[i, j] = sum(vals) / (k * k) if mode == "avg" else max(vals)
    return out


def _np_rmi_loss(logits, labels, num_classes, radius=3, pool="avg", k=3, s=3, lam=0.5, ignore=255):
    """Direct float64 implementation of the published RMI loss (sigmoid BCE + RMI lower bound), per sample."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    n, c, h, w = logits.shape
    d = radius * radius
    bce_sums, n_valid, rmi = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        for y in range(h):
            for x in range(w):
                lab = labels[i, y, x]
                if lab == ignore or not 0 <= lab < num_classes:
                    continue
                n_valid[i] += 1
                for ch in range(c):
                    z, t = logits[i, ch, y, x], float(lab == ch)
                    bce_sums[i] += max(z, 0) - z * t + math.log1p(math.exp(-abs(z)))
        valid = (labels[i] != ignore) & (labels[i] >= 0) & (labels[i] < num_classes)
        for ch in range(c):
            lab_map = ((labels[i] == ch) & valid).astype(np.float64)
            prob_map = 1.0 / (1.0 + np.exp(-logits[i, ch])) * valid + 1e-6
            if s > 1:
                lab_map, prob_map = _np_pool(lab_map, pool, k, s), _np_pool(prob_map, pool, k, s)
            hh, ww = lab_map.shape[0] - radius + 1, lab_map.shape[1] - radius + 1
            la = np.stack([lab_map[a : a + hh, b : b + ww].ravel() for a in range(radius) for b in range(radius)])
            pr = np.stack([prob_map[a : a + hh, b : b + ww].ravel() for a in range(radius) for b in range(radius)])
            la = la - la.mean(axis=1, keepdims=True)
            pr = pr - pr.mean(axis=1, keepdims=True)
            cov_y, cov_p, cov_yp = la @ la.T, pr @ pr.T, la @ pr.T
            post = cov_y - cov_yp @ np.linalg.inv(cov_p + REG * np.eye(d)) @ cov_yp.T
            chol = np.linalg.cholesky(post + REG * np.eye(d))
            rmi[i] += 0.5 * 2.0 * np.sum(np.log(np.diag(chol) + 1e-8)) / d
    mean = lam * bce_sums.sum() / (n_valid.sum() + 1) + (1 - lam) * rmi.mean()
    per_sample = lam * bce_sums / (n_valid + 1) + (1 - lam) * rmi
    return mean, per_sample, rmi


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 13, 17, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, 3, (2, 13, 17), generator=g)
    return logits, labels


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_matches_numpy_reference(batch, pool):
    logits, labels = batch
    expected, per_sample, _ = _np_rmi_loss(logits.numpy(), labels.numpy(), 3, pool=pool)
    got = RMILoss(num_classes=3, pool=pool)(logits, labels)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-6)
    got_none = RMILoss(num_classes=3, pool=pool, reduction="none")(logits, labels)
    assert got_none.shape == (2,)
    np.testing.assert_allclose(got_none.numpy(), per_sample, rtol=1e-6)
    got_sum = RMILoss(num_classes=3, pool=pool, reduction="sum")(logits, labels)
    np.testing.assert_allclose(got_sum.item(), per_sample.sum(), rtol=1e-6)


def test_float32_input_close_to_reference(batch):
    logits, labels = batch
    expected, _, _ = _np_rmi_loss(logits.float().double().numpy(), labels.numpy(), 3)
    got = RMILoss(num_classes=3)(logits.float(), labels)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.item(), expected, rtol=1e-4)


def test_no_downsampling_radius_2_and_ignore_index(batch):
    logits, labels = batch
    labels = labels.clone()
    labels[0, :4, :5] = 255
    labels[1, 6, 3:9] = 255
    loss = RMILoss(num_classes=3, radius=2, pool_stride=1, lambda_weight=0.3, reduction="none")
    expected = _np_rmi_loss(logits.numpy(), labels.numpy(), 3, radius=2, s=1, lam=0.3)[1]
    np.testing.assert_allclose(loss(logits, labels).numpy(), expected, rtol=1e-6)


def test_ignored_pixels_do_not_affect_bce(batch):
    logits, labels = batch
    labels = labels.clone()
    labels[:, :3] = 255
    loss = RMILoss(num_classes=3, lambda_weight=1.0)
    changed = logits.clone()
    changed[:, :, :3] = 50.0
    torch.testing.assert_close(loss(logits, labels), loss(changed, labels))


def test_one_hot_equals_labels(batch):
    logits, labels = batch
    labels = labels.clone()
    labels[1, 2:5, 2:5] = 255
    one_hot = torch.nn.functional.one_hot(labels.clamp(max=2), 3).permute(0, 3, 1, 2).double()
    one_hot = one_hot * (labels != 255).unsqueeze(1)
    loss = RMILoss(num_classes=3, reduction="none")
    torch.testing.assert_close(loss(logits, one_hot), loss(logits, labels))
    torch.testing.assert_close(loss(logits, labels.unsqueeze(1)), loss(logits, labels))


def test_perfect_prediction_limit():
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 2, (1, 30, 24), generator=g)
    one_hot = torch.nn.functional.one_hot(labels, 2).permute(0, 3, 1, 2).double()
    logits = (one_hot * 2 - 1) * 40.0  # sigmoid(+-40) is 1 / 4e-18: probabilities equal the labels
    rmi = RMILoss(num_classes=2, lambda_weight=0.0)(logits, labels).item()
    # with P == Y the posterior covariance has eigenvalues l*a/(l+a) for the eigenvalues l of Cov(Y), so
    # each class gives 0.5/d * sum log(a * (2l + a) / (l + a)), between 0.5*log(a) and 0.5*log(2a)
    pooled = torch.nn.functional.avg_pool2d(one_hot, 3, 3, 1)[0].numpy()
    expected = 0.0
    for ch in range(2):
        m = pooled[ch]
        v = np.stack([m[a : a + m.shape[0] - 2, b : b + m.shape[1] - 2].ravel() for a in range(3) for b in range(3)])
        v = v - v.mean(axis=1, keepdims=True)
        eig = np.linalg.eigvalsh(v @ v.T)
        expected += 0.5 / 9 * np.sum(np.log(REG * (2 * eig + REG) / (eig + REG)))
    assert rmi == pytest.approx(expected, rel=1e-5)
    assert 2 * 0.5 * math.log(REG) - 1e-6 <= rmi <= 2 * 0.5 * math.log(2 * REG) + 1e-6


def test_random_logits_give_positive_rmi():
    # the covariances are sums over the positions, so the bound is positive once there are enough of them
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 2, 96, 80, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 2, (2, 96, 80), generator=g)
    rmi = RMILoss(num_classes=2, lambda_weight=0.0, reduction="none")(logits, labels)
    assert (rmi > 0).all()
    perfect_logits = (labels.unsqueeze(1) == torch.arange(2).view(1, 2, 1, 1)) * 80.0 - 40.0
    perfect = RMILoss(num_classes=2, lambda_weight=0.0, reduction="none")(perfect_logits.double(), labels)
    assert (perfect < 0).all() and (perfect < rmi).all()


@pytest.mark.parametrize("fill", [0, 1])
def test_constant_masks_finite_value_and_grad(fill):
    logits = torch.randn(2, 2, 20, 16, dtype=torch.float64, requires_grad=True)
    labels = torch.full((2, 20, 16), fill)
    loss = RMILoss(num_classes=2, lambda_weight=0.0, reduction="none")(logits, labels)
    expected = _np_rmi_loss(logits.detach().numpy(), labels.numpy(), 2, lam=0.0)[1]
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-6)
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all()
    full = RMILoss(num_classes=2)(logits, labels)
    full.backward()
    assert torch.isfinite(full) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("size", [(1, 1), (2, 5), (4, 4), (5, 40)])
def test_small_maps_skip_rmi_term(size):
    logits = torch.randn(2, 2, *size, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 2, (2, *size))
    with pytest.warns(UserWarning, match="smaller than radius"):
        loss = RMILoss(num_classes=2)(logits, labels)
    with pytest.warns(UserWarning, match="smaller than radius"):
        bce_only = RMILoss(num_classes=2, lambda_weight=1.0)(logits, labels)
        rmi_only = RMILoss(num_classes=2, lambda_weight=0.0)(logits, labels)
    torch.testing.assert_close(loss, 0.5 * bce_only)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert rmi_only.item() == 0.0 and rmi_only.requires_grad


def test_map_equal_to_radius_is_finite():
    # 9x9 -> 3x3 after pooling: a single neighbourhood, zero covariances, RMI = 0.5 * log(reg) per class
    logits = torch.randn(1, 2, 9, 9, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 2, (1, 9, 9))
    loss = RMILoss(num_classes=2, lambda_weight=0.0)(logits, labels)
    assert loss.item() == pytest.approx(2 * math.log(math.sqrt(REG) + 1e-8), rel=1e-9)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_non_square_batch_of_one_interpolate():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 2, 21, 33, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 2, (1, 21, 33), generator=g)
    loss = RMILoss(num_classes=2, pool="interpolate", reduction="none")(logits, labels)
    assert loss.shape == (1,)
    # independent interpolation: nearest for labels, bilinear align_corners=True for probabilities, 7x11
    valid_probs = torch.sigmoid(logits) + 1e-6
    one_hot = torch.nn.functional.one_hot(labels, 2).permute(0, 3, 1, 2).double()
    rows = torch.linspace(0, 20, 7, dtype=torch.float64)
    cols = torch.linspace(0, 32, 11, dtype=torch.float64)
    r0, c0 = rows.floor().long().clamp(max=19), cols.floor().long().clamp(max=31)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    p = valid_probs[0]
    bilinear = (
        p[:, r0][:, :, c0] * (1 - fr) * (1 - fc)
        + p[:, r0 + 1][:, :, c0] * fr * (1 - fc)
        + p[:, r0][:, :, c0 + 1] * (1 - fr) * fc
        + p[:, r0 + 1][:, :, c0 + 1] * fr * fc
    )
    nearest = one_hot[0][:, (torch.arange(7) * 21) // 7][:, :, (torch.arange(11) * 33) // 11]
    rmi = 0.0
    for ch in range(2):
        la = np.stack([nearest[ch, a : a + 5, b : b + 9].reshape(-1).numpy() for a in range(3) for b in range(3)])
        pr = np.stack([bilinear[ch, a : a + 5, b : b + 9].reshape(-1).numpy() for a in range(3) for b in range(3)])
        la, pr = la - la.mean(1, keepdims=True), pr - pr.mean(1, keepdims=True)
        post = la @ la.T - la @ pr.T @ np.linalg.inv(pr @ pr.T + REG * np.eye(9)) @ pr @ la.T
        rmi += 0.5 * 2 * np.log(np.diag(np.linalg.cholesky(post + REG * np.eye(9))) + 1e-8).sum() / 9
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, one_hot, reduction="sum") / (21 * 33 + 1)
    np.testing.assert_allclose(loss.item(), 0.5 * bce.item() + 0.5 * rmi, rtol=1e-6)


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 2, (2, 7, 6), generator=g)
    logits = torch.randn(2, 2, 7, 6, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(RMILoss(num_classes=2, pool_stride=1), (logits, labels))
    logits = torch.randn(1, 2, 12, 15, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 2, (1, 12, 15), generator=g)
    assert torch.autograd.gradcheck(RMILoss(num_classes=2, lambda_weight=0.0), (logits, labels))


@pytest.mark.parametrize("band_bytes", [1, 8000, 2**30], ids=["one-row-bands", "few-row-bands", "one-band"])
def test_centred_gram_matches_explicit_covariances_and_autograd(monkeypatch, band_bytes):
    """The fused Gram block (one product per band of rows, hand-written backward) against the three centred
    covariances written out with autograd: same values and the same gradient for the probability map."""
    from monai_ext.losses import rmi
    from monai_ext.losses.rmi import _CentredGram

    monkeypatch.setattr(rmi, "_CPU_BAND_BYTES", band_bytes)
    assert len(_CentredGram._bands(torch.zeros(3, 2, 9, 11, dtype=torch.float64), 3)) == {1: 7, 8000: 4, 2**30: 1}[
        band_bytes
    ]

    g = torch.Generator().manual_seed(7)
    probs = torch.rand(3, 1, 9, 11, generator=g, dtype=torch.float64, requires_grad=True)
    labels = (torch.rand(3, 1, 9, 11, generator=g) > 0.6).double()
    gram = _CentredGram.apply(probs, labels, 3)
    pr = torch.nn.functional.unfold(probs, 3)
    la = torch.nn.functional.unfold(labels, 3)
    pr_c, la_c = pr - pr.mean(-1, keepdim=True), la - la.mean(-1, keepdim=True)
    expected = [pr_c @ pr_c.transpose(1, 2), la_c @ pr_c.transpose(1, 2), la_c @ la_c.transpose(1, 2)]
    for got, want in zip((gram[:, :9, :9], gram[:, 9:, :9], gram[:, 9:, 9:]), expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    weights = torch.randn(3, 18, 18, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad((gram * weights).sum(), probs)
    reference = torch.cat([torch.cat([expected[0], expected[1].transpose(1, 2)], 2),
                           torch.cat([expected[1], expected[2]], 2)], 1)
    (grad_ref,) = torch.autograd.grad((reference * weights).sum(), probs)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(lambda p: _CentredGram.apply(p, labels, 2), (probs,))


def test_centred_gram_accumulates_float32_inputs_in_float64():
    """float32 maps are accumulated in float64 (the same Gram matrix as float64 inputs of the same values) and the
    gradient comes back in float32."""
    from monai_ext.losses.rmi import _CentredGram

    g = torch.Generator().manual_seed(3)
    probs32 = torch.rand(2, 1, 12, 10, generator=g, requires_grad=True)
    labels32 = (torch.rand(2, 1, 12, 10, generator=g) > 0.5).float()
    probs64 = probs32.detach().double().requires_grad_(True)
    gram32 = _CentredGram.apply(probs32, labels32, 3)
    gram64 = _CentredGram.apply(probs64, labels32.double(), 3)
    assert gram32.dtype == torch.float64
    torch.testing.assert_close(gram32, gram64, rtol=0, atol=0)
    weights = torch.randn(2, 18, 18, generator=g, dtype=torch.float64)
    (grad32,) = torch.autograd.grad((gram32 * weights).sum(), probs32)
    (grad64,) = torch.autograd.grad((gram64 * weights).sum(), probs64)
    assert grad32.dtype == torch.float32
    torch.testing.assert_close(grad32, grad64.float(), rtol=0, atol=0)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="reduction"):
        RMILoss(reduction="avg")
    with pytest.raises(ValueError, match="pool"):
        RMILoss(pool="median")
    with pytest.raises(ValueError, match="num_classes"):
        RMILoss(num_classes=1)
    with pytest.raises(ValueError, match="channels"):
        RMILoss(num_classes=3)(torch.zeros(1, 2, 9, 9), torch.zeros(1, 9, 9, dtype=torch.long))
