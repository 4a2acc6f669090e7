# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for stopping on a non-finite loss after saving a checkpoint (MONAI SupervisedTrainer, ignite Engine)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader, MetaTensor, list_data_collate
from monai.engines import SupervisedTrainer

from monai_ext.handlers import NonFiniteLossError, NonFiniteLossHandler, batch_names, find_latest_checkpoint
from monai_ext.utils import safe_load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _setup(bad_index: int | None, handler_kwargs: dict, tmp_path, max_epochs: int = 2):
    gen = torch.Generator().manual_seed(0)
    data = []
    for i in range(8):
        image = torch.randn(1, 6, 6, generator=gen)
        if i == bad_index:
            image[0, 2, 3] = float("nan")  # e.g. a corrupt file, or a normalisation dividing by a zero range
        data.append({"image": image, "label": torch.randn(1, 6, 6, generator=gen), "id": f"case_{i:02d}"})
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(2, 1, 1))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    handler = NonFiniteLossHandler(
        save_dir=str(tmp_path), save_dict={"model": net, "optimizer": optimizer}, **handler_kwargs
    )
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=DataLoader(data, batch_size=4, shuffle=False),
        network=net,
        optimizer=optimizer,
        loss_function=torch.nn.MSELoss(),
        train_handlers=[handler],
    )
    history = {}
    trainer.add_event_handler(
        Events.ITERATION_STARTED,
        lambda e: history.__setitem__(e.state.iteration, {k: v.clone() for k, v in net.state_dict().items()}),
    )
    return trainer, net


def test_nan_loss_stops_before_the_step_with_checkpoint_and_names(tmp_path):
    trainer, net = _setup(bad_index=6, handler_kwargs={}, tmp_path=tmp_path)
    weights_before = None

    def remember(engine):
        nonlocal weights_before
        weights_before = {k: v.clone() for k, v in net.state_dict().items()}

    trainer.add_event_handler(Events.ITERATION_STARTED, remember)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.run()
    error = info.value
    assert (error.epoch, error.iteration) == (1, 2)
    assert error.names == ["case_04", "case_05", "case_06", "case_07"]
    message = str(error)
    assert "epoch 1, iteration 2" in message and "case_06" in message and "loss=" in message
    assert error.checkpoint_path == os.path.join(str(tmp_path), "nonfinite_epoch=1_iteration=2.pt")
    assert "before the optimizer step" in message
    # the optimizer step of the bad iteration never ran: weights in memory and on disk are the last finite ones
    for key, value in net.state_dict().items():
        assert torch.equal(value, weights_before[key])
        assert torch.isfinite(value).all()
    saved = safe_load_checkpoint(error.checkpoint_path)
    for key, value in saved["model"].items():
        assert torch.equal(value, weights_before[key])
    assert saved["trainer"]["iteration"] == 1  # last completed iteration: resuming repeats iteration 2
    assert "momentum_buffer" in saved["optimizer"]["state"][0]
    assert sorted(os.listdir(tmp_path)) == ["nonfinite_epoch=1_iteration=2.pt"]  # atomic: nothing else
    info_latest, _ = find_latest_checkpoint(tmp_path, ("model", "optimizer", "trainer"))
    assert info_latest.path == error.checkpoint_path and info_latest.iteration == 1


def _batchnorm_trainer(tmp_path, restore_buffers: bool):
    """Two batches; the second holds a NaN, which turns the BatchNorm running statistics NaN in its forward pass."""
    gen = torch.Generator().manual_seed(1)
    data = [{"image": torch.randn(1, 6, 6, generator=gen), "label": torch.randn(1, 6, 6, generator=gen)}
            for _ in range(4)]
    data[3]["image"][0, 1, 1] = float("nan")
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2), torch.nn.Conv2d(2, 1, 1))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    handler = NonFiniteLossHandler(str(tmp_path), {"model": net, "optimizer": optimizer},
                                   restore_buffers=restore_buffers)
    trainer = SupervisedTrainer(device=torch.device("cpu"), max_epochs=1,
                                train_data_loader=DataLoader(data, batch_size=2, shuffle=False), network=net,
                                optimizer=optimizer, loss_function=torch.nn.MSELoss(), train_handlers=[handler])
    before = {}
    trainer.add_event_handler(Events.ITERATION_STARTED,
                              lambda e: before.update({k: v.clone() for k, v in net.state_dict().items()}))
    return trainer, net, before


def test_buffers_from_before_the_bad_batch_are_put_back(tmp_path):
    trainer, net, before = _batchnorm_trainer(tmp_path, restore_buffers=True)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.run()
    assert info.value.iteration == 2
    saved = safe_load_checkpoint(info.value.checkpoint_path)["model"]
    assert before["1.num_batches_tracked"] == 1  # the state at the start of the bad iteration
    for key, value in before.items():
        assert torch.equal(net.state_dict()[key], value), key  # in memory
        assert torch.equal(saved[key], value), key  # and on disk
    assert torch.isfinite(saved["1.running_mean"]).all() and torch.isfinite(saved["1.running_var"]).all()


def test_without_restore_the_checkpoint_keeps_the_bad_statistics(tmp_path):
    trainer, net, before = _batchnorm_trainer(tmp_path / "off", restore_buffers=False)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.run()
    saved = safe_load_checkpoint(info.value.checkpoint_path)["model"]
    assert torch.isnan(saved["1.running_mean"]).all()
    assert saved["1.num_batches_tracked"] == 2
    assert torch.equal(saved["0.weight"], before["0.weight"])  # the weights are the last finite ones either way


def test_finite_run_is_untouched(tmp_path):
    trainer, _ = _setup(bad_index=None, handler_kwargs={}, tmp_path=tmp_path)
    trainer.run()
    assert trainer.state.iteration == 4
    assert os.listdir(tmp_path) == []


def test_iteration_completed_event_with_decollated_output(tmp_path):
    trainer, net = _setup(bad_index=1, handler_kwargs={"event": "iteration_completed"}, tmp_path=tmp_path)
    with pytest.raises(NonFiniteLossError, match="after the optimizer step") as info:
        trainer.run()
    assert (info.value.epoch, info.value.iteration) == (1, 1)
    assert info.value.names == ["case_00", "case_01", "case_02", "case_03"]  # from the decollated batch
    saved = safe_load_checkpoint(info.value.checkpoint_path)
    assert saved["trainer"]["iteration"] == 1
    assert not all(torch.isfinite(v).all() for v in saved["model"].values())  # the NaN step already happened


def test_gan_style_outputs_and_no_ids(tmp_path):
    """A plain ignite engine (GAN-like output dict, no LOSS_COMPLETED event, batches without ids)."""
    values = iter([(1.0, 0.5), (0.9, 0.4), (float("inf"), 0.3)])

    def step(engine, batch):
        g, d = next(values)
        return {"g_loss": torch.tensor(g), "d_loss": torch.tensor(d)}

    engine = Engine(step)
    net = torch.nn.Linear(2, 1)
    NonFiniteLossHandler(str(tmp_path), {"generator": net}, loss_keys=("g_loss", "d_loss")).attach(engine)
    with pytest.raises(NonFiniteLossError, match=r"iteration 3: g_loss=inf; batch: no ids") as info:
        engine.run([torch.zeros(1)] * 3, max_epochs=1)
    assert info.value.values == {"g_loss": "inf"}
    assert set(safe_load_checkpoint(info.value.checkpoint_path)) == {"generator", "trainer"}


def test_batch_names_from_ids_and_metadata():
    samples = [
        {"image": MetaTensor(torch.zeros(1, 2, 2), meta={"filename_or_obj": f"/data/img_{i}.png"})} for i in range(3)
    ]
    batch = list_data_collate(samples)
    assert batch_names(batch) == ["/data/img_0.png", "/data/img_1.png", "/data/img_2.png"]
    assert batch_names({"id": ["a", "b"], "image": batch["image"]}) == ["a", "b"]
    assert batch_names({"image": torch.zeros(1), "image_meta_dict": {"filename_or_obj": ["x.png"]}}) == ["x.png"]
    assert batch_names([torch.zeros(1)]) == []
    decollated = [{"id": "a", "image": torch.zeros(1)}, {"image": samples[1]["image"]}, {"image": torch.zeros(1)}]
    assert batch_names(decollated) == ["a", "/data/img_1.png", "?"]


def test_invalid_event_is_refused(tmp_path):
    with pytest.raises(ValueError, match="event must be"):
        NonFiniteLossHandler(str(tmp_path), {}, event="epoch")


def _distributed_worker(local_rank: int, save_dir: str, results: str) -> None:
    """One process of a 2-process gloo run: the loss is NaN on rank 1 only, at iteration 2."""
    import ignite.distributed as idist

    rank = idist.get_rank()
    net = torch.nn.Linear(2, 1)

    def step(engine, batch):
        bad = rank == 1 and engine.state.iteration == 2
        return {"loss": torch.tensor(float("nan") if bad else 1.0)}

    engine = Engine(step)
    NonFiniteLossHandler(save_dir, {"model": net}).attach(engine)
    try:
        engine.run([{"id": [f"r{rank}_b{i}"]} for i in range(4)], max_epochs=1)
        outcome = {"outcome": "finished"}
    except NonFiniteLossError as error:
        outcome = {"iteration": error.iteration, "names": error.names, "checkpoint": error.checkpoint_path,
                   "values": error.values, "message": str(error)}
    with open(os.path.join(results, f"rank{rank}.json"), "w") as stream:
        json.dump(outcome, stream)


def test_distributed_processes_stop_together(tmp_path):
    """A NaN on one process stops every process at the same iteration (no hang) with the same message, naming the
    offending rank's batch; rank 0 alone saves."""
    import ignite.distributed as idist

    save_dir, results = tmp_path / "ckpt", tmp_path / "results"
    results.mkdir()
    with idist.Parallel(backend="gloo", nproc_per_node=2, start_method="fork") as parallel:
        parallel.run(_distributed_worker, str(save_dir), str(results))
    rank0 = json.loads((results / "rank0.json").read_text())
    rank1 = json.loads((results / "rank1.json").read_text())
    assert rank0 == rank1  # the same error on both ranks
    expected_path = str(save_dir / "nonfinite_epoch=1_iteration=2.pt")
    assert rank0["iteration"] == 2 and rank0["names"] == ["r1_b1"] and rank0["checkpoint"] == expected_path
    assert rank0["values"] == {"rank1/loss": "nan"}
    assert "rank 1: loss=nan; batch: r1_b1" in rank0["message"] and "r0_b1" not in rank0["message"]
    assert f"saved to {expected_path} by rank 0" in rank0["message"]
    assert os.listdir(save_dir) == ["nonfinite_epoch=1_iteration=2.pt"]
