# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""MONAI Label compatibility of the fundus segmentation bundles (DS2F, SS-MAF), without installing MONAI Label.

The replay follows MONAI Label's ``monailabel/tasks/infer/bundle.py`` (``BundleInferTask``), ``basic_infer.py``
(``BasicInferTask.__call__``, ``_get_network``, ``run_inferer``), ``interfaces/utils/transform.py``
(``run_transforms``), ``transform/post.py`` (``Restored``), ``transform/writer.py`` (``Writer``, for a 2D label) and
``tasks/train/bundle.py`` (``BundleTrainTask``) call by call (MONAI Label 0.8.5). MONAI Label needs torchvision, which
the project's environment does not have: the last test runs the real package, writer included, where it is installed
(marker ``monailabel``); ``.ci/monailabel_e2e.sh`` makes such an environment and runs it, then the real server.

The bundle is copied to a folder named as it would be served (``<app>/model/<name>``; the name decides MONAI Label's
task type) with a toy checkpoint in ``models/model.pt``: without weights MONAI Label ignores a bundle.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigItem, ConfigParser
from monai.data import MetaTensor, partition_dataset
from monai.inferers import SimpleInferer
from monai.transforms import Compose, LoadImaged, Resize, SaveImaged
from PIL import Image

from monai_ext.bundle import build_network
from monai_ext.transforms import to_monai_spatial_order

REPO = Path(__file__).resolve().parents[2]
#: bundle folder -> the directory name to serve it under in apps/monaibundle/model/ (docs/ecosystem.md)
SERVED_NAMES = {"ds2f": "retina_vessel_segmentation_ds2f", "ss_maf": "retina_exudate_segmentation_ss_maf"}
LABEL_BUNDLES = [pytest.param(name, id=name) for name in SERVED_NAMES]
#: tiny-run overrides, applied only where the bundle's train.json defines the id (not part of MONAI Label's calls)
TINY_TRAIN = {"hr_spatial_size": [64, 64], "train_hr_spatial_size": [64, 64], "base_channels": 8, "val_interval": 1,
              "batch_size": 2}


def _served_bundle(name: str, tmp_path: Path, train_overrides: dict | None = None) -> Path:
    source = REPO / "bundles" / name
    if not (source / "configs" / "metadata.json").is_file():
        pytest.skip(f"bundles/{name} does not exist yet")
    for config in ("inference.json", "train.json"):
        if not (source / "configs" / config).is_file():
            pytest.fail(f"bundles/{name}/configs/{config} is missing: MONAI Label's monaibundle app needs it")
    path = tmp_path / "apps" / "monaibundle" / "model" / SERVED_NAMES[name]
    shutil.copytree(source, path, ignore=shutil.ignore_patterns("eval", "__pycache__", "*.pt", "*.ts"))
    (path / "models").mkdir(exist_ok=True)
    # weights matching the network MONAI Label will build (inference.json for infer, train.json + overrides for train)
    config, overrides = ("train.json", train_overrides) if train_overrides is not None else ("inference.json", None)
    net = build_network(path, config, overrides=overrides)
    torch.save(net.state_dict(), path / "models" / "model.pt")
    return path


def _train_datalist(path: Path, count: int) -> list[dict]:
    """The first ``count`` image/label pairs of the bundle's own default training list (embedded data)."""
    parser = ConfigParser()
    parser.read_config(str(path / "configs" / "train.json"))
    parser["bundle_root"] = str(path)
    data = parser.get_parsed_content("train#dataset#data")
    return [{"image": d["image"], "label": d["label"]} for d in data[:count]]


def _unload_scripts() -> None:
    """``monailabel.utils.others.class_utils.unload_module("scripts")``."""
    for module in [m for m in sys.modules if m == "scripts" or m.startswith("scripts.")]:
        del sys.modules[module]


def _run_transforms(data: dict, callables, log_prefix: str) -> dict:
    """``monailabel.interfaces.utils.transform.run_transforms`` (``use_compose=False``): one transform at a time,
    recording a latency per transform in ``data["latencies"]``."""
    for t in callables:
        data = t(data)
        data.setdefault("latencies", {}).setdefault(log_prefix.lower(), {})[t.__class__.__name__] = 0.0
    return data


def _restored(data: dict, key: str, ref_image: str, meta_key_postfix: str = "meta_dict") -> dict:
    """``monailabel.transform.post.Restored(keys=key, ref_image=ref_image)`` with its defaults (nearest, channel
    first, no orientation inversion)."""
    d = dict(data)
    ref = d.get(ref_image)
    meta_dict = ref.meta if isinstance(ref, MetaTensor) else d.get(f"{ref_image}_{meta_key_postfix}", {})
    result = d[key]
    current_size = result.shape[1:]
    spatial_shape = meta_dict.get("spatial_shape", current_size)
    spatial_size = spatial_shape[-len(current_size):]
    if np.any(np.not_equal(current_size, spatial_size)):
        result = Resize(spatial_size=spatial_size, mode="nearest")(result, mode="nearest", align_corners=None)
    d[key] = result if len(result.shape) <= 3 else result[0] if result.shape[0] == 1 else result
    meta = d.setdefault(f"{key}_{meta_key_postfix}", {})
    meta["affine"] = meta_dict.get("original_affine")
    return d


def _write_label(data: dict, key: str, path: Path) -> Path:
    """``monailabel.transform.writer.Writer`` for a 2D label (``write_itk``): the extension is
    ``data["result_extension"]`` or the image's; the array is transposed (MONAI's (W, H) to the file's rows) and written
    as it is, with no dtype given. PIL stands in for ITK, whose PNG and JPEG writers accept only 2D uint8/uint16."""
    ext = data.get("result_extension") or Path(data["image_path"]).suffix
    array = np.asarray(torch.as_tensor(data[key]).cpu().numpy())
    if array.ndim != 2 or array.dtype not in (np.uint8, np.uint16):
        raise RuntimeError(f"ITK cannot write a {array.ndim}D {array.dtype} label as {ext}")
    out = path.with_suffix(ext)
    Image.fromarray(array.transpose().copy()).save(out)
    return out


def _task_type(name: str) -> str:
    """``BundleInferTask._get_type`` without an explicit type."""
    name = name.lower()
    for word in ("deepedit", "deepgrow", "detection", "segmentation", "classification"):
        if word in name:
            return word
    return "segmentation"


class BundleInferReplay:
    """``BundleInferTask(path, conf={})`` of MONAI Label's ``monaibundle`` app, then ``task(request)``."""

    def __init__(self, path: Path) -> None:
        configs = [c for c in ("inference.json", "inference.yaml") if (path / "configs" / c).exists()]
        assert configs, f"MONAI Label ignores {path}: no inference config"
        sys.path.insert(0, str(path))
        _unload_scripts()
        self.path = path
        self.bundle_config = ConfigParser()
        self.bundle_config.read_config(str(path / "configs" / configs[0]))
        self.bundle_config.config.update({"bundle_root": str(path)})
        self.model_path = path / "models" / "model.pt"
        assert self.model_path.exists(), f"MONAI Label ignores {path}: no models/model.pt"
        self.network = self.bundle_config.get_parsed_content("network_def", instantiate=True)
        metadata = json.loads((path / "configs" / "metadata.json").read_text())
        self.key_image, image = next(iter(metadata["network_data_format"]["inputs"].items()))
        self.key_pred, pred = next(iter(metadata["network_data_format"]["outputs"].items()))
        self.labels = {v.lower(): int(k) for k, v in pred.get("channel_def", {}).items() if v.lower() != "background"}
        spatial_shape = image.get("spatial_shape")
        self.dimension = len(spatial_shape) if spatial_shape else 3
        self.type = _task_type(path.name)
        # BasicInferTask._config, updated with the bundle's displayable_configs (the request's defaults)
        self.config = {"device": ["cpu"], "model_filename": ["model.pt"]}
        if self.bundle_config.get("displayable_configs"):
            self.config.update(self.bundle_config.get_parsed_content("displayable_configs", instantiate=True))
        sys.path.remove(str(path))

    def _update_device(self, data: dict) -> None:
        device = data.get("device")
        if device:
            self.bundle_config.config.update({"device": device})
            if self.bundle_config.ref_resolver.items.get("device"):
                self.bundle_config.ref_resolver.items["device"] = ConfigItem(config=device, id="device")

    def _components(self, keys: tuple[str, ...], data: dict) -> list:
        sys.path.insert(0, str(self.path))
        _unload_scripts()
        self._update_device(data)
        found = []
        for k in keys:
            if self.bundle_config.get(k):
                c = self.bundle_config.get_parsed_content(k, instantiate=True)
                found = list(c.transforms) if isinstance(c, Compose) else c
        sys.path.remove(str(self.path))
        return found

    def pre_transforms(self, data: dict) -> list:
        pre = self._components(("preprocessing", "pre_transforms"), data)
        # extend_load_image: MONAI's LoadImaged is wrapped by LoadImageTensord, which skips already-loaded tensors
        return [(lambda d, t=t: d if torch.is_tensor(d[t.keys[0]]) else t(d)) if isinstance(t, LoadImaged) else t
                for t in pre]

    def post_transforms(self, data: dict) -> tuple[list, Callable[[dict], dict]]:
        post = [t for t in self._components(("postprocessing", "post_transforms"), data)
                if not isinstance(t, SaveImaged)]
        return post, lambda d: _restored(d, self.key_pred, self.key_image)

    def inferer(self, data: dict):
        found = None
        sys.path.insert(0, str(self.path))
        _unload_scripts()
        self._update_device(data)
        if self.bundle_config.get("inferer"):
            found = self.bundle_config.get_parsed_content("inferer", instantiate=True)
        sys.path.remove(str(self.path))
        return found if found is not None else SimpleInferer()

    def _get_network(self, device: str, load_strict: bool) -> torch.nn.Module:
        network = copy.deepcopy(self.network)
        network.to(torch.device(device))
        checkpoint = torch.load(self.model_path, map_location=torch.device(device))
        network.load_state_dict(checkpoint.get("model", checkpoint), strict=load_strict)
        return network.eval()

    def __call__(self, request: dict, load_strict: bool = True) -> tuple[dict, dict]:
        """Returns the data before the restore step and the final data handed to MONAI Label's writer."""
        req = {**copy.deepcopy(self.config), **request}
        req["device"] = "cpu"  # monailabel.utils.others.generic.name_to_device on a CPU machine
        data = copy.deepcopy(req)
        data.update({"image_path": req["image"]})
        data = _run_transforms(data, self.pre_transforms(data), "PRE")
        inferer = self.inferer(data)
        network = self._get_network(req["device"], load_strict)
        inputs = data[self.key_image]
        inputs = inputs if torch.is_tensor(inputs) else torch.from_numpy(inputs)
        with torch.no_grad():
            outputs = inferer(inputs[None].to(torch.device(req["device"])), network)
        data["pred"] = outputs[0]
        post, restore = self.post_transforms(data)
        data = _run_transforms(data, post, "POST")
        before_restore = dict(data)
        return before_restore, _run_transforms(data, [restore], "POST")


@pytest.mark.parametrize("name", LABEL_BUNDLES)
def test_bundle_infer_task_replay(name, tmp_path):
    path = _served_bundle(name, tmp_path)
    task = BundleInferReplay(path)
    assert task.dimension == 2
    assert task.type == "segmentation"
    assert task.labels and all(v > 0 for v in task.labels.values())

    image_file = _train_datalist(path, 1)[0]["image"]
    with Image.open(image_file) as img:
        width, height = img.size
    before_restore, data = task({"image": image_file, "model": path.name})

    # our postprocessing returns the label map at the input image's size, in MONAI's (W, H) order, uint8, without a
    # channel: MONAI Label's Restored is then a no-op and its Writer writes a 2D PNG
    assert tuple(before_restore["pred"].shape) == (width, height)
    assert torch.as_tensor(data["pred"]).dtype == torch.uint8
    assert tuple(data["pred"].shape) == (width, height), f"prediction {tuple(data['pred'].shape)} after Restored"
    values = set(torch.unique(torch.as_tensor(data["pred"])).tolist())
    assert values <= {0, *task.labels.values()}, f"label map values {values}"
    assert data["result_extension"] == ".png"  # the bundle's displayable_configs: a PNG label for a JPG study too
    written = _write_label(data, task.key_pred, tmp_path / "label")
    assert written.suffix == ".png"
    label = np.asarray(Image.open(written))
    assert label.shape == (height, width) and label.dtype == np.uint8

    # the label file agrees with the network's own prediction at the HR size, restored with nearest neighbours
    network = task._get_network("cpu", load_strict=True)
    image = to_monai_spatial_order(before_restore[task.key_image])  # back to our (C, H, W)
    with torch.no_grad():
        hr_labels = network(torch.as_tensor(image)[None]).argmax(1, keepdim=True).float()
    restored = torch.nn.functional.interpolate(hr_labels, size=(height, width), mode="nearest")[0, 0].numpy()
    agreement = (restored == label).mean()
    assert agreement > 0.95, f"only {float(agreement):.3f} of the pixels agree with the HR prediction"


def test_unconverted_label_fails_the_writer(tmp_path):
    """The failure the conversion fixes: a (1, H, W) float label, as the postprocessing left it before."""
    with pytest.raises(RuntimeError, match="cannot write a 3D float32"):
        _write_label({"pred": torch.zeros(1, 4, 6), "image_path": "x.jpg"}, "pred", tmp_path / "label")


@pytest.mark.parametrize("name", LABEL_BUNDLES)
def test_bundle_infer_task_non_strict_loading(name, tmp_path):
    """``load_strict=False`` (the endoscopy app's setting) with a ``{"model": ...}`` checkpoint."""
    path = _served_bundle(name, tmp_path)
    state = torch.load(path / "models" / "model.pt")
    torch.save({"model": state}, path / "models" / "model.pt")
    image_file = _train_datalist(path, 1)[0]["image"]
    _, data = BundleInferReplay(path)({"image": image_file, "model": path.name}, load_strict=False)
    with Image.open(image_file) as img:
        assert tuple(data["pred"].shape) == img.size


def _replay_bundle_train(path: Path, datalist: list[dict], request: dict, tiny: dict) -> None:
    """``BundleTrainTask(path, conf={})(request, datastore)`` on one device (no multi-GPU)."""
    bundle_config = ConfigParser()
    bundle_config.read_config(str(path / "configs" / "train.json"))
    bundle_config.config.update({"bundle_root": str(path)})
    metadata_path = path / "configs" / "metadata.json"

    val_split = request.get("val_split", 0.2)
    if val_split > 0.0:
        train_ds, val_ds = partition_dataset(datalist, ratios=[(1 - val_split), val_split], shuffle=False)
    else:
        train_ds, val_ds = datalist, (None if val_split < 0 else [])
    train_handlers = bundle_config.get("train#handlers", [])
    model_pytorch = path / "models" / request.get("model_filename", "model.pt")
    if request.get("pretrained", True) and model_pytorch.exists():
        if not [t for t in train_handlers if t.get("_target_") == "CheckpointLoader"]:
            train_handlers.insert(0, {"_target_": "CheckpointLoader", "load_path": str(model_pytorch),
                                      "load_dict": {"model": "$@network"}, "strict": False})
    overrides = {
        "bundle_root": str(path),
        "train#trainer#max_epochs": request.get("max_epochs", 50),
        "train#dataset#data": train_ds,
        "device": request["device"],
        "train#handlers": train_handlers,
    }
    tracking = request.get("tracking", "")
    if tracking and tracking.lower() != "none":
        overrides["tracking"] = tracking
        overrides["tracking_uri"] = request["tracking_uri"]
        overrides["experiment_name"] = request.get("tracking_experiment_name") or request.get("model")
        if request.get("tracking_run_name"):
            overrides["run_name"] = request["tracking_run_name"]
    if val_ds is not None:
        overrides["validate#dataset#data"] = val_ds
    overrides.update(tiny)  # the test's size reduction, standing in for BundleTrainTask._update_overrides

    import monai.bundle

    sys.path.insert(0, str(path))
    _unload_scripts()
    try:
        monai.bundle.run(run_id=request.get("run_id", "run"), init_id=None, final_id=None,
                         meta_file=str(metadata_path), config_file=str(path / "configs" / "train.json"), **overrides)
    finally:
        sys.path.remove(str(path))


def _tiny(name: str) -> dict:
    raw = json.loads((REPO / "bundles" / name / "configs" / "train.json").read_text())
    return {k: v for k, v in TINY_TRAIN.items() if k in raw}


@pytest.mark.parametrize("name", LABEL_BUNDLES)
def test_bundle_train_task_replay_with_validation(name, tmp_path):
    """val_split 0.34 of 3 images (2 train, 1 validation); device as a ``torch.device`` object."""
    if not (REPO / "bundles" / name / "configs" / "train.json").is_file():
        pytest.skip(f"bundles/{name} has no train.json yet")
    tiny = _tiny(name)
    path = _served_bundle(name, tmp_path, train_overrides=tiny)
    toy = torch.load(path / "models" / "model.pt")
    datalist = _train_datalist(path, 3)
    request = {"model": path.name, "max_epochs": 1, "val_split": 0.34, "device": torch.device("cpu"),
               "pretrained": True}
    _replay_bundle_train(path, datalist, request, tiny)

    # the best-metric CheckpointSaver rewrote models/model.pt after validation, with trained weights
    trained = torch.load(path / "models" / "model.pt")
    trained = trained.get("model", trained)
    assert set(trained) == set(toy)
    assert any(not torch.equal(trained[k], toy[k]) for k in toy if toy[k].is_floating_point())
    build_network(path, "train.json", overrides=tiny).load_state_dict(trained, strict=True)
    assert list((path / "eval").glob("**/events.out.tfevents.*")), "no TensorBoard events under eval/"


@pytest.mark.parametrize("name", LABEL_BUNDLES)
def test_bundle_train_task_replay_no_validation_mlflow(name, tmp_path):
    """val_split 0 (``validate#dataset#data = []``) with MLflow tracking to a local store.

    The device is the string ``name_to_device`` returns: with a ``torch.device`` object *and* tracking, MONAI 1.6.1
    fails before the run while writing the executed config to JSON (``patch_bundle_tracking``), whatever the bundle.
    """
    mlflow = pytest.importorskip("mlflow")
    if not (REPO / "bundles" / name / "configs" / "train.json").is_file():
        pytest.skip(f"bundles/{name} has no train.json yet")
    tiny = _tiny(name)
    path = _served_bundle(name, tmp_path, train_overrides=tiny)
    toy = torch.load(path / "models" / "model.pt")
    tracking_uri = "sqlite:///" + str((tmp_path / "mlruns.db").resolve())  # 4 slashes: an absolute path, not cwd
    request = {"model": path.name, "max_epochs": 1, "val_split": 0.0, "device": "cpu",
               "tracking": "mlflow", "tracking_uri": tracking_uri, "tracking_run_name": "replay"}
    _replay_bundle_train(path, _train_datalist(path, 2), request, tiny)

    # no validation ran, so the best-metric model was not rewritten; the final training checkpoint exists
    kept = torch.load(path / "models" / "model.pt")
    assert all(torch.equal(kept[k], toy[k]) for k in toy)
    assert list((path / "models").glob("checkpoint*final*.pt")) or list((path / "models").glob("checkpoint*.pt"))
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(path.name)
    assert experiment is not None, f"no MLflow experiment {path.name!r} in {tracking_uri}"
    runs = client.search_runs([experiment.experiment_id])
    assert [r for r in runs if r.info.run_name == "replay" and r.data.metrics]


@pytest.mark.monailabel
@pytest.mark.parametrize("name", LABEL_BUNDLES)
def test_real_monailabel_bundle_tasks(name, tmp_path):
    """The real MONAI Label tasks, writer included, when ``monailabel`` is installed (``.ci/monailabel_e2e.sh``
    makes such an environment and also runs the real server)."""
    pytest.importorskip("monailabel", reason="monailabel is not installed (it needs torchvision)")
    from monailabel.tasks.infer.bundle import BundleInferTask
    from monailabel.tasks.train.bundle import BundleTrainTask

    bare = _served_bundle(name, tmp_path / "bare")
    (bare / "models" / "model.pt").unlink()
    skipped = BundleInferTask(str(bare), {})
    assert not skipped.is_valid()  # without weights MONAI Label skips the bundle (docs/ecosystem.md, section 4)
    with pytest.raises(AttributeError, match="'BundleInferTask' object has no attribute"):
        skipped.info()  # what /info/ and /infer/<name> then run into

    path = _served_bundle(name, tmp_path)
    task = BundleInferTask(str(path), {})
    assert task.is_valid()
    assert task.labels == {v.lower(): int(k) for k, v in
                           json.loads((path / "configs" / "metadata.json").read_text())["network_data_format"]
                           ["outputs"]["pred"]["channel_def"].items() if v.lower() != "background"}
    image_file = _train_datalist(path, 1)[0]["image"]
    with Image.open(image_file) as img:
        width, height = img.size
    # MONAI Label 0.8.5 returns (label file, result json); with skip_writer=True it would return (None, data)
    label_file, result = task({"image": image_file, "device": "cpu", "model": path.name})
    assert isinstance(label_file, str) and label_file.endswith(".png"), label_file
    assert result["label_names"] == task.labels
    label = np.asarray(Image.open(label_file))
    assert label.shape == (height, width) and label.dtype == np.uint8
    assert set(np.unique(label).tolist()) <= {0, *task.labels.values()}
    # aligned with the bundle's own folder inference on the same image
    out = tmp_path / "own"
    parser = ConfigParser()
    parser.read_config(str(path / "configs" / "inference.json"))
    parser.update({"bundle_root": str(path), "input_dir": [image_file], "output_dir": str(out),
                   "device": "$torch.device('cpu')"})
    parser.get_parsed_content("run")
    own = np.asarray(Image.open(out / f"{Path(image_file).stem}_seg.png")) > 0
    np.testing.assert_array_equal(label > 0, own)

    tiny = _tiny(name)
    train_path = _served_bundle(name, tmp_path / "train", train_overrides=tiny)

    class TinyTrainTask(BundleTrainTask):
        def _update_overrides(self, overrides):
            overrides.update(tiny)
            return overrides

    class ListDatastore:
        def __init__(self, items):
            self.items = items

        def datalist(self):
            return self.items

    trainer = TinyTrainTask(str(train_path), {})
    assert trainer.is_valid()
    trainer({"model": train_path.name, "max_epochs": 1, "val_split": 0.0, "device": "cpu", "multi_gpu": False,
             "tracking": "None"}, ListDatastore(_train_datalist(train_path, 2)))
    assert list((train_path / "models").glob("checkpoint*.pt"))
