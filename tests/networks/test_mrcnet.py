# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of MRC-Net (student / recursive teacher): published counts, outputs, weight sharing and the RCF option."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from monai_ext.networks import MRCNet
from monai_ext.networks.convlstm import FeedbackConvLSTMCell
from monai_ext.networks.rcf import RefinedContextFusion


def _num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _flops(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    # FLOPs depend on shapes only: count on the meta device, so the full-size counts are cheap
    with torch.device("meta"):
        x = torch.empty(shape)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(x)
    return counter.get_total_flops()


@pytest.fixture(scope="module")
def full_size_counts():
    with torch.device("meta"):
        student = MRCNet(scale_factor=4, num_recursions=1)
        teacher = MRCNet(scale_factor=4, num_recursions=3)
        student_x2 = MRCNet(scale_factor=2, num_recursions=1)
    return {
        "student_params": _num_params(student),
        "teacher_params": _num_params(teacher),
        "x2_params": _num_params(student_x2),
        "parts": {
            "head": _num_params(student.head),
            "lstm": _num_params(student.lstm),
            "mrc": _num_params(student.mrc),
            "upsampler_tail": _num_params(student.upsampler) + _num_params(student.tail),
        },
        "student_flops": _flops(student, (1, 3, 128, 128)),
        "teacher_flops": _flops(teacher, (1, 3, 128, 128)),
        "x2_flops": _flops(student_x2, (1, 3, 96, 96)),
    }


def test_published_parameter_counts(full_size_counts):
    assert full_size_counts["student_params"] == 789_769
    assert full_size_counts["teacher_params"] == 789_769
    # component breakdown measured on the released classes (spec A.5); lstm = pre-block 29,888 + 4 gates 36,992
    assert full_size_counts["parts"] == {"head": 112_704, "lstm": 29_888 + 36_992, "mrc": 487_910,
                                         "upsampler_tail": 122_275}
    assert full_size_counts["x2_params"] == 752_777


def test_published_flop_counts(full_size_counts):
    assert full_size_counts["student_flops"] == pytest.approx(3.187e10, rel=5e-4)
    assert full_size_counts["teacher_flops"] == pytest.approx(8.826e10, rel=5e-4)
    assert full_size_counts["x2_flops"] == pytest.approx(1.275e10, rel=5e-4)


def test_drop_unused_final_rcf():
    model = MRCNet(keep_final_global_rcf=False)
    assert _num_params(model) == 789_769 - 2_177  # 2,177 = conv_mask 33 + SE 1,072 + context transform 1,072


@pytest.mark.parametrize("scale", [2, 4])
def test_output_dict_shapes_and_eval_tensor(scale):
    torch.manual_seed(0)
    model = MRCNet(scale_factor=scale, num_recursions=2)
    x = torch.rand(2, 3, 9, 11)  # odd sizes: the global path is ceil(H/2)
    out = model.train()(x)
    assert out["sr"].shape == (2, 3, 9 * scale, 11 * scale)
    for key in ("cell_state", "lstm_output", "feat_pre_ps"):
        assert out[key].shape == (2, 32, 9, 11)
    assert out["feat_post_ps"].shape == (2, 32, 9 * scale, 11 * scale)
    assert len(out["sr_steps"]) == 2 and out["sr_steps"][-1] is out["sr"]
    # h = o * tanh(c) is bounded by |tanh(c)|
    assert torch.all(out["lstm_output"].abs() <= torch.tanh(out["cell_state"].abs()) + 1e-6)
    sr_eval = model.eval()(x)
    assert isinstance(sr_eval, torch.Tensor)
    torch.testing.assert_close(sr_eval, out["sr"])
    assert isinstance(model(x, return_features=True), dict)


def test_global_skip_is_bicubic():
    model = MRCNet()
    torch.nn.init.zeros_(model.tail[-1].weight)
    torch.nn.init.zeros_(model.tail[-1].bias)
    x = torch.rand(1, 3, 8, 8)
    expected = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    torch.testing.assert_close(model.eval()(x), expected)


def test_teacher_state_dict_loads_into_student():
    torch.manual_seed(1)
    teacher = MRCNet(num_recursions=3)
    student = MRCNet(num_recursions=1)
    assert list(teacher.state_dict()) == list(student.state_dict())
    student.load_state_dict(teacher.state_dict(), strict=True)
    x = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        t_out = teacher.train()(x)
        s_out = student.train()(x)
    # same weights: the student's single step is the teacher's first step, and later steps differ
    torch.testing.assert_close(s_out["sr"], t_out["sr_steps"][0])
    assert not torch.allclose(t_out["sr_steps"][2], t_out["sr_steps"][0])


def _dead_parameters(model: MRCNet, x: torch.Tensor) -> tuple[set[str], int]:
    model.zero_grad(set_to_none=True)
    model.train()(x)["sr"].square().mean().backward()
    dead = {n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)}
    live = sum(p.numel() for n, p in model.named_parameters() if n not in dead)
    return dead, live


def _activate_context_transforms(model: MRCNet) -> None:
    # the last context conv is zero-initialised (no context gradient at init); give it weights to see the paths
    g = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, RefinedContextFusion):
            last = module.context_transform[-1]
            last.weight.data = 0.1 * torch.randn(last.weight.shape, generator=g)
            last.bias.data = 0.1 * torch.randn(last.bias.shape, generator=g)


def test_rcf_released_behaviour_kills_global_path():
    torch.manual_seed(0)
    model = MRCNet(rcf_released_behaviour=True)
    _activate_context_transforms(model)
    dead, live = _dead_parameters(model, torch.rand(2, 3, 12, 12))
    # measured on the released code by backprop (spec A.1.4): 111 tensors without gradient, 517,779 live params
    assert len(dead) == 111
    assert live == 517_779
    assert all(("global" in n) or ("conv_mask" in n) or ("context_transform" in n) or n.startswith("mrc.to_global")
               or n.startswith("lstm.conv_f") for n in dead)


def test_rcf_fixed_global_path_gets_gradient():
    torch.manual_seed(0)
    model = MRCNet()
    _activate_context_transforms(model)
    dead, live = _dead_parameters(model, torch.rand(2, 3, 12, 12))
    # only the student's forget gate (c_0 = 0) and the never-executed last-stage global RCF stay without gradient
    expected = {"lstm.conv_f.weight", "lstm.conv_f.bias"} | {
        n for n, _ in model.named_parameters() if n.startswith("mrc.stages.2.rcf_global.")
    }
    assert dead == expected
    assert live == 789_769 - 9_248 - 2_177
    assert any(n.startswith("mrc.stages.0.global_blocks") for n, _ in model.named_parameters() if n not in dead)


def test_rcf_against_reference_computation():
    torch.manual_seed(0)
    rcf = RefinedContextFusion(8, reduction=2)
    torch.nn.init.normal_(rcf.context_transform[-1].weight, std=0.2)
    backbone, bypass = torch.randn(2, 8, 5, 6), torch.randn(2, 8, 5, 6)
    logits = torch.einsum("c,bchw->bhw", rcf.conv_mask.weight.view(8), backbone) + rcf.conv_mask.bias
    attention = torch.softmax(logits.reshape(2, -1), dim=1).view(2, 5, 6)
    context = torch.einsum("bhw,bchw->bc", attention, bypass)[..., None, None]
    gap = backbone.mean(dim=(2, 3))
    se_scale = torch.sigmoid(rcf.se.fc[2](torch.relu(rcf.se.fc[0](gap))))[..., None, None]
    expected = backbone * se_scale + rcf.context_transform(context)
    torch.testing.assert_close(rcf(backbone, bypass), expected)
    rcf.released_behaviour = True
    torch.testing.assert_close(rcf(backbone, bypass), backbone * se_scale)
    with pytest.raises(ValueError, match="differ"):
        rcf(backbone, bypass[..., :3])


def test_feedback_cell_state_update():
    torch.manual_seed(0)
    cell = FeedbackConvLSTMCell(4)
    x, y_prev, c_prev = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    h, c = cell(x, y_prev, c_prev)
    h0, c0 = cell(x, y_prev, torch.zeros_like(c_prev))
    # c is affine in c_prev with the forget gate f in (0, 1): c - c0 = f * c_prev
    forget = (c - c0) / c_prev
    assert torch.all((forget > 0) & (forget < 1))
    torch.testing.assert_close(h, torch.sigmoid(cell.conv_o(cell.input_proj(cell.input_block(
        cell.input_fuse(torch.cat([x, y_prev], 1)))))) * torch.tanh(c))
    # the gates see the previous MRC output (feedback), not h_{t-1}
    assert not torch.allclose(cell(x, torch.zeros_like(y_prev), c_prev)[1], c)


def test_optimisation_step_changes_parameters():
    torch.manual_seed(0)
    model = MRCNet(scale_factor=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
    loss = F.l1_loss(model.train()(x)["sr"], hr)
    loss.backward()
    optimiser.step()
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert "head.conv1.conv.weight" in changed and "tail.2.weight" in changed
    assert torch.isfinite(loss)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"scale_factor": 3}, "scale_factor"), ({"num_recursions": 0}, "num_recursions"),
     ({"out_channels": 1}, "out_channels")],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MRCNet(**kwargs)
