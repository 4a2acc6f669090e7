# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Helpers shared by the bundle tests: building a bundle workflow, running it while collecting the console
lines of MONAI's ``StatsHandler``, counting the iterations of an (optionally interrupted) run, and walking an
exception's cause chain."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ignite.engine import Events
from monai.bundle import ConfigWorkflow

REPO = Path(__file__).resolve().parents[2]
#: parent of the temporary output folders of :func:`bundle_workflow` (set per test by ``tests/bundles/conftest.py``;
#: None: the system's temporary folder).
SCRATCH_ROOT: str | None = None

__all__ = ["bundle_workflow", "error_chain", "run_collecting_stats", "run_counting_iterations"]


def bundle_workflow(
    configs_dir: Path,
    config_files: str | Path | Sequence[str | Path],
    workflow_type: str = "train",
    initialize: bool = False,
    meta: bool = True,
    **override,
) -> ConfigWorkflow:
    """A ``ConfigWorkflow`` over ``config_files`` (each looked up in ``configs_dir`` first, else used as given,
    relative to the working directory) with the bundle's
    ``logging.conf`` (and ``metadata.json`` when ``meta``); ``initialize`` also initialises it.

    When the configs are the repository's own (not a copy) and the caller gives no ``bundle_root``, the outputs
    (``output_dir``, and for a train workflow ``ckpt_dir`` unless given) go to a fresh temporary folder, so that a
    test never writes into the bundle in the working tree.
    """
    files = [config_files] if isinstance(config_files, (str, Path)) else list(config_files)
    paths = [str(Path(configs_dir) / f if (Path(configs_dir) / f).exists() else Path(f)) for f in files]
    in_repo = Path(paths[0]).resolve().is_relative_to(REPO / "bundles")
    if in_repo and "bundle_root" not in override:
        scratch = tempfile.mkdtemp(prefix="monai_ext_bundle_test_", dir=SCRATCH_ROOT)
        override.setdefault("output_dir", str(Path(scratch) / "eval"))
        if workflow_type == "train":
            override.setdefault("ckpt_dir", str(Path(scratch) / "models"))
    kwargs = {"meta_file": str(Path(configs_dir) / "metadata.json")} if meta else {}
    workflow = ConfigWorkflow(
        config_file=paths if len(paths) > 1 else paths[0],
        logging_file=str(Path(configs_dir) / "logging.conf"),
        workflow_type=workflow_type,
        **kwargs,
        **override,
    )
    if initialize:
        workflow.initialize()
    return workflow


def run_collecting_stats(workflow: ConfigWorkflow) -> list[str]:
    """Run and finalise an initialised workflow; return the messages ``StatsHandler`` logged meanwhile."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    stats_logger = logging.getLogger("monai.handlers.StatsHandler")
    collect = Collect()
    stats_logger.addHandler(collect)
    try:
        workflow.run()
    finally:
        stats_logger.removeHandler(collect)
        workflow.finalize()
    return records


def run_counting_iterations(
    workflow: ConfigWorkflow, stop_after_epoch: int | None = None, trainer_id: str = "train#trainer"
) -> int:
    """Run and finalise an initialised workflow, optionally terminating the trainer after ``stop_after_epoch``
    epochs; return the number of iterations this run executed (a resumed run skips the restored ones)."""
    trainer = workflow.parser.get_parsed_content(trainer_id)
    ran: list[int] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: ran.append(e.state.iteration))
    if stop_after_epoch is not None:
        trainer.add_event_handler(Events.EPOCH_COMPLETED(once=stop_after_epoch), lambda e: e.terminate())
    workflow.run()
    workflow.finalize()
    return len(ran)


def error_chain(error: BaseException | None) -> list[BaseException]:
    """``error`` and its causes / contexts, outermost first (cycles cut)."""
    chain = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain
