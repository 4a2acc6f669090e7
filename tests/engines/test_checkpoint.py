# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for safe checkpoint loading and atomic checkpoint saving with MONAI/ignite handlers."""

from __future__ import annotations

import collections
import os

import numpy as np
import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import CheckpointSaver

from monai_ext.engines import (
    AtomicCheckpointSaver,
    CheckpointReadError,
    SafeCheckpointLoader,
    UnsafeCheckpointError,
    atomic_torch_save,
    safe_load_checkpoint,
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class _Plain:
    """An arbitrary class: pickled by reference, so loading it needs a global lookup."""

    def __init__(self) -> None:
        self.value = 1


class _RunsCode:
    """Unpickling this would create a folder (visible side effect) if code execution were possible."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


class _FailsMidway:
    """Pickling this raises: simulates a crash (disk full, kill) in the middle of torch.save."""

    def __reduce_ex__(self, protocol):
        raise OSError("simulated crash while writing")


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


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(2, 1, 1))


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


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------------------------- safe loading


def test_plain_checkpoint_loads(tmp_path):
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(1, 1, 4, 4)).sum().backward()
    opt.step()
    content = {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "trainer": collections.OrderedDict(epoch_length=3, max_epochs=4, iteration=6),
        "meta": {"name": "x", "shape": torch.Size([2, 3]), "dtype": torch.float16, "flags": [True, None, 1.5]},
    }
    torch.save(content, tmp_path / "ok.pt")
    loaded = safe_load_checkpoint(tmp_path / "ok.pt")
    assert _same_state(loaded["model"], net.state_dict())
    assert loaded["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert loaded["trainer"]["iteration"] == 6
    assert loaded["meta"] == content["meta"]


def test_code_executing_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model": _net().state_dict(), "x": _RunsCode(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_load_checkpoint(tmp_path / "evil.pt")
    assert str(tmp_path / "evil.pt") in str(info.value)
    assert "mkdir" in str(info.value)
    assert not marker.exists()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "payload, type_name",
    [({"obj": _Plain()}, "_Plain"), ({"arr": np.ones(3)}, "numpy"), (_Plain(), "_Plain")],
)
def test_non_tensor_objects_are_refused(tmp_path, payload, type_name):
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(UnsafeCheckpointError, match=type_name) as info:
        safe_load_checkpoint(tmp_path / "bad.pt")
    assert "bad.pt" in str(info.value)


def test_types_allowed_elsewhere_are_still_refused(tmp_path):
    """Even when other code allow-lists a class for weights_only loading, the content walk refuses it."""
    torch.save({"model": {"w": torch.ones(2)}, "extra": [1, {"deep": _Plain()}]}, tmp_path / "allowed.pt")
    with torch.serialization.safe_globals([_Plain]):
        assert isinstance(torch.load(tmp_path / "allowed.pt", weights_only=True)["extra"][1]["deep"], _Plain)
        with pytest.raises(UnsafeCheckpointError, match=r"\['extra'\]\[1\]\['deep'\] holds .*_Plain"):
            safe_load_checkpoint(tmp_path / "allowed.pt")


def test_unreadable_files_give_read_errors(tmp_path):
    torch.save({"model": _net().state_dict()}, tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_bytes(b"this is not a checkpoint")
    for name in ("truncated.pt", "empty.pt", "text.pt", "missing.pt"):
        with pytest.raises(CheckpointReadError, match=name):
            safe_load_checkpoint(tmp_path / name)


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


def test_atomic_torch_save_crash_keeps_previous_file(tmp_path):
    path = tmp_path / "model.pt"
    atomic_torch_save({"w": torch.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(OSError, match="simulated crash"):
        atomic_torch_save({"w": torch.zeros(50_000), "z": _FailsMidway()}, path)
    assert path.read_bytes() == before
    assert torch.equal(safe_load_checkpoint(path)["w"], torch.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]  # no temporary file left behind


def test_atomic_torch_save_permissions_follow_umask(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    atomic_torch_save({"w": torch.ones(1)}, tmp_path / "m.pt")
    assert os.stat(tmp_path / "m.pt").st_mode & 0o777 == 0o666 & ~umask


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
