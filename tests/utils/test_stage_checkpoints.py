# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The file names of a multi-stage training (saliency_sr): one per stage and upscale factor, and the evaluation map."""

from __future__ import annotations

import os

from monai.bundle import ConfigParser

from monai_ext.utils import stage_checkpoint_path, stage_checkpoint_paths, stage_file_prefix


def test_names_carry_stage_and_factor(tmp_path):
    assert stage_file_prefix("mse", 4) == "mse_x4"
    assert stage_file_prefix("gan", 8.0) == "gan_x8"
    assert stage_checkpoint_path(tmp_path, "gan", 4) == os.path.join(str(tmp_path), "checkpoint_gan_x4_final.pt")


def test_evaluation_map_with_a_shipped_model(tmp_path):
    shipped = tmp_path / "models" / "model.pt"
    paths = stage_checkpoint_paths(tmp_path, "gan", [2, 4, 8], shipped_factor=4, shipped_path=shipped)
    assert paths == {
        2: stage_checkpoint_path(tmp_path, "gan", 2), 4: str(shipped), 8: stage_checkpoint_path(tmp_path, "gan", 8),
    }
    # the shipped model is used only for a factor that is evaluated
    assert stage_checkpoint_paths(tmp_path, "gan", [8], shipped_factor=4, shipped_path=shipped) == {
        8: stage_checkpoint_path(tmp_path, "gan", 8)
    }
    assert stage_checkpoint_paths(tmp_path, "mse", []) == {}


def test_saliency_sr_configs_resolve_the_same_names(tmp_path):
    """train.json's stage hand-over and evaluate.json's map, read by MONAI's parser with a custom checkpoint folder."""
    bundle = os.path.join(os.path.dirname(__file__), "..", "..", "bundles", "saliency_sr")
    parser = ConfigParser()
    parser.read_config([os.path.join(bundle, "configs", name) for name in ("train.json", "evaluate.json")])
    parser["bundle_root"] = str(tmp_path)
    parser["ckpt_dir"] = str(tmp_path / "run")
    parser["scale_factor"] = 8
    assert parser.get_parsed_content("mse_checkpoint") == str(tmp_path / "run" / "checkpoint_mse_x8_final.pt")
    assert parser.get_parsed_content("pretrained_generator") == parser.get_parsed_content("mse_checkpoint")
    assert parser.get_parsed_content("sr_checkpoints") == {
        4: str(tmp_path / "models" / "model.pt"), 8: str(tmp_path / "run" / "checkpoint_gan_x8_final.pt"),
    }
