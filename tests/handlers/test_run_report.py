# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The end-of-run "evaluate it with" command names configs and a bundle root that exist for the run."""

from __future__ import annotations

import os
import sys

import pytest

from monai_ext.handlers import TrainingSummaryHandler
from monai_ext.handlers.run_report import training_command_line


def test_command_line_parsing():
    argv = ["/x/monai/bundle/__main__.py", "run", "training", "--config_file",
            "['bundles/ds2f/configs/train.json','bundles/ds2f/configs/release.json']",
            "--bundle_root", "/tmp/r", "--max_epochs=3", "--base_channels", "32", "--flag"]
    configs, overrides = training_command_line(argv)
    assert configs == ["bundles/ds2f/configs/train.json", "bundles/ds2f/configs/release.json"]
    assert overrides == [("bundle_root", "/tmp/r"), ("max_epochs", "3"), ("base_channels", "32")]
    assert training_command_line(["m", "run", "--config_file", "a/configs/train.json"])[0] == ["a/configs/train.json"]
    assert training_command_line(["pytest", "-q", "tests"]) == ([], [])


def _command(monkeypatch, argv, bundle_root, model_path, ckpt_key="checkpoint"):
    monkeypatch.setattr(sys, "argv", argv)
    handler = TrainingSummaryHandler(ckpt_dir=os.path.dirname(model_path), bundle_root=bundle_root, ckpt_key=ckpt_key)
    return handler._evaluate_command(model_path)


def test_bundle_root_outside_the_repository_points_at_the_source_configs(monkeypatch, tmp_path):
    root = str(tmp_path / "run")
    argv = ["m", "run", "training", "--config_file",
            "['bundles/ds2f/configs/train.json','bundles/ds2f/configs/release.json']",
            "--bundle_root", root, "--max_epochs", "300", "--init_weights", "/tmp/w.pt", "--base_channels", "32"]
    command = _command(monkeypatch, argv, root, os.path.join(root, "models", "model.pt"))
    assert ("--config_file \"['bundles/ds2f/configs/train.json','bundles/ds2f/configs/release.json',"
            "'bundles/ds2f/configs/evaluate.json']\"") in command
    assert f"--bundle_root {root}" in command
    assert "--base_channels 32" in command  # the network shape travels with the command
    for training_only in ("--max_epochs", "--init_weights", "--checkpoint"):
        assert training_only not in command
    assert f"{root}/configs" not in command


def test_default_run_in_the_repository(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bundles/ds2f/configs").mkdir(parents=True)
    argv = ["m", "run", "training", "--config_file", "bundles/ds2f/configs/train.json"]
    command = _command(monkeypatch, argv, "bundles/ds2f", "bundles/ds2f/runs/train/model.pt")
    assert command == ("python -m monai.bundle run --config_file \"['bundles/ds2f/configs/train.json',"
                       "'bundles/ds2f/configs/evaluate.json']\" --checkpoint bundles/ds2f/runs/train/model.pt")


@pytest.mark.parametrize("argv", [["pytest", "-q"], ["monailabel", "start_server", "--app", "x"]])
def test_without_a_config_file_on_the_command_line_the_bundle_configs_are_named(monkeypatch, tmp_path, argv):
    root = str(tmp_path / "b")
    command = _command(monkeypatch, argv, root, os.path.join(root, "models", "model.pt"), ckpt_key="checkpoint")
    expected = f"['{root}/configs/train.json','{root}/configs/evaluate.json']"
    assert command == f'python -m monai.bundle run --config_file "{expected}"'
