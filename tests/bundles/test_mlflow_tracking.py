# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""``--tracking mlflow`` for every bundle: a local SQLite store by default, and a real MLflow tracking server.

MONAI's ``ConfigWorkflow`` appends an ``MLFlowHandler`` to ``train#handlers`` and ``validate#handlers``; the tests
check what arrives in MLflow after a tiny 1-epoch training: the params, the loss per iteration, the learning rate
per iteration (against the scheduler's closed form), the loss terms of ``LossTermsHandler`` (against the weighted
sum that makes the loss), the validation metrics and the executed config as an artifact. All traffic goes to
127.0.0.1; the server runs in its own process group and is always terminated.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.bundles.test_multi_gpu import REPO, bundle_names, kill_process_group, process_group_alive, tiny_overrides

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402
from monai.bundle import ConfigParser, ConfigWorkflow  # noqa: E402
from monai.bundle import run as bundle_run  # noqa: E402

N_TRAIN, N_VAL, BATCH = 4, 2, 2
EPOCH_LENGTH = math.ceil(N_TRAIN / BATCH)


@pytest.fixture(autouse=True)
def _local_only(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.chdir(REPO)


def _tiny_config(name: str, tmp_path: Path) -> tuple[list[str], dict]:
    cfg = REPO / "bundles" / name / "configs"
    overrides = tiny_overrides(name, tmp_path, n_train=N_TRAIN, n_val=N_VAL)
    overrides.update({"max_epochs": 1, "batch_size": BATCH})
    extra = tmp_path / "tiny.json"
    extra.write_text(json.dumps(overrides))
    files = [str(cfg / "train.json"), str(extra)]
    return files, {"meta_file": str(cfg / "metadata.json"), "logging_file": str(cfg / "logging.conf")}


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _expected_lr(files: list[str], steps: int) -> list[float] | None:
    """Closed-form learning rate after each of ``steps`` scheduler steps, for the schedulers the bundles use."""
    config = ConfigParser.load_config_files(files)
    sched, lr0 = config.get("lr_scheduler", {}), config.get("learning_rate")
    if sched.get("_target_", "").endswith("PolynomialLR") and lr0 is not None:
        total = config["max_epochs"] * EPOCH_LENGTH  # the bundles' `total_iters`
        return [lr0 * (1.0 - min(i, total) / total) ** sched.get("power", 1.0) for i in range(1, steps + 1)]
    return None


def check_tracked_run(client: MlflowClient, files: list[str], experiment: str = "monai_experiment") -> None:
    """What a tiny 1-epoch training must have logged in MLflow."""
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} not found"
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    run = runs[0]
    assert run.info.status == "FINISHED"
    rid = run.info.run_id
    # params
    assert run.data.params["max_epochs"] == "1"
    assert run.data.params["epoch_length"] == str(EPOCH_LENGTH)
    # loss and learning rate per iteration
    loss = _history(client, rid, "train_loss")
    assert [s for s, _ in loss] == list(range(1, EPOCH_LENGTH + 1))
    assert all(math.isfinite(v) and v > 0 for _, v in loss)
    lr = _history(client, rid, "lr_group_0")
    assert [s for s, _ in lr] == list(range(1, EPOCH_LENGTH + 1))
    expected = _expected_lr(files, EPOCH_LENGTH)
    if expected is not None:
        # MONAI logs the rate after the iteration's scheduler step, i.e. the one the next iteration uses
        assert [v for _, v in lr] == pytest.approx(expected, rel=1e-6, abs=1e-12)
    # loss terms from LossTermsHandler (epoch level: the last iteration's values)
    terms = {k: v for k, v in run.data.metrics.items() if k.startswith("loss_")}
    assert "loss_total" in terms, sorted(run.data.metrics)
    assert terms["loss_total"] == pytest.approx(loss[-1][1], rel=1e-5)
    weights = ConfigParser.load_config_files(files).get("loss_weights")
    parts = {k[len("loss_") :]: v for k, v in terms.items() if k != "loss_total"}
    assert parts, "no individual loss term arrived"
    if isinstance(weights, dict) and set(parts) <= set(weights):
        assert sum(weights[k] * v for k, v in parts.items()) == pytest.approx(terms["loss_total"], rel=1e-4)
    # validation metrics (the key metric of validate#key_metric), at the global epoch
    key_metric = next(iter(ConfigParser.load_config_files(files)["validate"]["key_metric"]))
    val = _history(client, rid, key_metric)
    assert len(val) == 1 and val[0][0] == 1
    if key_metric.endswith("psnr"):
        assert 0.0 < val[0][1] <= 100.0, (key_metric, val)  # dB
    else:
        assert 0.0 <= val[0][1] <= 1.0, (key_metric, val)  # IoU, Dice, accuracy
    if f"{key_metric}_dice" in run.data.metrics and key_metric.endswith("iou"):
        iou = val[0][1]  # pooled Dice and IoU of the same counts: D = 2J / (1 + J)
        assert run.data.metrics[f"{key_metric}_dice"] == pytest.approx(2 * iou / (1 + iou), rel=1e-6)
    # the executed config, as an artifact
    names = [a.path for a in client.list_artifacts(rid)]
    assert any(n.startswith("config_") and n.endswith(".json") for n in names), names


@pytest.mark.slow
@pytest.mark.parametrize("name", bundle_names())
def test_tracking_mlflow_local_store(name, tmp_path):
    """`--tracking mlflow` without a URI: MONAI's default SQLite store `<output_dir>/mlruns.db`."""
    files, kwargs = _tiny_config(name, tmp_path)
    bundle_root = tmp_path / "bundle"
    bundle_run("training", config_file=files, bundle_root=str(bundle_root), tracking="mlflow", **kwargs)
    db = bundle_root / "eval" / "mlruns.db"
    assert db.is_file()
    check_tracked_run(MlflowClient(f"sqlite:///{db}"), files)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"mlflow server not ready in time:\n{log.read_text()[-3000:]}")


@pytest.fixture
def mlflow_server(tmp_path):
    """A real MLflow tracking server on 127.0.0.1 (SQLite backend and artifacts in tmp_path), terminated after."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "mlflow_server.log"
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", MLFLOW_SQL_TRACE_ROLLUPS_ENABLED="false")
    cmd = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "server_artifacts"),
    ]  # fmt: skip
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield url, proc, log
    finally:
        kill_process_group(proc)
        assert proc.poll() is not None and not process_group_alive(proc.pid), "mlflow server processes left"


@pytest.mark.slow
def test_tracking_mlflow_server(mlflow_server, tmp_path):
    """`--tracking mlflow --tracking_uri http://127.0.0.1:PORT`: a 1-epoch DS2F training logs to a real server."""
    url, proc, log = mlflow_server
    started = time.monotonic()
    files, kwargs = _tiny_config("ds2f", tmp_path)
    bundle_root = tmp_path / "bundle"
    # parse and build the workflow while the server starts (the same calls as `python -m monai.bundle run`)
    workflow = ConfigWorkflow(
        config_file=files,
        run_id="training",
        tracking="mlflow",
        workflow_type="train",
        bundle_root=str(bundle_root),
        tracking_uri=url,
        experiment_name="ds2f_server_test",
        **kwargs,
    )
    workflow.initialize()
    workflow.parser.get_parsed_content("train#trainer")
    _wait_ready(url, proc, log, deadline=started + 45)
    workflow.run()
    workflow.finalize()
    assert not (bundle_root / "eval" / "mlruns.db").exists(), "logged to the local store instead of the server"
    check_tracked_run(MlflowClient(url), files, experiment="ds2f_server_test")
    served = list((tmp_path / "server_artifacts").rglob("config_*.json"))
    assert served, "the server did not store the config artifact"
