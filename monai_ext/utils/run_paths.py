# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Where a training run writes its models, without replacing the weights a repository ships.

* :func:`training_ckpt_dir` keeps shipped weights safe: a bundle's ``models/`` folder receives the trained model
  (the model-zoo and MONAI Label convention: the server serves ``models/model.pt``) unless a weights file there is
  tracked by git, i.e. it is the weights this repository ships. Then the run writes to a run folder
  (``<bundle_root>/runs/train`` by default) and the shipped file stays as it is; ``overwrite_weights=True`` writes
  into ``models/`` anyway.
* :func:`run_or_shipped_file` finds an earlier stage's output in the run folder or, failing that, the shipped copy.
* :func:`shipped_weights` / :func:`git_tracked_files` tell shipped weights from files a run wrote.

The handlers that report at the end of a run what was saved and where are in :mod:`monai_ext.handlers.run_report`.
Only the standard library is used here (``git`` is run as a subprocess when it is installed).
"""

from __future__ import annotations

import glob
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

__all__ = [
    "TrainingOutputError",
    "WEIGHT_PATTERNS",
    "default_bundle_root",
    "git_tracked_files",
    "shipped_weights",
    "training_ckpt_dir",
    "run_or_shipped_file",
    "optional_weights_file",
    "running_in_monailabel",
    "stage_file_prefix",
    "stage_checkpoint_path",
    "stage_checkpoint_paths",
]

logger = logging.getLogger("monai_ext")

#: file name patterns of weights files in a bundle's ``models/`` folder.
WEIGHT_PATTERNS = ("*.pt", "*.ts", "*.pth")


class TrainingOutputError(ValueError):
    """A training or evaluation output folder cannot be used as asked (e.g. it is a file)."""


def git_tracked_files(folder: str | os.PathLike) -> set[str] | None:
    """Names of the files directly in ``folder`` that git tracks, or None when ``folder`` is not in a git work tree.

    Uses ``git ls-files`` (no network, no write). Returns None as well when git is not installed.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return None
    try:
        result = subprocess.run(
            ["git", "-C", folder, "ls-files", "-z", "--", "."],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return {name for name in result.stdout.split("\0") if name and "/" not in name}


def shipped_weights(models_dir: str | os.PathLike) -> list[str]:
    """Weights files (``*.pt``, ``*.ts``, ``*.pth``) in ``models_dir`` that git tracks: the weights a repository ships.

    Empty when the folder is not in a git work tree (a downloaded bundle, a MONAI Label app's copy) or holds no
    tracked weights.
    """
    tracked = git_tracked_files(models_dir)
    if not tracked:
        return []
    present = {os.path.basename(p) for pattern in WEIGHT_PATTERNS for p in glob.glob(os.path.join(models_dir, pattern))}
    return sorted(os.path.join(os.fspath(models_dir), name) for name in present & tracked)


def running_in_monailabel() -> bool:
    """True inside a MONAI Label server's training (the server imports ``monailabel`` and runs the bundle in-process;
    its multi-GPU path runs ``torchrun ... --config_file "['.../configs/monailabel_train.json', ...]"``)."""
    return "monailabel" in sys.modules or any("monailabel_train.json" in str(arg) for arg in sys.argv)


def run_or_shipped_file(ckpt_dir: str | os.PathLike, bundle_root: str | os.PathLike, filename: str) -> str:
    """``<ckpt_dir>/<filename>`` when a run made it, else the shipped ``<bundle_root>/models/<filename>``.

    A stage that reads an earlier stage's output (e.g. the distilled SR student) prefers the file of the current
    run folder and falls back to the bundle's shipped copy, so that a quick start that skips the earlier stages
    still finds it. The returned path may not exist (neither was made); callers decide what that means.
    """
    made = os.path.join(os.fspath(ckpt_dir), filename)
    return made if os.path.isfile(made) else os.path.join(os.fspath(bundle_root), "models", filename)


def optional_weights_file(
    path: str | os.PathLike, required: bool = False, description: str = "weights", missing_hint: str = ""
) -> str | None:
    """``path`` when the weights file exists (or is ``required``), else ``None``; says which on the log.

    For a stage whose network may start from an earlier stage's output (sai_diagnosis: the SR branch from the
    distilled student): an existing file is used and logged at INFO; a missing optional file is logged as a WARNING
    with ``missing_hint`` and the network keeps its initialisation; a missing ``required`` file is returned anyway,
    so that the loader that reads it fails with its own error naming the file.

    Args:
        path: the weights file.
        required: return ``path`` even when it does not exist.
        description: what the file holds, for the log line (e.g. ``"distilled student"``).
        missing_hint: what happens without it and how to make it, appended to the warning.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        logger.info("%s: initialising from %s", description, path)
        return path
    if required:
        return path
    logger.warning("%s: no file at %s%s", description, path, f"; {missing_hint}" if missing_hint else "")
    return None


def default_bundle_root(name: str) -> str:
    """The ``bundle_root`` a config of bundle ``name`` uses when none is given on the command line.

    ``bundles/<name>`` when the command runs from the repository root (the README's commands), else ``"."`` (the
    model-zoo convention: the command runs inside the bundle folder). ``--bundle_root`` overrides either.

    Args:
        name: the bundle's folder name under ``bundles/`` (e.g. ``"ds2f"``).
    """
    in_repository = os.path.join("bundles", name)
    return in_repository if os.path.isdir(os.path.join(in_repository, "configs")) else "."


def stage_file_prefix(stage: str, scale_factor: int) -> str:
    """``<stage>_x<scale_factor>`` (e.g. ``mse_x4``): the file prefix of one training stage at one upscale factor.

    Stages of different factors can share a checkpoint folder (``evaluate.json`` of saliency_sr reads several), so
    the factor is part of every file name a stage writes.
    """
    return f"{stage}_x{int(scale_factor)}"


def stage_checkpoint_path(ckpt_dir: str | os.PathLike, stage: str, scale_factor: int) -> str:
    """``<ckpt_dir>/checkpoint_<stage>_x<scale_factor>_final.pt``: the final checkpoint of a training stage.

    :class:`~monai_ext.handlers.StageCheckpointSaver` writes this file; later stages and evaluation configs read it.
    """
    return os.path.join(os.fspath(ckpt_dir), f"checkpoint_{stage_file_prefix(stage, scale_factor)}_final.pt")


def stage_checkpoint_paths(
    ckpt_dir: str | os.PathLike,
    stage: str,
    scale_factors: Sequence[int],
    shipped_factor: int | None = None,
    shipped_path: str | os.PathLike | None = None,
) -> dict[int, str]:
    """``{factor: stage_checkpoint_path(ckpt_dir, stage, factor)}`` for each of ``scale_factors``.

    Args:
        ckpt_dir: the folder of the training run.
        stage: the stage whose final checkpoints are wanted (``"gan"``, ``"mse"``).
        scale_factors: the upscale factors.
        shipped_factor: the factor of a shipped model that replaces the run's file for that factor.
        shipped_path: that shipped model; used only when ``shipped_factor`` is one of ``scale_factors``.
    """
    paths = {int(factor): stage_checkpoint_path(ckpt_dir, stage, factor) for factor in scale_factors}
    if shipped_path is not None and shipped_factor is not None and int(shipped_factor) in paths:
        paths[int(shipped_factor)] = os.fspath(shipped_path)
    return paths


def training_ckpt_dir(
    bundle_root: str | os.PathLike,
    run_dir: str | os.PathLike | None = None,
    overwrite_weights: bool = False,
    monailabel: bool | None = None,
) -> str:
    """The folder a training run writes its checkpoints and best model to.

    ``<bundle_root>/models`` (where MONAI Label and the model zoo expect ``model.pt``) unless that folder holds
    weights tracked by git: then ``run_dir`` (default ``<bundle_root>/runs/train``), so that training never replaces
    the shipped weights. ``overwrite_weights=True`` always returns ``models``, and so does training started by a MONAI
    Label server (its ``/train`` request fine-tunes ``models/model.pt`` and then serves the result). The choice is
    logged.

    Args:
        bundle_root: the bundle folder.
        run_dir: the run folder used when the shipped weights are protected.
        overwrite_weights: write into ``models/`` even when it holds tracked (shipped) weights.
        monailabel: whether MONAI Label runs the training; None detects it (:func:`running_in_monailabel`).
    """
    models_dir = os.path.join(os.fspath(bundle_root), "models")
    run_dir = os.fspath(run_dir) if run_dir else os.path.join(os.fspath(bundle_root), "runs", "train")
    shipped = shipped_weights(models_dir)
    if not shipped:
        logger.info(f"training writes its checkpoints and best model to {models_dir}")
        return models_dir
    if running_in_monailabel() if monailabel is None else monailabel:
        logger.warning(
            f"MONAI Label training: writes to {models_dir}, the model the server serves, replacing the shipped weights "
            f"{', '.join(shipped)} (restore them with `git checkout -- {models_dir}`)"
        )
        return models_dir
    if overwrite_weights:
        logger.warning(
            f"overwrite_weights=true: training writes to {models_dir} and may replace the shipped weights "
            f"{', '.join(shipped)} (restore them with `git checkout -- {models_dir}`)"
        )
        return models_dir
    if os.path.isfile(run_dir):
        raise TrainingOutputError(f"run_dir {run_dir!r} is a file; give a folder (e.g. --run_dir {run_dir}_dir)")
    logger.info(
        f"training writes its checkpoints and best model to the run folder {run_dir}; the shipped weights "
        f"{', '.join(shipped)} are kept (--overwrite_weights true would replace them)"
    )
    return run_dir
