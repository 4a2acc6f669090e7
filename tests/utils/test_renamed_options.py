# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The upscale factor is `scale_factor` everywhere (MONAI's name): old keywords warn, old command-line ids stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from monai_ext.networks import DualStreamNet, ESPCNHead, MRCNet, SAIFramework
from monai_ext.transforms import LowResolutionPaird
from monai_ext.utils import RenamedOptionError, check_renamed_options

REPO = Path(__file__).resolve().parents[2]


def test_renamed_options_on_the_command_line_stop_with_the_new_name():
    check_renamed_options(argv=["monai.bundle", "run", "--scale_factor", "4", "--config_file", "train.json"])
    with pytest.raises(RenamedOptionError, match=r"--upscale_rate is now --scale_factor; --network_def#upscale_factor "
                                                 r"is now --network_def#scale_factor"):
        check_renamed_options(argv=["x", "--upscale_rate=4", "--network_def#upscale_factor", "2"])
    check_renamed_options({"old": "new"}, argv=["x", "--upscale_rate", "4"])  # only the given names
    with pytest.raises(RenamedOptionError, match="--ckpt_path is now --checkpoint"):
        check_renamed_options(argv=["x", "--ckpt_path", "runs/train/model.pt"])


@pytest.mark.parametrize(
    "build, old",
    [
        (lambda **kw: DualStreamNet(base_channels=4, **kw), "upscale_rate"),
        (lambda **kw: ESPCNHead(2, 4, 3, hidden_channels=(4, 4), **kw), "upscale_rate"),
        (lambda **kw: LowResolutionPaird(keys="image", **kw), "upscale_rate"),
        (lambda **kw: MRCNet(features=8, head_features=8, num_stages=1, num_blocks=1, **kw), "upscale_factor"),
    ],
)
def test_old_keyword_still_builds_the_same_thing_with_a_future_warning(build, old):
    with pytest.warns(FutureWarning, match=f"Argument `{old}` has been deprecated.*Use `scale_factor`"):
        old_way = build(**{old: 4})
    assert old_way.scale_factor == 4 == build(scale_factor=4).scale_factor


def test_sai_framework_old_keyword():
    with pytest.warns(FutureWarning, match="upscale_factor"):
        framework = SAIFramework(3, 2, upscale_factor=2, widen_factor=0.25)
    assert framework.sr_network.scale_factor == 2
    lr = torch.rand(1, 3, 16, 16)
    assert framework.sr_network(lr)["sr"].shape[-2:] == (32, 32)


def test_bundle_command_with_the_old_id_stops_before_training(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", "bundles/ds2f/configs/train.json",
         "--bundle_root", str(tmp_path), "--upscale_rate", "4"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "RenamedOptionError: renamed option(s) on the command line" in result.stderr
    assert "--upscale_rate is now --scale_factor" in result.stderr
    assert not (tmp_path / "models").exists()


def test_top_level_only_renames_leave_nested_keywords_alone():
    argv = ["x", "--preprocessing#transforms#0#num_channels", "3"]
    check_renamed_options(top_level={"num_channels": "features"}, argv=argv)
    with pytest.raises(RenamedOptionError, match="--num_channels is now --features"):
        check_renamed_options(top_level={"num_channels": "features"}, argv=["x", "--num_channels", "16"])


def test_generator_and_discriminator_widths_keep_their_old_keywords_for_one_release():
    from monai_ext.networks import SRDiscriminator, SRGenerator

    with pytest.warns(FutureWarning, match="Argument `num_channels`.*Use `features`"):
        old = SRGenerator(scale_factor=2, num_channels=8, num_res_blocks=1)
    new = SRGenerator(scale_factor=2, features=8, num_res_blocks=1)
    assert [p.shape for p in old.parameters()] == [p.shape for p in new.parameters()]
    with pytest.warns(FutureWarning, match="Use `base_channels`"):
        old_d = SRDiscriminator(num_channels=4, hidden_features=8)
    assert sum(p.numel() for p in old_d.parameters()) == sum(
        p.numel() for p in SRDiscriminator(base_channels=4, hidden_features=8).parameters()
    )
