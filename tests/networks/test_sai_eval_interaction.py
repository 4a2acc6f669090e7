# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Eval-mode behaviour of the Sample Affinity Interaction: the reference bank (default) and the released batch mode.

The released code lets the samples of an eval batch interact, so a prediction depends on what else is in its batch.
``eval_interaction="reference"`` makes each sample interact with itself and a bank of recent training samples only.
"""

from __future__ import annotations

import pytest
import torch

from monai_ext.networks import SAIDiagnosisNet, SAIFramework, SampleAffinityInteraction


@pytest.fixture(autouse=True)
def _float64():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the equalities below are exact up to summation order
    yield
    torch.set_default_dtype(dtype)


def _trained_block(channels: int = 8, bank_size: int = 4, steps: int = 3, **kwargs) -> SampleAffinityInteraction:
    torch.manual_seed(0)
    block = SampleAffinityInteraction(channels, bank_size=bank_size, **kwargs).train()
    for _ in range(steps):  # fills the bank and moves the BatchNorm statistics away from their initial values
        block(torch.randn(3, channels, 4, 4), torch.randn(3, channels, 8, 8))
    return block.eval()


def test_the_bank_keeps_the_newest_training_inputs_first():
    torch.manual_seed(0)
    block = SampleAffinityInteraction(4, bank_size=5).train()
    batches = [(torch.randn(3, 4, 2, 2), torch.randn(3, 4, 6, 6)) for _ in range(2)]
    for f_lr, f_sr in batches:
        block(f_lr, f_sr)
    torch.testing.assert_close(block.bank_lr, torch.cat([batches[1][0], batches[0][0][:2]]), rtol=0, atol=0)
    torch.testing.assert_close(block.bank_sr, torch.cat([batches[1][1], batches[0][1][:2]]), rtol=0, atol=0)
    block.eval()(*batches[0])
    assert block.bank_lr.shape[0] == 5  # eval forwards leave the bank alone
    torch.testing.assert_close(block.bank_lr[:3], batches[1][0], rtol=0, atol=0)


def test_reference_output_is_the_batch_output_over_the_sample_and_the_bank():
    block = _trained_block()
    batch_block = _trained_block(eval_interaction="batch")
    torch.testing.assert_close(batch_block.bank_lr, block.bank_lr, rtol=0, atol=0)  # same weights and bank
    f_lr, f_sr = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        out_lr, out_sr, a_lr, a_sr, m_s2l, m_l2s = block(f_lr, f_sr)
        for i in range(2):
            augmented_lr = torch.cat([f_lr[i : i + 1], block.bank_lr])
            augmented_sr = torch.cat([f_sr[i : i + 1], block.bank_sr])
            ref_lr, ref_sr, ref_a_lr, ref_a_sr, ref_s2l, ref_l2s = batch_block(augmented_lr, augmented_sr)
            torch.testing.assert_close(out_lr[i], ref_lr[0])
            torch.testing.assert_close(out_sr[i], ref_sr[0])
            for row, ref in ((a_lr, ref_a_lr), (a_sr, ref_a_sr), (m_s2l, ref_s2l), (m_l2s, ref_l2s)):
                torch.testing.assert_close(row[i], ref[0])
    assert a_lr.shape == (2, 1 + 4) and m_s2l.shape == (2, 1 + 4)


def test_reference_mode_prediction_does_not_depend_on_the_batch():
    torch.manual_seed(0)
    net = SAIDiagnosisNet(in_channels=3, num_classes=2, bank_size=4).train()
    for _ in range(2):
        net(torch.rand(4, 3, 32, 32), torch.rand(4, 3, 64, 64))
    net.eval()
    x_lr, x_sr = torch.rand(5, 3, 32, 32), torch.rand(5, 3, 64, 64)

    def logits(lr: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        out = net(lr, sr, return_dict=True)
        return torch.cat([out["logits_sr"], out["logits_lr"], out["logits_aux"], out["logits_ens"]], dim=1)

    with torch.no_grad():
        batched = logits(x_lr, x_sr)
        alone = torch.cat([logits(x_lr[i : i + 1], x_sr[i : i + 1]) for i in range(5)])
        shuffled = logits(x_lr.flip(0), x_sr.flip(0)).flip(0)
    assert batched[:, :6].abs().min() > 0  # branch logits (the untrained gate may zero the ensemble)
    torch.testing.assert_close(batched, alone)
    torch.testing.assert_close(batched, shuffled)
    # the released behaviour really does depend on the batch: that is what the option fixes
    for block in net.interactions:
        block.eval_interaction = "batch"
    with torch.no_grad():
        batch_mode = logits(x_lr, x_sr)
        batch_mode_alone = torch.cat([logits(x_lr[i : i + 1], x_sr[i : i + 1]) for i in range(5)])
    assert (batch_mode - batch_mode_alone).abs().max() > 1e-3


def test_training_mode_is_the_same_for_both_options():
    torch.manual_seed(0)
    reference = SAIDiagnosisNet(num_classes=2, eval_interaction="reference").train()
    released = SAIDiagnosisNet(num_classes=2, eval_interaction="batch").train()
    released.load_state_dict(reference.state_dict())
    x_lr, x_sr = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 64, 64)
    out_reference, out_released = reference(x_lr, x_sr), released(x_lr, x_sr)
    for key in ("logits_ens", "logits_sr", "logits_lr", "logits_aux", "gate_weights"):
        torch.testing.assert_close(out_reference[key], out_released[key])


def test_bank_is_saved_and_loaded_with_the_checkpoint(tmp_path):
    block = _trained_block()
    path = tmp_path / "sai.pt"
    torch.save(block.state_dict(), path)
    fresh = SampleAffinityInteraction(8, bank_size=4)
    assert fresh.bank_lr.numel() == 0
    fresh.load_state_dict(torch.load(path, weights_only=True))
    torch.testing.assert_close(fresh.bank_lr, block.bank_lr, rtol=0, atol=0)
    torch.testing.assert_close(fresh.bank_sr, block.bank_sr, rtol=0, atol=0)
    f_lr, f_sr = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(f_lr, f_sr)[0], block(f_lr, f_sr)[0], rtol=0, atol=0)


def test_checkpoint_without_bank_loads_and_the_sample_is_alone(tmp_path):
    block = _trained_block()
    state = {k: v for k, v in block.state_dict().items() if not k.startswith("bank_")}  # an older checkpoint
    fresh = SampleAffinityInteraction(8, bank_size=4)
    fresh.load_state_dict(state, strict=True)
    assert fresh.bank_lr.numel() == 0 and fresh.bank_sr.numel() == 0
    batch_block = SampleAffinityInteraction(8, eval_interaction="batch")
    batch_block.load_state_dict(state, strict=True)
    f_lr, f_sr = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        out = fresh.eval()(f_lr, f_sr)
        for i in range(2):  # with an empty bank each sample interacts with itself only: the batch output at batch 1
            torch.testing.assert_close(out[0][i], batch_block.eval()(f_lr[i : i + 1], f_sr[i : i + 1])[0][0])
    assert out[2].shape == (2, 1)


def test_framework_passes_the_options_to_every_block():
    framework = SAIFramework(num_classes=2, scale_factor=2, eval_interaction="batch", bank_size=3)
    assert [(b.eval_interaction, b.bank_size) for b in framework.diagnosis.interactions] == [("batch", 3)] * 4


def test_bank_of_another_input_size_and_bad_options_are_refused():
    block = _trained_block()
    with pytest.raises(ValueError, match="evaluate at the training image size"):
        block(torch.randn(1, 8, 5, 5), torch.randn(1, 8, 10, 10))
    with pytest.raises(ValueError, match="eval_interaction"):
        SampleAffinityInteraction(8, eval_interaction="mean")
    with pytest.raises(ValueError, match="bank_size"):
        SampleAffinityInteraction(8, bank_size=-1)


def test_fixed_shape_bank_behaves_as_the_growing_one_and_keeps_its_shape():
    torch.manual_seed(0)
    growing = SampleAffinityInteraction(4, bank_size=5)
    fixed = SampleAffinityInteraction(4, bank_size=5, bank_feature_shapes=((4, 3, 3), (4, 6, 6)))
    fixed.load_state_dict(growing.state_dict())  # same weights; the empty bank stays a (5, ...) zero bank
    assert fixed.bank_lr.shape == (5, 4, 3, 3) and fixed.filled_bank()[0].shape[0] == 0
    growing.train(), fixed.train()
    for batch in (3, 3):
        f_lr, f_sr = torch.rand(batch, 4, 3, 3), torch.rand(batch, 4, 6, 6)
        growing(f_lr, f_sr), fixed(f_lr, f_sr)
        assert fixed.bank_lr.shape == (5, 4, 3, 3) and fixed.bank_sr.shape == (5, 4, 6, 6)
    for got, expected in zip(fixed.filled_bank(), (growing.bank_lr, growing.bank_sr)):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    growing.eval(), fixed.eval()
    f_lr, f_sr = torch.rand(2, 4, 3, 3), torch.rand(2, 4, 6, 6)
    for a, b in zip(growing(f_lr, f_sr)[:2], fixed(f_lr, f_sr)[:2]):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="bank_input_size"):
        fixed.train()(torch.rand(2, 4, 4, 4), torch.rand(2, 4, 8, 8))


def test_shape_matching_loader_restores_a_fixed_shape_bank():
    """monai.bundle.load copies only tensors whose shapes match; fixed-shape banks make the reference bank survive."""
    from monai.networks.utils import copy_model_state

    from monai_ext.networks import SAIFramework

    torch.manual_seed(0)
    trained = SAIFramework(3, 2, scale_factor=2, widen_factor=0.25, bank_input_size=(32, 32)).train()
    trained(torch.rand(4, 3, 32, 32))
    fresh = SAIFramework(3, 2, scale_factor=2, widen_factor=0.25, bank_input_size=(32, 32))
    _, updated, _ = copy_model_state(fresh, trained.state_dict())
    assert len(updated) == len(trained.state_dict())
    grown = SAIFramework(3, 2, scale_factor=2, widen_factor=0.25)  # banks sized by the first batch
    assert copy_model_state(grown, trained.state_dict())[1] != list(trained.state_dict())  # banks dropped
    for block, source in zip(fresh.diagnosis.interactions, trained.diagnosis.interactions):
        torch.testing.assert_close(block.bank_lr, source.bank_lr, rtol=0, atol=0)


def test_unfilled_bank_rows_change_nothing():
    block = _trained_block(bank_size=3).eval()
    padded = SampleAffinityInteraction(8, bank_size=5, bank_feature_shapes=(block.bank_lr.shape[1:], block.bank_sr.shape[1:]))
    padded.load_state_dict(block.state_dict())  # 3 filled rows, 2 zero rows
    assert padded.bank_lr.shape[0] == 5 and padded.filled_bank()[0].shape[0] == 3
    padded.eval()
    f_lr, f_sr = torch.rand(2, *block.bank_lr.shape[1:]), torch.rand(2, *block.bank_sr.shape[1:])
    for a, b in zip(block(f_lr, f_sr)[:2], padded(f_lr, f_sr)[:2]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
