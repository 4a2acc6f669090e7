# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests of the adversarial SR training pieces (batch preparation, losses, trainer with MONAI handlers)."""

from __future__ import annotations

import glob

import mlflow
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.data import DataLoader
from ignite.engine import Events
from monai.engines import SupervisedTrainer
from monai.engines.utils import IterationEvents
from monai.handlers import (
    CheckpointLoader, CheckpointSaver, MLFlowHandler, StatsHandler, TensorBoardStatsHandler, from_engine,
)

from monai_ext.engines import (
    SRGanDiscriminatorLoss,
    SRGanGeneratorLoss,
    SRGanTrainer,
    SRPrepareBatch,
    gan_loss_terms,
    gaussian_downsample,
)
from monai_ext.losses import LocalSaliencyLoss, SaliencyWeightedMSELoss, VGGFeatureLoss
from monai_ext.networks import SRDiscriminator, SRGenerator
from monai_ext.transforms import LowResolutionPaird


def test_gaussian_downsample_matches_lr_transform():
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 16, 24)
    lr = gaussian_downsample(hr, 4)
    assert lr.shape == (2, 3, 4, 6)
    for n in range(2):
        expected = LowResolutionPaird(keys="image", scale_factor=4, method="gaussian")({"image": hr[n]})["image"]
        torch.testing.assert_close(lr[n], expected)
    torch.testing.assert_close(gaussian_downsample(torch.full((1, 1, 8, 8), 0.3), 2), torch.full((1, 1, 4, 4), 0.3))
    with pytest.raises(ValueError, match="divisible"):
        gaussian_downsample(hr, 5)


def test_prepare_batch_modes():
    torch.manual_seed(0)
    batch = {"image": torch.rand(2, 3, 4, 4), "hr_image": torch.rand(2, 3, 16, 16)}
    lr, hr = SRPrepareBatch()(batch)
    assert lr is batch["image"] or torch.equal(lr, batch["image"])
    assert torch.equal(hr, batch["hr_image"])
    lr, _ = SRPrepareBatch(scale_factor=2)(batch)
    torch.testing.assert_close(lr, gaussian_downsample(batch["hr_image"], 2))
    # cascade stage 2 of 2: input = frozen stage 1 applied to LR (x4 down), target = HR
    stage1 = SRGenerator(scale_factor=2, features=4, num_res_blocks=1).eval()
    lr, hr = SRPrepareBatch(scale_factor=4, input_network=stage1)(batch)
    assert lr.shape == (2, 3, 8, 8) and not lr.requires_grad
    # cascade stage 1 of 2: target = HR downsampled by 2
    lr, hr = SRPrepareBatch(scale_factor=4, target_scale_factor=2)(batch)
    assert lr.shape == (2, 3, 4, 4) and hr.shape == (2, 3, 8, 8)
    with pytest.raises(KeyError, match="hr_image"):
        SRPrepareBatch()({"image": batch["image"]})
    with pytest.raises(KeyError, match="lowres"):
        SRPrepareBatch(lr_key="lowres")(batch)


def test_generator_loss_wires_terms_with_their_weights():
    torch.manual_seed(0)
    sr, hr, fake = torch.rand(2, 3, 12, 16), torch.rand(2, 3, 12, 16), torch.randn(2, 1)
    loss_fn = SRGanGeneratorLoss(mse_weight=2.0, saliency_weight=0.5, adversarial_weight=0.1)
    assert loss_fn.vgg_loss is None
    adversarial = -F.logsigmoid(fake).mean()
    expected = 2.0 * SaliencyWeightedMSELoss()(sr, hr) + 0.5 * LocalSaliencyLoss()(sr, hr) + 0.1 * adversarial
    torch.testing.assert_close(loss_fn(sr, hr, fake), expected)
    # named like the bundle's loss_weights, plus the total (what LossTermsHandler logs)
    assert set(loss_fn.last_terms) == {"mse", "saliency", "adversarial", "total"}
    torch.testing.assert_close(loss_fn.last_terms["adversarial"], adversarial)
    torch.testing.assert_close(loss_fn.last_terms["mse"], SaliencyWeightedMSELoss()(sr, hr))
    torch.testing.assert_close(loss_fn.last_terms["total"], expected)
    assert not any(v.requires_grad for v in loss_fn.last_terms.values())
    # defaults: all content weights 1, adversarial 0.01; no logits -> no adversarial term
    default = SRGanGeneratorLoss()
    assert default.adversarial_weight == 0.01
    torch.testing.assert_close(default(sr, hr), SaliencyWeightedMSELoss()(sr, hr) + LocalSaliencyLoss()(sr, hr))
    vgg = VGGFeatureLoss(allow_random_weights=True)
    with_vgg = SRGanGeneratorLoss(vgg_loss=vgg, vgg_weight=3.0)
    torch.testing.assert_close(with_vgg(sr, hr) - default(sr, hr), 3.0 * vgg(sr, hr))
    with pytest.raises(ValueError, match="reduction"):
        SRGanGeneratorLoss(reduction="none")


def test_discriminator_loss_formula():
    real, fake = torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.5], [-3.0]])
    expected = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    torch.testing.assert_close(SRGanDiscriminatorLoss()(real, fake), expected)


def test_gradcheck_gan_losses():
    torch.manual_seed(0)
    sr = (0.1 + 0.8 * torch.rand(1, 1, 6, 7, dtype=torch.float64)).requires_grad_()
    hr = 0.1 + 0.8 * torch.rand(1, 1, 6, 7, dtype=torch.float64)
    fake = torch.randn(1, 1, dtype=torch.float64, requires_grad=True)
    g_loss = SRGanGeneratorLoss()
    assert torch.autograd.gradcheck(lambda s, f: g_loss(s, hr, f), (sr, fake), atol=1e-5, fast_mode=True)
    real = torch.randn(3, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SRGanDiscriminatorLoss(), (real, torch.randn(3, 1, dtype=torch.float64)))


def _loader(n=4):
    torch.manual_seed(0)
    data = [{"image": torch.rand(3, 8, 8), "hr_image": torch.rand(3, 16, 16)} for _ in range(n)]
    return DataLoader(data, batch_size=2, shuffle=False, num_workers=0)


def _networks():
    g = SRGenerator(scale_factor=2, features=8, num_res_blocks=1)
    d = SRDiscriminator(base_channels=8, hidden_features=16)
    return g, d


def test_trainer_updates_both_networks_and_works_with_monai_handlers(tmp_path, capsys):
    torch.manual_seed(0)
    g, d = _networks()
    g_before = [p.detach().clone() for p in g.parameters()]
    d_before = [p.detach().clone() for p in d.parameters()]
    g_opt = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.93, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), 1e-3, betas=(0.93, 0.999))
    handlers = [
        StatsHandler(name="gan_test", output_transform=gan_loss_terms, tag_name="loss"),
        TensorBoardStatsHandler(log_dir=str(tmp_path / "tb"), output_transform=gan_loss_terms),
        MLFlowHandler(tracking_uri=f"sqlite:///{tmp_path}/mlruns.db", output_transform=gan_loss_terms,
                      experiment_name="gan_test", close_on_complete=True),
        CheckpointSaver(save_dir=str(tmp_path / "models"), save_dict={"generator": g, "discriminator": d},
                        save_final=True, final_filename="gan_final.pt"),
    ]
    trainer = SRGanTrainer(
        device="cpu", max_epochs=1, train_data_loader=_loader(), g_network=g, g_optimizer=g_opt,
        g_loss_function=SRGanGeneratorLoss(), d_network=d, d_optimizer=d_opt,
        d_loss_function=SRGanDiscriminatorLoss(), train_handlers=handlers,
    )
    trainer.run()
    out = trainer.state.output  # decollated at MODEL_COMPLETED, as in MONAI's SupervisedTrainer
    assert isinstance(out, list) and len(out) == 2 and out[0]["pred"].shape == (3, 16, 16)
    assert all(np.isfinite(o[k]) for o in out for k in ("loss", "g_loss", "d_loss"))
    assert all(not torch.equal(a, p) for a, p in zip(g_before, g.parameters()))
    assert all(not torch.equal(a, p) for a, p in zip(d_before, d.parameters()))
    printed = capsys.readouterr().out
    assert "Iter: 2/2" in printed and "g_loss" in printed and "d_loss" in printed
    assert glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlruns.db")
    runs = client.search_runs([client.get_experiment_by_name("gan_test").experiment_id])
    assert len(client.get_metric_history(runs[0].info.run_id, "g_loss")) == 2
    lr = client.get_metric_history(runs[0].info.run_id, "lr_group_0")  # from trainer.optimizer = the G optimiser
    assert [m.value for m in lr] == pytest.approx([1e-3, 1e-3])
    state = torch.load(tmp_path / "models" / "gan_final.pt", weights_only=True)
    assert set(state) == {"generator", "discriminator"}
    for k, v in g.state_dict().items():
        torch.testing.assert_close(state["generator"][k], v)


def test_mse_stage_then_adversarial_stage_resumes_from_stage1_checkpoint(tmp_path):
    torch.manual_seed(0)
    g, d = _networks()
    stage1 = SupervisedTrainer(
        device="cpu", max_epochs=1, train_data_loader=_loader(), network=g,
        optimizer=torch.optim.Adam(g.parameters(), 1e-3), loss_function=torch.nn.MSELoss(),
        prepare_batch=SRPrepareBatch(),
        train_handlers=[CheckpointSaver(save_dir=str(tmp_path), save_dict={"generator": g}, save_final=True,
                                        final_filename="g_mse.pt")],
    )
    stage1.run()
    g2, _ = _networks()
    trainer = SRGanTrainer(
        device="cpu", max_epochs=1, epoch_length=1, train_data_loader=_loader(), g_network=g2,
        g_optimizer=torch.optim.Adam(g2.parameters(), 0.0), g_loss_function=SRGanGeneratorLoss(), d_network=d,
        d_optimizer=torch.optim.Adam(d.parameters(), 1e-3), d_loss_function=SRGanDiscriminatorLoss(),
        train_handlers=[CheckpointLoader(load_path=str(tmp_path / "g_mse.pt"), load_dict={"generator": g2})],
    )
    trainer.run()
    for k, v in g.state_dict().items():
        if "num_batches_tracked" in k or "running" in k:
            continue  # BN statistics move during the (lr = 0) adversarial step
        torch.testing.assert_close(g2.state_dict()[k], v)


def _trainer(g, d, **kwargs):
    return SRGanTrainer(
        device="cpu", max_epochs=1, train_data_loader=_loader(), g_network=g,
        g_optimizer=torch.optim.Adam(g.parameters(), 1e-3), g_loss_function=SRGanGeneratorLoss(), d_network=d,
        d_optimizer=torch.optim.Adam(d.parameters(), 1e-3), d_loss_function=SRGanDiscriminatorLoss(), **kwargs,
    )


def _weights(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return [not torch.equal(a, p) for a, p in zip(before, module.parameters())]


@pytest.mark.parametrize("set_to_none", [False, True])
def test_trainer_fires_monai_iteration_events_and_exposes_loss_and_optimizer(set_to_none):
    torch.manual_seed(0)
    g, d = _networks()
    trainer = _trainer(g, d, epoch_length=2, optim_set_to_none=set_to_none)
    assert trainer.optimizer is trainer.g_optimizer and trainer.network is g and trainer.loss_function is not None
    log, seen, start = [], {}, {}

    @trainer.on(Events.ITERATION_STARTED)
    def _start(engine):
        start.update(g=_weights(g), d=_weights(d))

    def record(event):
        def _handler(engine):
            log.append(event)
            out = engine.state.output
            if event == "forward":
                seen["pred_requires_grad"] = out["pred"].requires_grad
                seen["forward_keys"] = set(out)
            elif event == "loss":
                seen["loss"] = out["loss"].detach().clone()
                seen["loss_is_g_loss"] = out["loss"] is out["g_loss"]
                seen["loss_has_graph"] = out["loss"].grad_fn is not None
                seen["g_grads"] = [None if p.grad is None else p.grad.clone() for p in g.parameters()]
                seen["g_changed_at_loss"] = any(_changed(start["g"], g))
                seen["d_changed_at_loss"] = all(_changed(start["d"], d))  # D is updated before the G loss
            elif event == "backward":
                seen["g_has_grads"] = all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
                seen["g_changed_at_backward"] = any(_changed(start["g"], g))
            elif event == "model":
                seen["g_changed_at_model"] = all(_changed(start["g"], g))
                seen["model_output_type"] = type(out)
        return _handler

    trainer.add_event_handler(IterationEvents.FORWARD_COMPLETED, record("forward"))
    trainer.add_event_handler(IterationEvents.LOSS_COMPLETED, record("loss"))
    trainer.add_event_handler(IterationEvents.BACKWARD_COMPLETED, record("backward"))
    trainer.add_event_handler(IterationEvents.MODEL_COMPLETED, record("model"))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, record("iteration"))
    trainer.run()
    assert log == ["forward", "loss", "backward", "model", "iteration"] * 2
    assert seen["forward_keys"] == {"image", "label", "pred"} and seen["pred_requires_grad"]
    assert seen["loss"].ndim == 0 and seen["loss_is_g_loss"] and seen["loss_has_graph"]
    # second iteration: the G gradients of the first were cleared before the G loss, as optim_set_to_none says
    if set_to_none:
        assert all(grad is None for grad in seen["g_grads"])
    else:
        assert all(grad is not None and not grad.any() for grad in seen["g_grads"])
    assert seen["d_changed_at_loss"] and not seen["g_changed_at_loss"]
    assert seen["g_has_grads"] and not seen["g_changed_at_backward"] and seen["g_changed_at_model"]
    # MONAI's decollation ran at MODEL_COMPLETED (registered first); from_engine gives a plain number
    assert seen["model_output_type"] is list
    value = from_engine(["loss"], first=True)(trainer.state.output)
    assert isinstance(value, float) and value == pytest.approx(float(seen["loss"]))
    assert gan_loss_terms(trainer.state.output)["g_loss"] == pytest.approx(value)


def test_trainer_without_decollation_keeps_scalar_tensors_and_averages_discriminator_steps():
    g, d = _networks()
    with pytest.raises(ValueError, match="d_train_steps"):
        _trainer(g, d, d_train_steps=0)
    torch.manual_seed(0)
    trainer = _trainer(g, d, epoch_length=1, d_train_steps=3, decollate=False)
    d_losses = []
    original = trainer.d_loss_function

    def spy(real, fake):
        value = original(real, fake)
        d_losses.append(value.detach())
        return value

    trainer.d_loss_function = spy
    trainer.run()
    out = trainer.state.output
    assert out["loss"].ndim == 0 and out["loss"] is out["g_loss"] and not out["loss"].requires_grad
    assert out["pred"].shape == (2, 3, 16, 16) and not out["pred"].requires_grad
    assert len(d_losses) == 3
    torch.testing.assert_close(out["d_loss"], torch.stack(d_losses).mean())


def test_bf16_autocast_step_on_cpu():
    torch.manual_seed(0)
    g, d = _networks()
    g_start, d_start = _weights(g), _weights(d)
    trainer = _trainer(g, d, epoch_length=1, amp=True, amp_kwargs={"dtype": torch.bfloat16})
    assert trainer.amp_device_type == "cpu" and not trainer.g_scaler.is_enabled()  # no scaling for bf16
    seen = {}

    @trainer.on(IterationEvents.LOSS_COMPLETED)
    def _capture(engine):
        seen["pred"] = engine.state.output["pred"].dtype
        seen["g_loss"] = engine.state.output["g_loss"].dtype
        seen["d_loss"] = engine.state.output["d_loss"].dtype

    trainer.run()
    assert seen == {"pred": torch.bfloat16, "g_loss": torch.float32, "d_loss": torch.float32}
    assert all(p.dtype == torch.float32 for p in g.parameters())
    assert all(_changed(g_start, g)) and all(_changed(d_start, d))
    assert all(torch.isfinite(p).all() for p in (*g.parameters(), *d.parameters()))
    assert np.isfinite(trainer.state.output[0]["loss"])
    # without amp the same step runs in float32
    g2, d2 = _networks()
    plain = _trainer(g2, d2, epoch_length=1)
    plain.add_event_handler(IterationEvents.FORWARD_COMPLETED, lambda e: seen.update(fp32=e.state.output["pred"].dtype))
    plain.run()
    assert seen["fp32"] == torch.float32


def test_compiled_networks_train_like_eager_ones():
    torch.manual_seed(0)
    g, d = _networks()
    g2, d2 = _networks()
    g2.load_state_dict(g.state_dict())
    d2.load_state_dict(d.state_dict())
    eager = _trainer(g, d, epoch_length=1)
    compiled = _trainer(g2, d2, epoch_length=1, compile=True, compile_kwargs={"backend": "eager"})
    assert isinstance(compiled.g_network, torch._dynamo.eval_frame.OptimizedModule) and compiled.compile
    assert isinstance(compiled.d_network, torch._dynamo.eval_frame.OptimizedModule)
    eager.run()
    compiled.run()
    for a, b in zip((*g.parameters(), *d.parameters()), (*g2.parameters(), *d2.parameters())):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
