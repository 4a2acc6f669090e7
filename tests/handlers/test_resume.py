# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Interrupted + resumed training reaches exactly the weights of an uninterrupted run (CPU, MONAI SupervisedTrainer)."""

from __future__ import annotations

import collections
import os

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedTrainer
from monai.handlers import LrScheduleHandler
from monai.transforms import Compose, RandFlipd

from monai_ext.handlers import AtomicCheckpointSaver, EpochSeedHandler, ResumeFromCheckpoint, find_latest_checkpoint
from monai_ext.utils import UnsafeCheckpointError, make_generator, seed_everything

SEED = 7
MAX_EPOCHS = 4


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _data() -> list[dict]:
    gen = torch.Generator().manual_seed(1234)  # the data set itself does not depend on the run's seed
    return [
        {"image": torch.randn(1, 8, 8, generator=gen), "label": torch.randn(1, 8, 8, generator=gen), "id": f"s{i}"}
        for i in range(12)
    ]


def _run(ckpt_dir, resume: bool, init_seed: int = SEED, terminate_after: int | None = None,
         epoch_seeding: bool = True, num_workers: int = 0) -> dict:
    """One training run; returns the final objects and the per-iteration losses."""
    seed_everything(init_seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Conv2d(4, 1, 1)
    )
    dataset = Dataset(_data(), transform=Compose([RandFlipd(keys=["image", "label"], prob=0.5, spatial_axis=1)]))
    loader = DataLoader(dataset, batch_size=4, shuffle=True, generator=make_generator(SEED), num_workers=num_workers)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    objects = {"model": net, "optimizer": optimizer, "lr_scheduler": scheduler}
    handlers = [ResumeFromCheckpoint(str(ckpt_dir), objects, enabled=resume)]
    if epoch_seeding:
        handlers.append(EpochSeedHandler(SEED))
    handlers += [
        LrScheduleHandler(scheduler, print_lr=False, epoch_level=False),
        AtomicCheckpointSaver(str(ckpt_dir), dict(objects), engine_key="trainer", save_interval=1, n_saved=2),
    ]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=MAX_EPOCHS,
        train_data_loader=loader,
        network=net,
        optimizer=optimizer,
        loss_function=torch.nn.MSELoss(),
        train_handlers=handlers,
    )
    losses: list[float] = []  # output is decollated: a list of per-sample dicts, each holding the batch loss
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(float(e.state.output[0]["loss"])))
    if terminate_after is not None:  # simulated interruption, after the epoch's checkpoint is written
        trainer.add_event_handler(Events.EPOCH_COMPLETED(once=terminate_after), lambda e: e.terminate())
    trainer.run()
    return {"trainer": trainer, "losses": losses, "resume": handlers[0], **objects}


def _assert_same_run(a: dict, b: dict) -> None:
    for key, value in a["model"].state_dict().items():
        assert torch.equal(value, b["model"].state_dict()[key]), key
    opt_a, opt_b = a["optimizer"].state_dict(), b["optimizer"].state_dict()
    for index, state in opt_a["state"].items():
        assert torch.equal(state["momentum_buffer"], opt_b["state"][index]["momentum_buffer"])
    assert opt_a["param_groups"][0]["lr"] == opt_b["param_groups"][0]["lr"]
    assert a["lr_scheduler"].last_epoch == b["lr_scheduler"].last_epoch


@pytest.mark.parametrize("num_workers", [0, 2])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, num_workers):
    full = _run(tmp_path / "full", resume=False, num_workers=num_workers)
    assert full["trainer"].state.iteration == MAX_EPOCHS * 3
    assert full["lr_scheduler"].last_epoch == MAX_EPOCHS * 3  # stepped every iteration

    first = _run(tmp_path / "run", resume=False, terminate_after=2, num_workers=num_workers)
    assert first["trainer"].state.epoch == 2
    assert first["losses"] == full["losses"][:6]
    # what a crash or other tools may leave in the folder: all must be ignored
    data = (tmp_path / "run" / "checkpoint_epoch=2.pt").read_bytes()
    (tmp_path / "run" / "checkpoint_epoch=9.pt").write_bytes(data[: len(data) // 3])  # truncated by a crash
    torch.save(first["model"].state_dict(), tmp_path / "run" / "model.pt")  # model only: not a full checkpoint
    (tmp_path / "run" / ".tmp-0123-checkpoint_epoch=3.pt").write_bytes(b"partial")  # temp file of a killed save

    # new process state: different initial weights, the objects must come from the checkpoint
    resumed = _run(tmp_path / "run", resume=True, init_seed=999, num_workers=num_workers)
    assert resumed["resume"].loaded_path == str(tmp_path / "run" / "checkpoint_epoch=2.pt")
    assert resumed["trainer"].state.epoch == MAX_EPOCHS
    assert resumed["trainer"].state.iteration == MAX_EPOCHS * 3
    assert resumed["losses"] == full["losses"][6:]
    _assert_same_run(full, resumed)


def test_resume_without_epoch_seeding_diverges(tmp_path):
    """Control: without per-epoch reseeding the data order and dropout after resuming differ from the full run."""
    full = _run(tmp_path / "full", resume=False, epoch_seeding=False)
    _run(tmp_path / "run", resume=False, terminate_after=2, epoch_seeding=False)
    resumed = _run(tmp_path / "run", resume=True, init_seed=999, epoch_seeding=False)
    assert resumed["trainer"].state.iteration == full["trainer"].state.iteration
    assert any(not torch.equal(a, b) for a, b in zip(full["model"].parameters(), resumed["model"].parameters()))


def test_resume_disabled_or_empty_folder_starts_from_scratch(tmp_path):
    scratch = _run(tmp_path / "a", resume=True)  # empty folder: nothing to resume
    assert scratch["resume"].loaded_path is None
    fresh = _run(tmp_path / "b", resume=False)
    assert scratch["losses"] == fresh["losses"]
    again = _run(tmp_path / "a", resume=False)  # the folder now holds checkpoints, but resume is off
    assert again["losses"] == fresh["losses"]


def _trainer_state(iteration: int, epoch_length: int = 3) -> dict:
    return collections.OrderedDict(epoch_length=epoch_length, max_epochs=50, iteration=iteration)


def test_latest_is_chosen_by_stored_iteration(tmp_path):
    full = {"model": {"w": torch.ones(1)}, "optimizer": {"state": {}}}
    # file names disagree with the stored positions: the stored trainer iteration wins
    torch.save({**full, "trainer": _trainer_state(12)}, tmp_path / "checkpoint_epoch=1.pt")
    torch.save({**full, "trainer": _trainer_state(6)}, tmp_path / "checkpoint_final_iteration=99.pt")
    torch.save({"model": {"w": torch.ones(1)}, "trainer": _trainer_state(30)}, tmp_path / "partial_keys.pt")
    (tmp_path / "checkpoint_epoch=50.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "notes.txt").write_text("ignored")
    info, skipped = find_latest_checkpoint(tmp_path, ("model", "optimizer", "trainer"))
    assert info.path == str(tmp_path / "checkpoint_epoch=1.pt")
    assert (info.iteration, info.epoch) == (12, 4)
    assert len(skipped) == 1 and "checkpoint_epoch=50.pt" in skipped[0]


def test_without_trainer_entry_the_file_name_number_decides(tmp_path):
    for n in (3, 11, 7):
        torch.save({"model": {"w": torch.full((1,), float(n))}}, tmp_path / f"checkpoint_iteration={n}.pt")
    info, _ = find_latest_checkpoint(tmp_path, ("model",))
    assert info.name_number == 11 and info.path.endswith("checkpoint_iteration=11.pt")


class _NotAllowed:
    pass


def test_unsafe_checkpoint_in_folder_is_refused(tmp_path):
    torch.save({"model": {"w": torch.ones(1)}, "x": _NotAllowed()}, tmp_path / "checkpoint_epoch=1.pt")
    with pytest.raises(UnsafeCheckpointError, match="checkpoint_epoch=1.pt"):
        find_latest_checkpoint(tmp_path, ("model",))


def test_checkpoint_beyond_max_epochs_is_a_clear_error(tmp_path):
    net = torch.nn.Linear(1, 1)
    torch.save({"model": net.state_dict(), "trainer": _trainer_state(30, epoch_length=1)},
               tmp_path / "checkpoint_epoch=30.pt")
    handler = ResumeFromCheckpoint(str(tmp_path), {"model": net})
    data = [{"image": torch.ones(1), "label": torch.ones(1)}]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=5, train_data_loader=DataLoader(data, batch_size=1), network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1), loss_function=torch.nn.MSELoss(), train_handlers=[handler],
    )
    with pytest.raises(ValueError, match="epoch 30, beyond max_epochs=5"):
        trainer.run()


def test_empty_load_dict_is_refused(tmp_path):
    with pytest.raises(ValueError, match="non-empty load_dict"):
        ResumeFromCheckpoint(str(tmp_path), {})
    assert not os.listdir(tmp_path)
