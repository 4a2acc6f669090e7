# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the SRGAN generator, the cascaded x2 generator and the discriminator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_ext.networks import CascadedSRGenerator, SRDiscriminator, SRGenerator


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("scale", [2, 4, 8, 16])
@pytest.mark.parametrize("residual_per_stage", [True, False])
def test_generator_output_sizes(scale, residual_per_stage):
    net = SRGenerator(in_channels=3, out_channels=1, scale_factor=scale, features=8, num_res_blocks=1,
                      residual_per_stage=residual_per_stage)
    out = net(torch.rand(1, 3, 5, 7))
    assert out.shape == (1, 1, 5 * scale, 7 * scale)
    stages = len(net.stages)
    assert 2**stages == scale
    with_body = [stage.body is not None for stage in net.stages]
    assert with_body == ([True] * stages if residual_per_stage else [True] + [False] * (stages - 1))


def test_deconv_upsampling_and_invalid_scale():
    net = SRGenerator(scale_factor=4, features=8, num_res_blocks=1, upsample="deconv")
    assert net(torch.rand(2, 3, 6, 9)).shape == (2, 3, 24, 36)
    with pytest.raises(ValueError, match="power of two"):
        SRGenerator(scale_factor=3)
    with pytest.raises(ValueError, match="upsample"):
        SRGenerator(upsample="bilinear")


def _block_params(c):
    return 2 * (9 * c * c) + 2 * (2 * c)  # two bias-free convs + two BNs


def _stage_params(c, blocks):
    body = blocks * _block_params(c) + 9 * c * c + 2 * c if blocks else 0
    return body + (9 * c * 4 * c + 4 * c)  # sub-pixel conv c -> 4c with bias


def test_generator_parameter_counts():
    c = 64
    # paper layout at x4: 3x3 stem/head, 16 residual blocks in each of the two x2 stages
    expected = (9 * 3 * c + c) + 2 * _stage_params(c, 16) + (9 * c * 3 + 3)
    assert _count(SRGenerator(scale_factor=4)) == expected
    # SRResNet layout (one residual body, 9x9 stem/head): about 1.55M parameters like SRGAN's SRResNet x4
    srresnet = SRGenerator(scale_factor=4, residual_per_stage=False, stem_kernel_size=9, head_kernel_size=9)
    expected = (81 * 3 * c + c) + _stage_params(c, 16) + _stage_params(c, 0) + (81 * c * 3 + 3)
    assert _count(srresnet) == expected == 1_547_331
    assert abs(_count(srresnet) - 1.55e6) / 1.55e6 < 0.005


@pytest.mark.parametrize("shape", [(96, 96), (40, 57), (17, 31), (128, 64)])
def test_discriminator_any_input_size(shape):
    torch.manual_seed(0)
    net = SRDiscriminator(base_channels=8, hidden_features=16)
    out = net(torch.rand(2, 3, *shape))
    assert out.shape == (2, 1) and torch.isfinite(out).all()


def test_discriminator_layout_and_parameter_count():
    net = SRDiscriminator()
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [m.stride[0] for m in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.features) == 7
    widths = [3, 64, 64, 128, 128, 256, 256, 512, 512]
    conv_params = (9 * 3 * 64 + 64) + sum(9 * a * b + 2 * b for a, b in zip(widths[1:-1], widths[2:]))
    dense = (512 * 6 * 6 * 1024 + 1024) + (1024 + 1)
    assert _count(net) == conv_params + dense
    # 96x96 (SRGAN's crop) gives 6x6 features, so the adaptive pooling is the identity there
    x = torch.rand(1, 3, 96, 96)
    net.eval()
    feats = net.features(x)
    assert feats.shape[-2:] == (6, 6)
    torch.testing.assert_close(net(x), net.classifier(feats))


def test_cascaded_generator_chains_x2_stages(tmp_path):
    torch.manual_seed(0)
    cascade = CascadedSRGenerator(num_stages=3, features=8, num_res_blocks=1).eval()
    assert cascade.scale_factor == 8
    x = torch.rand(1, 3, 4, 6)
    out = cascade(x)
    assert out.shape == (1, 3, 32, 48)
    torch.testing.assert_close(out, cascade.stages[2](cascade.stages[1](cascade.stages[0](x))))
    assert cascade(x, num_stages=1).shape == (1, 3, 8, 12)

    cascade.train()
    cascade.freeze_stages(2)
    assert not any(p.requires_grad for p in cascade.stages[0].parameters())
    assert not cascade.stages[1].training and cascade.stages[2].training
    assert all(p.requires_grad for p in cascade.stages[2].parameters())

    trained = SRGenerator(scale_factor=2, features=8, num_res_blocks=1)
    torch.save({"generator": trained.state_dict(), "optimizer": {}}, tmp_path / "stage0.pt")
    cascade.load_stage(0, tmp_path / "stage0.pt")
    for a, b in zip(cascade.stages[0].state_dict().values(), trained.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        cascade.load_stage(0, tmp_path / "nope.pt")


def test_one_adversarial_step_changes_both_networks():
    torch.manual_seed(0)
    g = SRGenerator(scale_factor=2, features=8, num_res_blocks=1)
    d = SRDiscriminator(base_channels=8, hidden_features=16)
    g_opt, d_opt = torch.optim.Adam(g.parameters(), 1e-3), torch.optim.Adam(d.parameters(), 1e-3)
    g_before = [p.detach().clone() for p in g.parameters()]
    d_before = [p.detach().clone() for p in d.parameters()]
    lr, hr = torch.rand(2, 3, 8, 10), torch.rand(2, 3, 16, 20)
    sr = g(lr)
    real, fake = d(hr), d(sr.detach())
    d_loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    fake = d(sr)
    g_loss = F.mse_loss(sr, hr) + 0.01 * F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    assert all(not torch.equal(a, p) for a, p in zip(g_before, g.parameters()) if p.requires_grad)
    assert all(not torch.equal(a, p) for a, p in zip(d_before, d.parameters()))
