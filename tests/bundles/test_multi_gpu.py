# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Multi-GPU / multi-node configs (``configs/multi_gpu_train.json``) of every bundle, and the DDP helpers.

The full runs start ``torchrun --standalone --nnodes=1 --nproc_per_node=2`` on the CPU (gloo backend) on tiny
generated images, with each rank's ``bundle_root`` in its own folder so that the files each rank wrote can be told
apart, and check that both ranks trained on disjoint halves of the data, stayed in sync, and that only rank 0 wrote
checkpoints and logs.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.handlers import CheckpointSaver, LrScheduleHandler, StatsHandler, TensorBoardStatsHandler
from PIL import Image

from monai_ext.engines import distributed as mdist
from monai_ext.utils import stage_checkpoint_path

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "bundles"


def bundle_names() -> list[str]:
    """Every bundle folder that has a training config."""
    return sorted(p.name for p in BUNDLES.iterdir() if (p / "configs" / "train.json").is_file())


def _configs(name: str) -> Path:
    return BUNDLES / name / "configs"


# ---------------------------------------------------------------------------------------------------------------
# tiny data and overrides, shared with test_mlflow_tracking.py
# ---------------------------------------------------------------------------------------------------------------


def write_fundus_pairs(folder: Path, count: int, size: int = 48, seed: int = 0) -> list[dict]:
    """``count`` random RGB images with rectangular masks (PNG), as data dicts (``image``, ``label``, ``id``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    items = []
    for i in range(count):
        image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[size // 5 : size // 2 + i % 4, size // 8 + i : size // 2 + i] = 255
        Image.fromarray(image).save(folder / f"img{i}.png")
        Image.fromarray(mask).save(folder / f"img{i}_mask.png")
        items.append({"image": str(folder / f"img{i}.png"), "label": str(folder / f"img{i}_mask.png"), "id": f"s{i}"})
    return items


def _dual_stream_tiny(tmp_path: Path, n_train: int, n_val: int) -> dict:
    items = write_fundus_pairs(tmp_path / "data", n_train + n_val)
    return {
        "max_epochs": 1,
        "val_interval": 1,
        "batch_size": 2,
        "hr_spatial_size": [32, 32],
        "base_channels": 4,
        "train#dataset#data": items[:n_train],
        "validate#dataset#data": items[n_train:],
    }


def _ss_maf_tiny(tmp_path: Path, n_train: int, n_val: int) -> dict:
    overrides = _dual_stream_tiny(tmp_path, n_train, n_val)
    overrides["train_hr_spatial_size"] = [32, 32]
    return overrides


def write_rgb_images(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """``count`` random RGB PNG images of ``size`` x ``size`` pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
        paths.append(folder / f"img{i}.png")
    return paths


def _saliency_sr_tiny(tmp_path: Path, n_train: int, n_val: int) -> dict:
    paths = write_rgb_images(tmp_path / "data", n_train + n_val, 40)
    items = [{"image": str(p), "id": f"s{i}"} for i, p in enumerate(paths)]
    return {
        "pretrain_epochs": 1,
        "max_epochs": 1,
        "val_interval": 1,
        "batch_size": 2,
        "scale_factor": 2,
        "hr_spatial_size": [32, 32],
        "hr_patch_size": [32, 32],
        "patches_per_image": 1,
        "features": 4,
        "num_res_blocks": 1,
        "disc_channels": 4,
        "train#dataset#data": items[:n_train],
        "validate#dataset#data": items[n_train:],
    }


def _sai_diagnosis_tiny(tmp_path: Path, n_train: int, n_val: int) -> dict:
    paths = write_rgb_images(tmp_path / "data", n_train + n_val, 16)
    items = [{"image": str(p), "label": i % 2, "id": f"s{i}"} for i, p in enumerate(paths)]
    return {
        "max_epochs": 1,
        "val_interval": 1,
        "batch_size": 2,
        "val_batch_size": 2,
        "image_size": [16, 16],
        "train_datalist": items[:n_train],
        "val_datalist": items[n_train:],
    }


# bundle -> function(tmp_path, n_train, n_val) returning config overrides for a tiny CPU training run; the training
# loop is a SupervisedTrainer over `train#dataloader` whose network is `network` (checked in the full DDP run)
TINY_RUNS = {
    "ds2f": _dual_stream_tiny,
    "ss_maf": _ss_maf_tiny,
    "saliency_sr": _saliency_sr_tiny,
    "sai_diagnosis": _sai_diagnosis_tiny,
}


# extra overrides for the 2-process runs, whose ranks write to separate bundle roots: saliency_sr's GAN stage would
# load the stage-1 checkpoint that only rank 0 wrote (in a real run the ranks share bundle_root, and the config's
# barrier between the stages makes sure the file is there); the in-memory weights are already equal on both ranks
DDP_EXTRA = {"saliency_sr": {"pretrained_generator": None}}


def tiny_overrides(name: str, tmp_path: Path, n_train: int = 4, n_val: int = 2) -> dict:
    """Config overrides for a tiny 1-epoch training of bundle ``name`` (skips the test for an unknown bundle)."""
    if name not in TINY_RUNS:
        pytest.skip(f"no tiny training recipe for bundle {name!r} yet")
    return TINY_RUNS[name](tmp_path, n_train, n_val)


def process_group_alive(pgid: int) -> bool:
    """True while any process of the process group ``pgid`` exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_process_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate a subprocess started with ``start_new_session=True`` and everything it started: SIGTERM to the
    group, then SIGKILL to whatever is left after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so that it does not count as alive
        if not process_group_alive(proc.pid):
            break
        time.sleep(0.1)
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=5)


# ---------------------------------------------------------------------------------------------------------------
# helpers in monai_ext.engines.distributed
# ---------------------------------------------------------------------------------------------------------------


def test_rank_and_world_from_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert mdist.get_rank() == 3 and mdist.get_world_size() == 4 and not mdist.is_rank0()
    assert mdist.distributed_seed(10) == 13
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert mdist.get_rank() == 0 and mdist.get_world_size() == 1 and mdist.is_rank0()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK='x'"):
        mdist.get_rank()


def test_local_device_and_init_without_torchrun(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    expected = torch.device("cuda:1") if torch.cuda.is_available() else torch.device("cpu")
    assert mdist.local_device() == expected
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        mdist.init_distributed()
    assert mdist.destroy_distributed() is False


@pytest.mark.parametrize("length, world, shuffle", [(10, 3, False), (10, 3, True), (7, 2, True)])
def test_distributed_sampler_partitions_like_torch(length, world, shuffle):
    """Padded shards: equal sizes, union = every index, each shard = torch's own DistributedSampler formula."""
    data = list(range(length))
    shards = []
    for rank in range(world):
        sampler = mdist.distributed_sampler(data, shuffle=shuffle, seed=5, num_replicas=world, rank=rank)
        sampler.set_epoch(2)
        shards.append(list(sampler))
    if shuffle:
        g = torch.Generator()
        g.manual_seed(5 + 2)
        order = torch.randperm(length, generator=g).tolist()
    else:
        order = list(range(length))
    per_rank = math.ceil(length / world)
    padded = (order + order)[: per_rank * world]
    assert shards == [padded[r::world] for r in range(world)]
    assert set().union(*shards) == set(data)


def test_distributed_sampler_validation_shards_and_small_dataset():
    # validation: no padding, every sample exactly once
    shards = [list(mdist.distributed_sampler(list(range(5)), False, False, num_replicas=2, rank=r)) for r in (0, 1)]
    assert sorted(shards[0] + shards[1]) == [0, 1, 2, 3, 4]
    # fewer samples than ranks: padding instead of an empty shard (an ignite engine cannot run on no data)
    shards = [list(mdist.distributed_sampler([0], False, False, num_replicas=2, rank=r)) for r in (0, 1)]
    assert shards == [[0], [0]]


def test_rank0_handlers_filters_by_type(monkeypatch, tmp_path):
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    lr = LrScheduleHandler(torch.optim.lr_scheduler.StepLR(opt, 1))
    stats = StatsHandler()
    tb = TensorBoardStatsHandler(log_dir=str(tmp_path / "tb"))
    saver = CheckpointSaver(save_dir=str(tmp_path / "ckpt"), save_dict={"model": net}, save_final=True)
    handlers = [lr, stats, tb, saver]
    monkeypatch.setenv("RANK", "0")
    assert mdist.rank0_handlers(handlers) == handlers
    monkeypatch.setenv("RANK", "1")
    assert mdist.rank0_handlers(handlers) == [lr]
    assert mdist.rank0_handlers(handlers, rank0_only=(StatsHandler,)) == [lr, tb, saver]
    assert mdist.rank0_handlers(None) is None
    assert tb._writer.all_writers is None  # the dropped handler's own writer was closed


def test_rank_output_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RANK", "0")
    assert mdist.rank_output_dir("x/eval") == "x/eval"
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    scratch = mdist.rank_output_dir("x/eval")
    assert Path(scratch).parent == tmp_path and "rank2" in Path(scratch).name
    os.makedirs(scratch)
    mdist.destroy_distributed()
    assert not os.path.exists(scratch)


# ---------------------------------------------------------------------------------------------------------------
# configs: every bundle
# ---------------------------------------------------------------------------------------------------------------


def _merged(name: str, extra: list[str] | None = None) -> ConfigParser:
    parser = ConfigParser()
    files = [str(_configs(name) / "train.json"), str(_configs(name) / "multi_gpu_train.json")] + (extra or [])
    parser.read_config(files)
    return parser


def _engine_sections(config: dict) -> list[tuple[str, str, str]]:
    """(section, engine key, handlers argument) of every trainer/evaluator section of a train config."""
    found = []
    for section, content in config.items():
        if isinstance(content, dict):
            if "trainer" in content:
                found.append((section, "trainer", "train_handlers"))
            if "evaluator" in content:
                found.append((section, "evaluator", "val_handlers"))
    return found


@pytest.mark.parametrize("name", bundle_names())
def test_multi_gpu_config_structure(name):
    """The override follows the model-zoo pattern, for every trainer and evaluator section the bundle has."""
    path = _configs(name) / "multi_gpu_train.json"
    assert path.is_file(), f"{path} is missing"
    train = ConfigParser.load_config_file(str(_configs(name) / "train.json"))
    merged = _merged(name).get()
    engines = _engine_sections(train)
    assert ("train", "trainer", "train_handlers") in engines
    assert any("init_distributed()" in str(x) for x in merged["initialize"])
    assert any("destroy_distributed()" in x for x in merged["finalize"])
    assert merged["output_dir"].startswith("$monai_ext.engines.rank_output_dir(")
    networks = set()
    for section, engine, handlers_arg in engines:
        engine_cfg = merged[section][engine]
        # handlers: logging/writing ones on rank 0 only
        assert "rank0_handlers(" in str(engine_cfg.get(handlers_arg)), f"{section}#{engine}#{handlers_arg}"
        # data: a DistributedSampler in the loader, no shuffling of the loader itself
        loader_ref = engine_cfg.get("train_data_loader", engine_cfg.get("val_data_loader"))
        loader_id = loader_ref.lstrip("@").replace("::", "#")
        loader = merged[loader_id.split("#")[0]][loader_id.split("#")[1]]
        assert loader.get("shuffle") in (False, None), f"{loader_id} shuffles"
        sampler_id = str(loader.get("sampler", "")).lstrip("@")
        assert sampler_id, f"{loader_id} has no sampler"
        sampler = merged[sampler_id.split("#")[0]][sampler_id.split("#")[1]]
        assert sampler["_target_"] == "monai_ext.engines.distributed_sampler"
        assert sampler["shuffle"] is (engine == "trainer")
        for key in ("network", "g_network", "d_network"):
            if isinstance(engine_cfg.get(key), str) and engine == "trainer":
                networks.add(engine_cfg[key].lstrip("@"))
        # checkpoint savers attached in `run` are disabled on ranks > 0
        if "checkpoint_saver" in merged[section]:
            assert merged[section]["checkpoint_saver"].get("_disabled_") == "@is_not_rank0"
    # metrics that are exact only in one process get their distributed-safe form
    for section, _, _ in engines:
        for group in ("key_metric", "additional_metrics"):
            for metric_name, metric in (merged[section].get(group) or {}).items():
                if isinstance(metric, dict) and str(metric.get("_target_", "")).endswith("PooledPRAUCHandler"):
                    assert metric.get("num_bins") is not None, f"{section}#{group}#{metric_name} needs num_bins"
    for net in networks:
        placed = merged[net]
        assert placed["_target_"] == "monai_ext.utils.place_network" and placed.get("distributed") is True, (
            f"{net} is not wrapped in DDP"
        )
    # every run list (`run`, stage lists) is train.json's, stage for stage (run_training_stage attaches a checkpoint
    # saver only where it exists, i.e. on rank 0), with optional barriers between stages
    for key, theirs_list in train.items():
        if not (isinstance(theirs_list, list) and any(_is_stage(x) for x in theirs_list)):
            continue
        ours_list = [x for x in merged[key] if "barrier()" not in str(x)]
        assert ours_list == theirs_list, key
    assert not any(".attach(" in str(x) for x in merged.values() if isinstance(x, list)), "a saver attached by hand"


def _is_stage(item) -> bool:
    return isinstance(item, dict) and item.get("_target_") == "monai_ext.engines.run_training_stage"


@pytest.mark.parametrize("name", bundle_names())
def test_multi_gpu_rank_gating_parses(name, monkeypatch):
    """Ids that depend on the rank resolve as they should on rank 1 of 2 (no process group needed)."""
    if not (_configs(name) / "multi_gpu_train.json").is_file():
        pytest.fail(f"bundles/{name}/configs/multi_gpu_train.json is missing")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.chdir(REPO)
    parser = _merged(name)
    assert parser.get_parsed_content("rank") == 1
    assert parser.get_parsed_content("is_not_rank0") is True
    assert parser.get_parsed_content("device") == mdist.local_device()
    assert parser.get_parsed_content("output_dir") == mdist.rank_output_dir("unused")


# ---------------------------------------------------------------------------------------------------------------
# full 2-process runs on the CPU
# ---------------------------------------------------------------------------------------------------------------

def _ddp_report(folder: Path) -> str:
    """A ``run`` expression by which each rank writes its state to ``folder/ddp_check_rank<r>.txt``.

    A file per rank, not the console: torchrun's ``--tee`` can interleave the two ranks' output within a line.
    """
    return (
        f"$open('{folder.as_posix()}/ddp_check_rank' + str(@rank) + '.txt', 'w').write(repr({{'rank': @rank, "
        "'world': torch.distributed.get_world_size(), "
        "'iterations': @train#trainer.state.iteration, 'sampler_epoch': @train#sampler.epoch, "
        "'indices': list(@train#sampler), 'param_sum': sum(float(p.detach().double().sum()) for p in "
        "@network.parameters())}))"
    )


def _run_torchrun(name: str, extra: Path, tmp_path: Path, timeout: float) -> tuple[int, str]:
    cfg = _configs(name)
    files = [str(cfg / "train.json"), str(cfg / "multi_gpu_train.json"), str(extra)]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
        "--tee", "3", "-m", "monai.bundle", "run", "training", "--config_file", json.dumps(files),
        "--meta_file", str(cfg / "metadata.json"), "--logging_file", str(cfg / "logging.conf"),
    ]  # fmt: skip
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", TMPDIR=str(scratch), PYTHONUNBUFFERED="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process_group(proc)
        out, _ = proc.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s; output tail:\n{out[-4000:]}")
    finally:
        kill_process_group(proc)
    return proc.returncode, out


@pytest.mark.slow
@pytest.mark.parametrize("name", bundle_names())
def test_two_process_cpu_training(name, tmp_path):
    """torchrun, 2 processes, gloo: both ranks train on their half of the data, stay in sync, rank 0 writes."""
    max_epochs, n_train, batch = 2, 4, 2
    overrides = tiny_overrides(name, tmp_path, n_train=n_train, n_val=2)
    seed = ConfigParser.load_config_file(str(_configs(name) / "train.json")).get("seed", 0)
    overrides.update(
        {
            "max_epochs": max_epochs,
            "batch_size": batch,
            "bundle_root": f"$'{tmp_path.as_posix()}/rank' + str(@rank)",
            "+run": [_ddp_report(tmp_path)],
            **DDP_EXTRA.get(name, {}),
        }
    )
    extra = tmp_path / "tiny_ddp.json"
    extra.write_text(json.dumps(overrides))
    rc, out = _run_torchrun(name, extra, tmp_path, timeout=85)
    assert rc == 0, out[-6000:]

    reports = {}
    for path in sorted(tmp_path.glob("ddp_check_rank*.txt")):
        report = ast.literal_eval(path.read_text())
        reports[report["rank"]] = report
    assert sorted(reports) == [0, 1], out[-4000:]
    per_rank_batches = math.ceil(math.ceil(n_train / 2) / batch)
    for rank, report in reports.items():
        assert report["world"] == 2
        assert report["iterations"] == max_epochs * per_rank_batches
        assert report["sampler_epoch"] == max_epochs  # MONAI's trainer called set_epoch every epoch
    # disjoint halves of a permutation that both ranks draw alike (torch's DistributedSampler formula)
    g = torch.Generator()
    g.manual_seed(int(seed) + max_epochs)
    order = torch.randperm(n_train, generator=g).tolist()
    assert reports[0]["indices"] == order[0::2] and reports[1]["indices"] == order[1::2]
    # DDP kept the weights equal
    assert reports[0]["param_sum"] == reports[1]["param_sum"]

    rank0, rank1 = tmp_path / "rank0", tmp_path / "rank1"
    assert (rank0 / "models" / "model.pt").is_file()
    with pytest.MonkeyPatch.context() as mp:  # resolve the final checkpoint's name as rank 0 does
        mp.setenv("RANK", "0")
        parser = _merged(name, [str(extra)])
        ckpt_dir = parser.get_parsed_content("ckpt_dir")
        if "final_filename" in parser["train"]["checkpoint_saver"]:
            final = Path(ckpt_dir) / parser.get_parsed_content("train#checkpoint_saver#final_filename")
        else:  # StageCheckpointSaver (saliency_sr): named by stage and factor
            stage = parser["train"]["checkpoint_saver"]["stage"]
            final = Path(stage_checkpoint_path(ckpt_dir, stage, parser.get_parsed_content("scale_factor")))
        net = parser.get_parsed_content("network_def")
    assert final.is_file() and final.parent == rank0 / "models", final
    state = torch.load(final, map_location="cpu", weights_only=True)["model"]
    assert not any(k.startswith("module.") for k in state), "checkpoint holds the DDP wrapper's key names"
    net.load_state_dict(state)  # the final weights are rank 0's trained ones
    assert sum(float(p.detach().double().sum()) for p in net.parameters()) == pytest.approx(
        reports[0]["param_sum"], rel=1e-12
    )
    assert list((rank0 / "eval").glob("events.out.tfevents.*")), "rank 0 wrote no TensorBoard events"
    assert not rank1.exists(), f"rank 1 wrote files: {sorted(str(p) for p in rank1.rglob('*'))}"
    assert not list((tmp_path / "tmp").glob("monai_ext_rank*")), "a rank left its scratch folder behind"
    # console (torchrun --tee prefixes each line with its rank): iteration logs from rank 0 only, every epoch
    iteration_lines = [line for line in out.splitlines() if re.search(r"Epoch: \d+/\d+, Iter: \d+/\d+ --", line)]
    assert iteration_lines and all(line.startswith("[default0]") for line in iteration_lines), iteration_lines
    assert sum(f"Epoch: {max_epochs}/{max_epochs}, Iter: 1/" in line for line in iteration_lines) >= 1


# ---------------------------------------------------------------------------------------------------------------
# reliability handlers under DDP: 2 spawned processes, gloo, a 1x1-convolution network, a few iterations
# ---------------------------------------------------------------------------------------------------------------

RELIABILITY_SEED = 5
RELIABILITY_EPOCHS = 2
RELIABILITY_ITEMS = 8  # 4 iterations per rank and epoch at batch size 1


def _noise_dataset(count: int = RELIABILITY_ITEMS):
    """Identical all-zero images whose only content is the random augmentation (Gaussian noise): what a rank
    loads shows what it drew, whatever indices the sampler gave it."""
    from monai.data import Dataset
    from monai.transforms import Compose, RandGaussianNoised

    data = [{"image": torch.zeros(1, 3, 3), "label": torch.zeros(1, 3, 3)} for _ in range(count)]
    return Dataset(data, Compose([RandGaussianNoised(keys="image", prob=1.0, std=1.0)]))


def _global_draws() -> list[float]:
    import random

    return [random.random(), float(np.random.rand()), float(torch.rand(1))]


def _tiny_ddp_trainer(loader, handlers, max_epochs: int):
    from monai.engines import SupervisedTrainer

    torch.manual_seed(0)  # DDP broadcasts rank 0's weights anyway
    net = torch.nn.parallel.DistributedDataParallel(torch.nn.Conv2d(1, 1, 1))
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=loader,
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
        loss_function=torch.nn.MSELoss(),
        train_handlers=handlers,
    )
    return trainer, net


def _seeding_run() -> dict:
    from ignite.engine import Events
    from monai.data import DataLoader

    from monai_ext.handlers import EpochSeedHandler

    dataset = _noise_dataset()
    loader = DataLoader(dataset, batch_size=1, num_workers=0, sampler=mdist.distributed_sampler(dataset, seed=7))
    trainer, net = _tiny_ddp_trainer(loader, [EpochSeedHandler(RELIABILITY_SEED, loader)], RELIABILITY_EPOCHS)
    record: dict = {"globals": {}, "images": {}}
    # registered after the handler: the global generators right after the epoch's reseeding
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: record["globals"].__setitem__(e.state.epoch, _global_draws()))
    trainer.add_event_handler(
        Events.ITERATION_STARTED,
        lambda e: record["images"].setdefault(e.state.epoch, []).append(e.state.batch["image"].flatten().tolist()),
    )
    trainer.run()
    record["param_sum"] = sum(float(p.detach().double().sum()) for p in net.parameters())
    return record


class _RankStamp:
    """A ``save_dict`` entry whose state records which process asked for it, i.e. which rank wrote the file."""

    def __init__(self) -> None:
        self.calls = 0

    def state_dict(self) -> dict:
        self.calls += 1
        return {"rank": torch.tensor(mdist.get_rank())}

    def load_state_dict(self, state: dict) -> None:
        pass


def _nonfinite_run(save_dir: str) -> dict:
    from monai.data import DataLoader

    from monai_ext.handlers import NonFiniteLossError, NonFiniteLossHandler

    # rank r loads items r, r + 2, ... (no shuffling): item 3 is rank 1's second batch
    data = [
        {"image": torch.full((1, 3, 3), float("nan") if i == 3 else 1.0), "label": torch.zeros(1, 3, 3), "id": f"s{i}"}
        for i in range(RELIABILITY_ITEMS)
    ]
    loader = DataLoader(data, batch_size=1, sampler=mdist.distributed_sampler(data, shuffle=False))
    stamp = _RankStamp()
    trainer, net = _tiny_ddp_trainer(loader, [], max_epochs=2)
    NonFiniteLossHandler(save_dir, {"model": net, "stamp": stamp}).attach(trainer)
    error = None
    try:
        trainer.run()
    except NonFiniteLossError as exc:
        error = {"message": str(exc), "iteration": exc.iteration, "names": exc.names,
                 "checkpoint": exc.checkpoint_path, "values": exc.values}
    weights = {k: v.flatten().tolist() for k, v in net.module.state_dict().items()}
    return {"error": error, "stamp_calls": stamp.calls, "weights": weights, "iteration": trainer.state.iteration}


def _reliability_worker(local_rank: int, port: int, folder: str) -> None:
    """One of 2 processes (``torch.multiprocessing`` spawn): join a gloo group the way torchrun's environment
    describes it, run both scenarios, write this rank's results."""
    os.environ.update(
        RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    mdist.init_distributed(backend="gloo", timeout_s=120)
    try:
        results = {"seeding": _seeding_run(), "nonfinite": _nonfinite_run(os.path.join(folder, "models"))}
    finally:
        mdist.destroy_distributed()
    Path(folder, f"rank{local_rank}.json").write_text(json.dumps(results))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def reliability_ranks(tmp_path_factory) -> tuple[Path, dict, dict]:
    """(folder, rank 0 results, rank 1 results) of the 2-process run."""
    import torch.multiprocessing as tmp

    folder = tmp_path_factory.mktemp("ddp_reliability")
    context = tmp.start_processes(
        _reliability_worker, args=(_free_port(), str(folder)), nprocs=2, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 240
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail("the 2-process run did not finish in 240 s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
    return folder, *(json.loads((folder / f"rank{r}.json").read_text()) for r in (0, 1))


def test_epoch_seed_handler_ranks_draw_differently_and_reproducibly(reliability_ranks):
    """Each rank's augmentations and global draws are those of a single process seeded with
    ``epoch_seed(seed, epoch, rank)``: different between ranks and epochs, reproducible for each (seed, epoch, rank)."""
    from monai.data.utils import set_rnd

    from monai_ext.utils import epoch_seed

    _, *ranks = reliability_ranks
    per_rank_iterations = RELIABILITY_ITEMS // 2
    for rank, results in enumerate(ranks):
        record = results["seeding"]
        for epoch in range(1, RELIABILITY_EPOCHS + 1):
            seed = epoch_seed(RELIABILITY_SEED, epoch, rank)
            dataset = _noise_dataset()
            set_rnd(dataset, seed)
            expected_images = [dataset[0]["image"].flatten().tolist() for _ in range(per_rank_iterations)]
            assert record["images"][str(epoch)] == expected_images, (rank, epoch)
            torch.manual_seed(seed)
            np.random.seed(seed)
            __import__("random").seed(seed)
            assert record["globals"][str(epoch)] == _global_draws(), (rank, epoch)
        assert record["images"]["1"] != record["images"]["2"]
    seeding = [r["seeding"] for r in ranks]
    for epoch in map(str, range(1, RELIABILITY_EPOCHS + 1)):
        assert seeding[0]["images"][epoch] != seeding[1]["images"][epoch]  # same (zero) data, different noise
        assert seeding[0]["globals"][epoch] != seeding[1]["globals"][epoch]
    assert seeding[0]["param_sum"] == seeding[1]["param_sum"]  # DDP still kept the weights equal


def test_non_finite_loss_under_ddp_rank0_writes_one_checkpoint(reliability_ranks):
    """A NaN on rank 1 stops both ranks at the same iteration with the same error; exactly one checkpoint exists in
    the shared folder, written by rank 0, holding the (equal) weights both ranks had before the bad step."""
    from monai_ext.utils import safe_load_checkpoint

    folder, rank0, rank1 = reliability_ranks
    first, second = rank0["nonfinite"], rank1["nonfinite"]
    assert first["error"] is not None and first["error"] == second["error"]
    error = first["error"]
    expected = folder / "models" / "nonfinite_epoch=1_iteration=2.pt"
    assert error["iteration"] == 2 and error["names"] == ["s3"] and error["values"] == {"rank1/loss": "nan"}
    assert error["checkpoint"] == str(expected)
    assert f"rank 1: loss=nan; batch: s3. Checkpoint (before the optimizer step) saved to {expected} by rank 0" in (
        error["message"]
    )
    assert sorted(os.listdir(folder / "models")) == [expected.name]  # one file, no temporary left behind
    assert (first["stamp_calls"], second["stamp_calls"]) == (1, 0)
    saved = safe_load_checkpoint(expected)
    assert int(saved["stamp"]["rank"]) == 0
    assert saved["trainer"]["iteration"] == 1  # resuming repeats iteration 2
    assert first["weights"] == second["weights"]
    for key, value in saved["model"].items():  # no "module." prefix: loadable into the bare network
        assert value.flatten().tolist() == first["weights"][key]
        assert torch.isfinite(value).all()
