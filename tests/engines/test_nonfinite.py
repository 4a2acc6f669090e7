# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for stopping on a non-finite loss after saving a checkpoint (MONAI SupervisedTrainer, ignite Engine)."""

from __future__ import annotations

import os

import pytest
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader, MetaTensor, list_data_collate
from monai.engines import SupervisedTrainer

from monai_ext.engines import (
    NonFiniteLossError,
    NonFiniteLossHandler,
    batch_names,
    find_latest_checkpoint,
    safe_load_checkpoint,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
        outcome = "finished"
    except NonFiniteLossError as error:
        outcome = f"{error.iteration}|{','.join(error.names)}|{error.checkpoint_path}"
    with open(os.path.join(results, f"rank{rank}.txt"), "w") as stream:
        stream.write(outcome)


def test_distributed_processes_stop_together(tmp_path):
    """A NaN on one process stops every process at the same iteration (no hang); rank 0 alone saves."""
    import ignite.distributed as idist

    save_dir, results = tmp_path / "ckpt", tmp_path / "results"
    results.mkdir()
    with idist.Parallel(backend="gloo", nproc_per_node=2, start_method="fork") as parallel:
        parallel.run(_distributed_worker, str(save_dir), str(results))
    rank0 = (results / "rank0.txt").read_text().split("|")
    rank1 = (results / "rank1.txt").read_text().split("|")
    assert rank0[:2] == ["2", "r0_b1"] and rank1[:2] == ["2", "r1_b1"]
    assert rank0[2] == str(save_dir / "nonfinite_epoch=1_iteration=2.pt") and rank1[2] == "None"
    assert os.listdir(save_dir) == ["nonfinite_epoch=1_iteration=2.pt"]
