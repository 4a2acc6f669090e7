# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Inference over a folder with a broken file: good outputs written, failures reported, non-zero only when asked."""

from __future__ import annotations

import csv
import json
import os

import monai.bundle
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.inferers import SimpleInferer
from monai.transforms import AsDiscreted, Compose, ScaleIntensityRanged
from PIL import Image

from monai_ext.data import LoadFundusImaged
from monai_ext.engines import FolderInferenceError, PNGPredictionWriter, run_folder_inference


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture()
def image_folder(tmp_path):
    """Three good images (RGB, grayscale, RGBA; 12x16) and one truncated JPEG, plus a non-image file."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(folder / "a_rgb.png")
    Image.fromarray(rng.integers(0, 256, (12, 16), dtype=np.uint8)).save(folder / "b_gray.png")
    Image.fromarray(rng.integers(0, 256, (12, 16, 4), dtype=np.uint8), mode="RGBA").save(folder / "c_rgba.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "d_broken.jpg", quality=95)
    data = (folder / "d_broken.jpg").read_bytes()
    (folder / "d_broken.jpg").write_bytes(data[: len(data) // 2])
    (folder / "notes.txt").write_text("not an image")
    return folder


def _network() -> torch.nn.Module:
    net = torch.nn.Conv2d(3, 2, 1)
    with torch.no_grad():  # class 1 where green > red: a known rule to check the outputs against
        net.weight.copy_(torch.tensor([[[[1.0]], [[0.0]], [[0.0]]], [[[0.0]], [[1.0]], [[0.0]]]]))
        net.bias.zero_()
    return net


def _pieces():
    preprocessing = Compose(
        [
            LoadFundusImaged(keys="image", num_channels=3),
            ScaleIntensityRanged(keys="image", a_min=0, a_max=255, b_min=0, b_max=1),
        ]
    )
    postprocessing = Compose([AsDiscreted(keys="pred", argmax=True)])
    return _network(), preprocessing, postprocessing, SimpleInferer()


def _expected_mask(path) -> np.ndarray:
    """Independent reference: green > red, from the file decoded by PIL (grayscale: never; RGBA: alpha dropped)."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.int32)
    return np.where(rgb[..., 1] > rgb[..., 0], 255, 0).astype(np.uint8)


def test_good_outputs_and_failure_report(image_folder, tmp_path, capsys):
    net, pre, post, inferer = _pieces()
    out = tmp_path / "out"
    report = run_folder_inference(net, pre, post, inferer, str(image_folder), str(out))
    assert not report.ok
    assert sorted(os.listdir(out)) == [
        "a_rgb_pred.png", "b_gray_pred.png", "c_rgba_pred.png", "failures.csv", "failures.json"
    ]
    for stem in ("a_rgb", "b_gray", "c_rgba"):
        written = np.asarray(Image.open(out / f"{stem}_pred.png"))
        np.testing.assert_array_equal(written, _expected_mask(image_folder / f"{stem}.png"))
    assert _expected_mask(image_folder / "a_rgb.png").any()  # the rule selects some pixels: a real comparison

    content = json.loads((out / "failures.json").read_text())
    assert (content["num_images"], content["num_written"], content["num_failed"]) == (4, 3, 1)
    (failure,) = content["failures"]
    assert failure["file"] == str(image_folder / "d_broken.jpg")
    assert failure["stage"] == "preprocessing"
    assert "DataError" in failure["error"] and "truncated" in failure["error"] and "d_broken.jpg" in failure["error"]
    rows = list(csv.reader((out / "failures.csv").open()))
    assert rows == [["file", "stage", "error"], [failure["file"], "preprocessing", failure["error"]]]

    printed = capsys.readouterr().out
    assert "4 image(s), 3 written, 1 failed" in printed
    assert f"FAILED {image_folder / 'd_broken.jpg'} [preprocessing]" in printed


def test_fail_on_error_raises_after_writing_everything(image_folder, tmp_path):
    net, pre, post, inferer = _pieces()
    out = tmp_path / "out"
    with pytest.raises(FolderInferenceError, match=r"1 of 4 image\(s\) failed"):
        run_folder_inference(net, pre, post, inferer, str(image_folder), str(out), fail_on_error=True, verbose=False)
    assert (out / "a_rgb_pred.png").exists() and (out / "failures.json").exists()


def test_all_good_gives_empty_report_and_no_error(image_folder, tmp_path):
    net, pre, post, inferer = _pieces()
    files = [image_folder / "a_rgb.png", {"image": str(image_folder / "b_gray.png")}]  # paths or a data list
    report = run_folder_inference(net, pre, post, inferer, files, tmp_path / "out", fail_on_error=True, verbose=False)
    assert report.ok and len(report.outputs) == 2
    assert json.loads((tmp_path / "out" / "failures.json").read_text())["failures"] == []
    assert net.training  # the network's mode is restored


def test_failures_in_later_stages_and_duplicate_stems(image_folder, tmp_path):
    net, pre, _, inferer = _pieces()
    Image.fromarray(np.zeros((12, 16, 3), dtype=np.uint8)).save(image_folder / "a_rgb.bmp")  # same stem as a_rgb.png

    def post(data):
        if "gray" in data["image"].meta["filename_or_obj"]:
            raise ValueError("simulated postprocessing bug")
        return AsDiscreted(keys="pred", argmax=True)(data)

    report = run_folder_inference(net, pre, post, inferer, image_folder, tmp_path / "out", verbose=False)
    stages = {os.path.basename(f.file): f.stage for f in report.failures}
    assert stages == {"b_gray.png": "postprocessing", "d_broken.jpg": "preprocessing"}
    assert "ValueError: simulated postprocessing bug" in [f.error for f in report.failures if "gray" in f.file][0]
    names = sorted(os.path.basename(dst) for _, dst in report.outputs)
    assert names == ["a_rgb-2_pred.png", "a_rgb_pred.png", "c_rgba_pred.png"]  # no output overwritten


def test_writer_transpose_and_scale(tmp_path):
    pred = torch.tensor([[[0, 1, 2], [2, 1, 0]]])  # (1, H=2, W=3) multi-class labels: written as is
    path = PNGPredictionWriter()({"pred": pred}, str(tmp_path), "x")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pred[0].numpy())
    path = PNGPredictionWriter(suffix="_t.png", transpose=True, scale=100)({"pred": pred}, str(tmp_path), "x")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pred[0].numpy().T * 100)
    with pytest.raises(ValueError, match="png"):
        PNGPredictionWriter(suffix=".jpg")


def test_bad_inputs(tmp_path):
    net, pre, post, inferer = _pieces()
    with pytest.raises(ValueError, match="does not exist"):
        run_folder_inference(net, pre, post, inferer, str(tmp_path / "nowhere") + "/", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        run_folder_inference(net, pre, post, inferer, tmp_path / "empty", tmp_path / "out")


def test_from_a_bundle_inference_config(image_folder, tmp_path):
    """The runner as a bundle's `run` step, with the ids MONAI Label reads (network, preprocessing, ...)."""
    bundle = tmp_path / "bundle"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "models").mkdir()
    torch.save(_network().state_dict(), bundle / "models" / "model.pt")
    config = {
        "imports": ["$from monai_ext.engines import run_folder_inference"],
        "bundle_root": str(bundle),
        "dataset_dir": str(image_folder),
        "output_dir": "$@bundle_root + '/eval'",
        "fail_on_error": False,
        "device": "$torch.device('cpu')",
        "network_def": {"_target_": "torch.nn.Conv2d", "in_channels": 3, "out_channels": 2, "kernel_size": 1},
        "network": "$@network_def.to(@device)",
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "monai_ext.data.LoadFundusImaged", "keys": "image", "num_channels": 3},
                {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": 0, "a_max": 255, "b_min": 0, "b_max": 1},
            ],
        },
        "inferer": {"_target_": "SimpleInferer"},
        "postprocessing": {
            "_target_": "Compose", "transforms": [{"_target_": "AsDiscreted", "keys": "pred", "argmax": True}]
        },
        "run": [
            "$run_folder_inference(@network, @preprocessing, @postprocessing, @inferer, @dataset_dir,"
            " @output_dir, device=@device, checkpoint=@bundle_root + '/models/model.pt', fail_on_error=@fail_on_error)"
        ],
        "inference": "%run",
    }
    config_file = bundle / "configs" / "inference.json"
    config_file.write_text(json.dumps(config, indent=4))

    parser = ConfigParser()
    parser.read_config(str(config_file))
    for id_ in ("network_def", "preprocessing", "postprocessing", "inferer"):  # what MONAI Label parses
        assert parser.get_parsed_content(id_) is not None
    report = parser.get_parsed_content("run")[0]
    assert len(report.outputs) == 3 and len(report.failures) == 1
    np.testing.assert_array_equal(
        np.asarray(Image.open(bundle / "eval" / "a_rgb_pred.png")), _expected_mask(image_folder / "a_rgb.png")
    )

    # `python -m monai.bundle run inference --config_file ... --fail_on_error true` calls this: it must raise
    with pytest.raises(RuntimeError) as info:
        monai.bundle.run(run_id="inference", config_file=str(config_file), fail_on_error=True)
    assert isinstance(info.value.__cause__, FolderInferenceError)


def test_segmentation_writer_reads_monai_order_the_same(tmp_path):
    """A (W, H) uint8 label map with (C, W, H) probabilities (the bundles' postprocessing output, MONAI's order)
    gives the same files as (1, H, W) with (C, H, W) in our order."""
    from monai_ext.engines import SegmentationPNGWriter
    from monai_ext.transforms import to_monai_spatial_order

    rng = np.random.default_rng(3)
    prob = torch.from_numpy(rng.random((2, 5, 7)).astype(np.float32))
    prob = prob / prob.sum(0, keepdim=True)
    label = prob.argmax(0, keepdim=True)
    (tmp_path / "ours").mkdir()
    (tmp_path / "monai").mkdir()
    ours = SegmentationPNGWriter()({"pred": label, "prob": prob}, str(tmp_path / "ours"), "x")
    converted = SegmentationPNGWriter(transpose=True)(
        {"pred": to_monai_spatial_order(label)[0].to(torch.uint8), "prob": to_monai_spatial_order(prob)},
        str(tmp_path / "monai"), "x")
    for suffix in ("_seg.png", "_prob.png"):
        a = np.asarray(Image.open(tmp_path / "ours" / f"x{suffix}"))
        b = np.asarray(Image.open(tmp_path / "monai" / f"x{suffix}"))
        assert a.shape == (5, 7)
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.asarray(Image.open(ours)), label[0].numpy().astype(np.uint8) * 255)
    np.testing.assert_array_equal(np.asarray(Image.open(converted)), np.asarray(Image.open(ours)))
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(H, W\)"):
        SegmentationPNGWriter()({"pred": torch.zeros(5)}, str(tmp_path), "y")
