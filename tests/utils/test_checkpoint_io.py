# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Tests for safe checkpoint loading and atomic checkpoint writing (``monai_ext.utils.checkpoint_io``)."""

from __future__ import annotations

import collections
import os

import numpy as np
import pytest
import torch

from monai_ext.utils import CheckpointReadError, UnsafeCheckpointError, atomic_torch_save, safe_load_checkpoint

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


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(2, 1, 1))


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
