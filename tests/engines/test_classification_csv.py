# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""write_probability_csv_header against the two ``run`` expressions it replaces in sai_diagnosis' inference.json
(``pathlib.Path(@output_dir).mkdir(...)`` and ``pathlib.Path(@csv_path).write_text('file,' + ...)``), and with the
rows MONAI's SaveClassificationd appends after it."""

from __future__ import annotations

import csv
import os
import pathlib

import torch
from monai.bundle import ConfigParser
from monai.transforms import SaveClassificationd

from monai_ext.engines import probability_csv_header, write_probability_csv_header

CLASS_NAMES = ["normal", "tumour"]


def _old_run(output_dir: str, csv_filename: str, class_names: list[str]) -> None:
    """The former ``run#0`` and ``run#1`` of inference.json (``csv_path = os.path.join(output_dir, csv_filename)``)."""
    pathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)
    csv_path = os.path.join(output_dir, csv_filename)
    pathlib.Path(csv_path).write_text("file," + ",".join("prob_" + name for name in class_names) + chr(10))


def test_header_text():
    assert probability_csv_header(CLASS_NAMES) == "file,prob_normal,prob_tumour\n"
    assert probability_csv_header(["a", "b", "c"], first_column="image", prefix="p_", delimiter=";") == (
        "image;p_a;p_b;p_c\n"
    )
    assert probability_csv_header([]) == "file\n"


def test_same_file_as_the_former_expressions(tmp_path):
    for class_names in (CLASS_NAMES, ["a", "b", "c", "d"], ["é"]):
        old_dir, new_dir = tmp_path / "old" / "inference", tmp_path / "new" / "inference"
        _old_run(str(old_dir), "predictions.csv", class_names)
        path = write_probability_csv_header(str(new_dir), "predictions.csv", class_names)
        assert path == str(new_dir / "predictions.csv")
        assert (new_dir / "predictions.csv").read_bytes() == (old_dir / "predictions.csv").read_bytes()


def test_config_item_overwrites_a_previous_file(tmp_path):
    out = tmp_path / "eval" / "inference"
    out.mkdir(parents=True)
    (out / "predictions.csv").write_text("stale,rows\n1,2\n")
    config = {
        "output_dir": str(out),
        "csv_filename": "predictions.csv",
        "class_names": CLASS_NAMES,
        "header": {
            "_target_": "monai_ext.engines.write_probability_csv_header",
            "output_dir": "@output_dir",
            "filename": "@csv_filename",
            "class_names": "@class_names",
        },
    }
    assert ConfigParser(config).get_parsed_content("header") == str(out / "predictions.csv")
    assert (out / "predictions.csv").read_text() == "file,prob_normal,prob_tumour\n"


def test_rows_of_save_classificationd_follow_the_header(tmp_path):
    """inference.json's postprocessing (overwrite False, flush True) appends to the file the header started."""
    out = tmp_path / "missing" / "folder"  # created by the header writer
    write_probability_csv_header(out, "predictions.csv", CLASS_NAMES)
    saver = SaveClassificationd(keys="pred", meta_keys="image_meta_dict", output_dir=str(out),
                                filename="predictions.csv", overwrite=False, flush=True)
    for name, probs in (("a.png", [0.25, 0.75]), ("b.png", [1.0, 0.0])):
        saver({"pred": torch.tensor(probs), "image_meta_dict": {"filename_or_obj": name}})
    with open(out / "predictions.csv", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows == [["file", "prob_normal", "prob_tumour"], ["a.png", "0.25", "0.75"], ["b.png", "1.0", "0.0"]]
