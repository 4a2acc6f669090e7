# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Warm start from a local weights file (``init_weights``) with a real MONAI SupervisedTrainer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ignite.engine import Events
from monai.engines import SupervisedTrainer

from monai_ext.handlers import AtomicCheckpointSaver, InitialWeightsLoader, ResumeFromCheckpoint
from monai_ext.utils import UnsafeCheckpointError, seed_everything

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py
REPO = Path(__file__).resolve().parents[2]


def _net(seed: int) -> torch.nn.Module:
    seed_everything(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(3, 1, 1))


def _trainer(net: torch.nn.Module, max_epochs: int, handlers: list) -> SupervisedTrainer:
    data = [{"image": torch.randn(1, 1, 6, 6), "label": torch.randn(1, 1, 6, 6)} for _ in range(2)]
    return SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=data,
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.0),  # lr 0: the weights after a run are the loaded ones
        loss_function=torch.nn.MSELoss(),
        train_handlers=handlers,
    )


def _equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("full_checkpoint", [False, True])
def test_weights_are_loaded_when_training_starts(tmp_path, full_checkpoint):
    source = _net(seed=1)
    path = tmp_path / "weights.pt"
    state = source.state_dict()
    torch.save({"model": state, "optimizer": {"state": {}, "param_groups": []}} if full_checkpoint else state, path)
    net = _net(seed=2)
    assert not _equal(net, source)
    loader = InitialWeightsLoader(load_path=path, network=net)
    trainer = _trainer(net, max_epochs=1, handlers=[loader])
    loaded_at_start = []
    trainer.add_event_handler(Events.ITERATION_STARTED, lambda e: loaded_at_start.append(_equal(net, source)))
    trainer.run()
    assert loaded_at_start[0], "the weights must be in place before the first iteration"
    assert trainer.state.epoch == 1  # the epoch counter starts afresh


def test_without_a_file_the_initialisation_is_kept(tmp_path):
    net = _net(seed=3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    _trainer(net, max_epochs=1, handlers=[InitialWeightsLoader(load_path=None, network=net)]).run()
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_missing_file_is_named_before_training(tmp_path):
    missing = tmp_path / "no_such_weights.pt"
    with pytest.raises(FileNotFoundError, match="no_such_weights.pt"):
        InitialWeightsLoader(load_path=missing, network=_net(seed=0))


def test_mismatched_weights_fail_strictly(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(torch.nn.Conv2d(1, 5, 3).state_dict(), path)
    net = _net(seed=0)
    with pytest.raises(RuntimeError):
        InitialWeightsLoader(load_path=path, network=net)(None)


def test_unsafe_file_is_refused(tmp_path):
    path = tmp_path / "unsafe.pt"
    torch.save({"model": _net(seed=0).state_dict(), "extra": torch.nn.ReLU()}, path)
    with pytest.raises(UnsafeCheckpointError, match="unsafe.pt"):
        InitialWeightsLoader(load_path=path, network=_net(seed=0))(None)


def test_a_resumed_checkpoint_overrides_the_initial_weights(tmp_path):
    init_path = tmp_path / "init.pt"
    torch.save(_net(seed=4).state_dict(), init_path)
    ckpt_dir = tmp_path / "ckpt"
    first = _net(seed=5)
    trainer = _trainer(first, max_epochs=1, handlers=[])
    saver = AtomicCheckpointSaver(
        save_dir=str(ckpt_dir), save_dict={"model": first, "trainer": trainer}, save_interval=1, n_saved=1
    )
    saver.attach(trainer)
    trainer.run()

    net = _net(seed=6)
    handlers = [
        InitialWeightsLoader(load_path=init_path, network=net),
        ResumeFromCheckpoint(ckpt_dir=str(ckpt_dir), load_dict={"model": net}),
    ]
    _trainer(net, max_epochs=2, handlers=handlers).run()
    assert handlers[1].loaded_path is not None
    assert _equal(net, first)


@pytest.mark.parametrize("bundle", ["ds2f", "ss_maf"])
def test_bundle_train_config_offers_init_weights(bundle):
    config = json.loads((REPO / f"bundles/{bundle}/configs/train.json").read_text())
    assert config["init_weights"] is None
    targets = [h["_target_"] for h in config["train"]["handlers"]]
    first = targets.index("monai_ext.handlers.InitialWeightsLoader")
    assert first < targets.index("monai_ext.handlers.ResumeFromCheckpoint")
    assert config["train"]["handlers"][first]["load_path"] == "@init_weights"
