# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The header line of the class-probability CSV that MONAI's ``SaveClassificationd`` fills during inference.

``SaveClassificationd`` (``CSVSaver``) appends one row per image, ``<file>,<p_0>,<p_1>,...``, and writes no header.
A classification ``inference.json`` therefore writes the header first, then runs the evaluator whose postprocessing
appends the rows (``overwrite=False``). In ``inference.json`` of ``sai_diagnosis``::

    {"_target_": "monai_ext.engines.write_probability_csv_header", "output_dir": "@output_dir",
     "filename": "@csv_filename", "class_names": "@class_names"}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["probability_csv_header", "write_probability_csv_header"]


def probability_csv_header(
    class_names: Sequence[str], first_column: str = "file", prefix: str = "prob_", delimiter: str = ","
) -> str:
    """``file,prob_<class 0>,prob_<class 1>,...`` followed by a newline.

    Args:
        class_names: one name per class, in the order of the network's output channels.
        first_column: name of the file column.
        prefix: put before each class name.
        delimiter: the column separator (``CSVSaver``'s ``delimiter``).
    """
    return delimiter.join([first_column] + [prefix + name for name in class_names]) + "\n"


def write_probability_csv_header(
    output_dir: str | os.PathLike,
    filename: str,
    class_names: Sequence[str],
    first_column: str = "file",
    prefix: str = "prob_",
    delimiter: str = ",",
) -> str:
    """Create ``output_dir`` and (over)write ``output_dir/filename`` with the :func:`probability_csv_header` line.

    The path is that of ``SaveClassificationd(output_dir=output_dir, filename=filename)``. The file is written in text
    mode with the platform's default encoding and line ending, as ``CSVSaver`` appends its rows, so header and rows
    match.

    Args:
        output_dir: the inference output folder, created with its parents when missing.
        filename: the CSV file name in ``output_dir``.
        class_names: one name per class, in the order of the network's output channels.
        first_column: name of the file column.
        prefix: put before each class name.
        delimiter: the column separator.

    Returns:
        The path of the CSV file.
    """
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(probability_csv_header(class_names, first_column, prefix, delimiter))
    return str(path)
