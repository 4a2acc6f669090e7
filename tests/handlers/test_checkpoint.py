# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for the checkpoint handlers: safe loading and atomic saving inside MONAI/ignite engines."""

from __future__ import annotations

import os

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import CheckpointSaver

from monai_ext.handlers import AtomicCheckpointSaver, SafeCheckpointLoader
from monai_ext.utils import CheckpointReadError, UnsafeCheckpointError, safe_load_checkpoint
from tests.utils.test_checkpoint_io import _FailsMidway, _net, _Plain, _same_state

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class _CrashingState:
    """An object for save_dict whose state_dict can only be written while ``ok`` is True."""

    def __init__(self) -> None:
        self.ok = True

    def state_dict(self):
        payload = {"big": torch.arange(50_000, dtype=torch.float32)}
        if not self.ok:
            payload["z"] = _FailsMidway()  # written after the tensor: the file is partly written when it fails
        return payload

    def load_state_dict(self, state):
        pass


def _trainer(net: torch.nn.Module, max_epochs: int, handlers: list) -> SupervisedTrainer:
    gen = torch.Generator().manual_seed(0)
    data = [
        {"image": torch.randn(1, 8, 8, generator=gen), "label": torch.randn(1, 8, 8, generator=gen)} for _ in range(4)
    ]
    return SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=DataLoader(data, batch_size=2),
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.05),
        loss_function=torch.nn.MSELoss(),
        train_handlers=handlers,
    )


# ----------------------------------------------------------------------------------------------- safe loading


def test_safe_checkpoint_loader_bare_state_dict_and_wrapped(tmp_path):
    source, target_a, target_b = _net(), _net(), _net()
    torch.save(source.state_dict(), tmp_path / "bare.pt")
    torch.save({"model": source.state_dict()}, tmp_path / "wrapped.pt")
    for target, name in ((target_a, "bare.pt"), (target_b, "wrapped.pt")):
        assert not _same_state(target.state_dict(), source.state_dict())
        data = [{"image": torch.randn(1, 8, 8), "label": torch.randn(1, 8, 8)}]
        evaluator = SupervisedEvaluator(
            device=torch.device("cpu"),
            val_data_loader=DataLoader(data, batch_size=1),
            network=target,
            val_handlers=[SafeCheckpointLoader(load_path=str(tmp_path / name), load_dict={"model": target})],
        )
        evaluator.run()
        assert _same_state(target.state_dict(), source.state_dict())


def test_safe_checkpoint_loader_refuses_unsafe_file_in_engine(tmp_path):
    net = _net()
    torch.save({"model": net.state_dict(), "x": _Plain()}, tmp_path / "bad.pt")
    loader = SafeCheckpointLoader(load_path=str(tmp_path / "bad.pt"), load_dict={"model": net})
    trainer = _trainer(net, 1, [loader])
    with pytest.raises(UnsafeCheckpointError, match="bad.pt"):
        trainer.run()


# ----------------------------------------------------------------------------------------------- atomic saving


def test_monai_checkpoint_saver_is_not_atomic(tmp_path):
    """Why AtomicCheckpointSaver exists: with MONAI's saver (DiskSaver atomic=False) a crash loses the best model.

    If this test starts failing, MONAI's CheckpointSaver became atomic and AtomicCheckpointSaver could be retired.
    """
    net, crash = _net(), _CrashingState()
    saver = CheckpointSaver(str(tmp_path), {"model": net, "extra": crash}, save_key_metric=True,
                            key_metric_name="score", key_metric_filename="model.pt")
    trainer = _trainer(net, 3, [])

    def set_score(engine):
        engine.state.metrics["score"] = engine.state.epoch / 10
        crash.ok = engine.state.epoch < 2

    trainer.add_event_handler(Events.EPOCH_COMPLETED, set_score)
    saver.attach(trainer)
    with pytest.raises(OSError, match="simulated crash"):
        trainer.run()
    path = tmp_path / "model.pt"
    assert path.exists()  # a partly written file under the final name, the previous best is gone
    with pytest.raises(CheckpointReadError):
        safe_load_checkpoint(path)


@pytest.mark.parametrize("fixed_name", [None, "model.pt"])
def test_atomic_checkpoint_saver_crash_keeps_previous_checkpoint(tmp_path, fixed_name):
    net, crash = _net(), _CrashingState()
    snapshots = {}
    saver = AtomicCheckpointSaver(
        save_dir=str(tmp_path),
        save_dict={"model": net, "extra": crash},
        save_key_metric=True,
        key_metric_name="score",
        key_metric_n_saved=1,
        key_metric_filename=fixed_name,
    )

    def set_score(engine):  # every epoch is better than the last: each one replaces the saved best
        engine.state.metrics["score"] = engine.state.epoch / 10
        crash.ok = engine.state.epoch < 2
        snapshots[engine.state.epoch] = {k: v.clone() for k, v in net.state_dict().items()}

    trainer = _trainer(net, 3, [])
    trainer.add_event_handler(Events.EPOCH_COMPLETED, set_score)
    saver.attach(trainer)
    with pytest.raises(OSError, match="simulated crash"):
        trainer.run()
    assert trainer.state.epoch == 2
    files = sorted(os.listdir(tmp_path))
    # the previous best stays in place until a new file is complete; no partial "...=0.2000.pt", no temp file
    assert files == [fixed_name or "checkpoint_key_metric=0.1000.pt"]
    assert _same_state(safe_load_checkpoint(tmp_path / files[0])["model"], snapshots[1])


def test_atomic_checkpoint_saver_keeps_last_n_and_best(tmp_path):
    net = _net()
    scores = {1: 0.1, 2: 0.5, 3: 0.3, 4: 0.9, 5: 0.2}
    snapshots = {}

    def set_score(engine):
        engine.state.metrics["score"] = scores[engine.state.epoch]
        snapshots[engine.state.epoch] = {k: v.clone() for k, v in net.state_dict().items()}

    last_n = AtomicCheckpointSaver(str(tmp_path), {"model": net}, save_interval=1, n_saved=2, engine_key="trainer")
    best = AtomicCheckpointSaver(str(tmp_path), {"model": net}, save_key_metric=True, key_metric_name="score",
                                 key_metric_n_saved=1, key_metric_filename="model.pt")
    top2 = AtomicCheckpointSaver(str(tmp_path), {"model": net}, save_key_metric=True, key_metric_name="score",
                                 key_metric_n_saved=2)
    trainer = _trainer(net, 5, [])
    trainer.add_event_handler(Events.EPOCH_COMPLETED, set_score)
    for saver in (last_n, best, top2):
        saver.attach(trainer)
    trainer.run()
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint_epoch=4.pt",
        "checkpoint_epoch=5.pt",
        "model.pt",
        "model_key_metric=0.5000.pt",  # ignite names a single-entry checkpoint after its key
        "model_key_metric=0.9000.pt",
    ]
    assert _same_state(safe_load_checkpoint(tmp_path / "model.pt"), snapshots[4])  # single entry: bare state_dict
    assert _same_state(safe_load_checkpoint(tmp_path / "model_key_metric=0.5000.pt"), snapshots[2])
    last = safe_load_checkpoint(tmp_path / "checkpoint_epoch=5.pt")
    assert _same_state(last["model"], snapshots[5])
    assert last["trainer"]["iteration"] == 5 * 2 and last["trainer"]["epoch_length"] == 2


def test_stage_checkpoint_saver_names_files_by_stage_and_factor(tmp_path):
    from monai_ext.handlers import StageCheckpointSaver
    from monai_ext.utils import stage_checkpoint_path

    net = _net()
    trainer = _trainer(net, 3, [])
    for stage, factor in (("mse", 4), ("gan", 8)):
        saver = StageCheckpointSaver(str(tmp_path), {"model": net}, stage=stage, scale_factor=factor, engine_key="t")
        assert saver.final_path == stage_checkpoint_path(tmp_path, stage, factor)
        saver.attach(trainer)
    trainer.run()
    # two stages share one folder: each keeps its last epoch checkpoint (for resuming) and its final checkpoint
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint_gan_x8_final.pt", "checkpoint_mse_x4_final.pt", "gan_x8_checkpoint_epoch=3.pt",
        "mse_x4_checkpoint_epoch=3.pt",
    ]
    final = safe_load_checkpoint(tmp_path / "checkpoint_mse_x4_final.pt")
    assert _same_state(final["model"], net.state_dict()) and final["t"]["iteration"] == 3 * 2
