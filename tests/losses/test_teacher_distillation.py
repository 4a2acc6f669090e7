# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""TeacherDistillationLoss against the expression it replaces in sai_diagnosis' distill.json.

The former config loss was ``lambda output, targets: @distill_loss(output, @teacher(targets['image'],
return_features=True), targets['hr_image'])`` with ``@teacher = MRCNet(...).eval().requires_grad_(False)``; the
wrapper must give the same loss, the same gradients and the same training step.
"""

from __future__ import annotations

import copy

import pytest
import torch
from monai.engines import SupervisedTrainer
from monai.handlers import from_engine

from monai_ext.engines import DualStreamPrepareBatch
from monai_ext.losses import RecursionDistillationLoss, TeacherDistillationLoss
from monai_ext.networks import MRCNet

pytestmark = pytest.mark.usefixtures("one_thread")


def _networks(seed: int = 0) -> tuple[MRCNet, MRCNet]:
    """A small single-pass student and a recursive teacher with different weights, as in distill.json."""
    torch.manual_seed(seed)
    teacher = MRCNet(scale_factor=2, num_recursions=3, features=8, head_features=8).eval().requires_grad_(False)
    student = MRCNet(scale_factor=2, num_recursions=1, features=8, head_features=8).train()
    return student, teacher


def _batch(batch: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"image": torch.rand(batch, 3, 8, 8, generator=g), "hr_image": torch.rand(batch, 3, 16, 16, generator=g)}


def _config_lambda(distill_loss, teacher):
    """The former ``loss`` of distill.json, with ``@distill_loss`` and ``@teacher`` substituted."""
    return lambda output, targets: distill_loss(output, teacher(targets["image"], return_features=True),
                                                targets["hr_image"])


def _wrapper(distill_loss, teacher) -> TeacherDistillationLoss:
    """The new ``loss`` of distill.json."""
    return TeacherDistillationLoss(teacher, distill_loss, teacher_kwargs={"return_features": True},
                                   input_key="image", target_key="hr_image")


def test_same_loss_and_gradients_as_the_config_lambda():
    student, teacher = _networks()
    distill = RecursionDistillationLoss(feature_weights=(2.0, 2.0, 2.0, 0.5), distillation_weight=1.0)
    inputs, targets = DualStreamPrepareBatch(image_key="image", target_keys=("hr_image", "image"))(_batch())
    results = []
    for loss_function in (_config_lambda(distill, teacher), _wrapper(distill, teacher)):
        student.zero_grad(set_to_none=True)
        loss = loss_function(student(inputs), targets)
        loss.backward()
        grads = {name: None if p.grad is None else p.grad.clone() for name, p in student.named_parameters()}
        results.append((loss.detach(), grads, dict(distill.last_terms)))
    (old_loss, old_grads, old_terms), (new_loss, new_grads, new_terms) = results
    assert old_loss.ndim == 0 and old_loss > 0
    torch.testing.assert_close(new_loss, old_loss, rtol=0, atol=0)
    assert new_grads.keys() == old_grads.keys()
    assert sum(g is not None for g in old_grads.values()) > 0
    for name in old_grads:
        assert (new_grads[name] is None) == (old_grads[name] is None), name
        if old_grads[name] is not None:
            torch.testing.assert_close(new_grads[name], old_grads[name], rtol=0, atol=0)
    assert new_terms.keys() == old_terms.keys()
    for key in old_terms:
        torch.testing.assert_close(new_terms[key], old_terms[key], rtol=0, atol=0)
    assert all(p.grad is None for p in teacher.parameters())


def test_same_training_step_as_the_config_lambda():
    """One SupervisedTrainer iteration (distill.json's trainer and prepare_batch) reaches the same weights."""
    student, teacher = _networks()
    batch = _batch()
    weights = []
    for make_loss in (_config_lambda, _wrapper):
        network = copy.deepcopy(student)
        trainer = SupervisedTrainer(
            device=torch.device("cpu"), max_epochs=1, train_data_loader=[batch], network=network,
            optimizer=torch.optim.Adam(network.parameters(), lr=1e-3),
            loss_function=make_loss(RecursionDistillationLoss(), teacher),
            prepare_batch=DualStreamPrepareBatch(image_key="image", target_keys=("hr_image", "image")),
            optim_set_to_none=True,
        )
        trainer.run()
        weights.append((from_engine(["loss"], first=True)(trainer.state.output), network.state_dict()))
    (old_loss, old_state), (new_loss, new_state) = weights
    torch.testing.assert_close(new_loss, old_loss, rtol=0, atol=0)
    for name in old_state:
        torch.testing.assert_close(new_state[name], old_state[name], rtol=0, atol=0)
    assert any(not torch.equal(old_state[k], v) for k, v in student.state_dict().items())  # the step did something


def test_teacher_stays_frozen():
    torch.manual_seed(0)
    teacher = MRCNet(scale_factor=2, num_recursions=3, features=8, head_features=8).train()  # not frozen yet
    loss = TeacherDistillationLoss(teacher, RecursionDistillationLoss(), teacher_kwargs={"return_features": True})
    assert loss.teacher is teacher
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    loss.train()
    assert loss.training and loss.distillation_loss.training and not teacher.training
    loss.eval()
    assert not teacher.training


def test_weights_loaded_into_the_teacher_later_are_used():
    """distill.json restores the teacher's checkpoint in ``run``, after ``loss`` is built."""
    student, teacher = _networks()
    distill = RecursionDistillationLoss()
    loss = _wrapper(distill, teacher)
    inputs, targets = DualStreamPrepareBatch(image_key="image", target_keys=("hr_image", "image"))(_batch())
    with torch.no_grad():
        before = loss(student(inputs), targets)
        teacher.load_state_dict(MRCNet(scale_factor=2, num_recursions=3, features=8, head_features=8).state_dict())
        after = loss(student(inputs), targets)
        expected = _config_lambda(distill, teacher)(student(inputs), targets)
    assert not torch.equal(before, after)
    torch.testing.assert_close(after, expected, rtol=0, atol=0)


def test_reduction_last_terms_and_no_target():
    student, teacher = _networks()
    inputs = _batch()["image"]
    per_sample = RecursionDistillationLoss(reconstruction_weight=0.0, reduction="none")
    loss = TeacherDistillationLoss(teacher, per_sample, teacher_kwargs={"return_features": True}, target_key=None)
    assert loss.reduction == "none"
    with torch.no_grad():
        value = loss(student(inputs), {"image": inputs})
        expected = per_sample(student(inputs), teacher(inputs, return_features=True))
    assert value.shape == (2,)
    torch.testing.assert_close(value, expected, rtol=0, atol=0)
    assert loss.last_terms is per_sample.last_terms and "reconstruction" not in loss.last_terms
    assert TeacherDistillationLoss(teacher, lambda s, t: (s - t).abs().mean()).last_terms == {}


def test_errors():
    _, teacher = _networks()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        TeacherDistillationLoss(lambda x: x, RecursionDistillationLoss())
    with pytest.raises(TypeError, match="callable"):
        TeacherDistillationLoss(teacher, "mse")
    loss = _wrapper(RecursionDistillationLoss(), teacher)
    with pytest.raises(KeyError, match="image"):
        loss({}, {"hr_image": torch.zeros(1, 3, 16, 16)})
    with pytest.raises(KeyError, match="hr_image"):
        loss({}, {"image": torch.zeros(1, 3, 8, 8)})
