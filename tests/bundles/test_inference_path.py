# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""One inference path per bundle: ``run`` runs the zoo-style ``evaluator``, a FolderInference engine with handlers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Engine, Events
from monai.bundle import ConfigParser, ConfigWorkflow
from PIL import Image

from monai_ext.engines import FolderInference
from monai_ext.utils import safe_load_checkpoint

REPO = Path(__file__).resolve().parents[2]
BUNDLES = ("ds2f", "ss_maf", "sai_diagnosis", "saliency_sr")


class EventRecorder:
    """A handler appended to ``handlers`` from a config (as ``--tracking mlflow`` appends its own)."""

    events: list[str] = []

    def attach(self, engine: Engine) -> None:
        for event in (Events.STARTED, Events.ITERATION_COMPLETED, Events.COMPLETED):
            engine.add_event_handler(event, lambda e, name=event.name: EventRecorder.events.append(name))


@pytest.mark.parametrize("bundle", BUNDLES)
def test_run_uses_the_evaluator_and_no_second_path_exists(bundle):
    config = ConfigParser.load_config_file(str(REPO / "bundles" / bundle / "configs" / "inference.json"))
    assert config["evaluator"]["_target_"] == "monai_ext.engines.FolderInference"
    assert config["evaluator"]["handlers"] == "@handlers"
    assert "$@evaluator.run()" in config["run"]
    assert "dataloader" not in config
    assert not any("run_folder_inference" in str(step) for step in config["run"])
    loaders = [h for h in config["handlers"] if h["_target_"] == "monai_ext.handlers.SafeCheckpointLoader"]
    assert len(loaders) == 1 and "checkpoint" not in config["evaluator"]


def test_handlers_reach_the_engine_and_weights_load_through_them(tmp_path):
    folder = tmp_path / "lr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(folder / name)
    (folder / "broken.png").write_bytes(b"not an image")
    bundle = REPO / "bundles" / "saliency_sr"
    workflow = ConfigWorkflow(
        config_file=str(bundle / "configs" / "inference.json"), workflow_type="inference", bundle_root=str(bundle),
        dataset_dir=str(folder), output_dir=str(tmp_path / "out"), device="cpu",
    )
    workflow.initialize()
    workflow.parser["handlers"] = workflow.parser["handlers"] + [{"_target_": f"{__name__}.EventRecorder"}]
    assert not workflow.check_properties()
    EventRecorder.events = []
    workflow.run()
    engine = workflow.parser.get_parsed_content("evaluator")
    assert isinstance(engine, FolderInference)
    assert EventRecorder.events == ["STARTED"] + ["ITERATION_COMPLETED"] * 3 + ["COMPLETED"]
    assert len(engine.report.outputs) == 2 and all(Path(out).is_file() for _, out in engine.report.outputs)
    assert [f.file for f in engine.report.failures] == [str(folder / "broken.png")]
    # the shipped weights were loaded by the SafeCheckpointLoader in `handlers`
    shipped = safe_load_checkpoint(bundle / "models" / "model.pt", map_location="cpu")
    shipped = shipped.get("model", shipped)
    network = workflow.parser.get_parsed_content("network")
    for key, value in network.state_dict().items():
        torch.testing.assert_close(value, shipped[key])


def test_tracking_mlflow_records_the_inference_run(tmp_path):
    """``--tracking mlflow`` attaches MONAI's MLFlowHandler to ``evaluator``: a real local store gets the run."""
    mlflow = pytest.importorskip("mlflow")
    bundle = REPO / "bundles" / "saliency_sr"
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    workflow = ConfigWorkflow(
        config_file=str(bundle / "configs" / "inference.json"), workflow_type="inference", bundle_root=str(bundle),
        output_dir=str(tmp_path / "out"), device="cpu", tracking="mlflow", tracking_uri=uri,
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    # a client of this store only: mlflow.set_tracking_uri would leave the store global for later tests
    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [run.info.status for run in runs] == ["FINISHED"]
    assert [run.data.params["epoch_length"] for run in runs] == ["2"]  # the two images of bundles/saliency_sr/sample_lr
