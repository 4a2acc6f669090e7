# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Embedded sample datasets shipped inside the package.

* ``chasedb1``: the 28 CHASE_DB1 fundus images (``Image_XXL.jpg``) with both observers' vessel masks
  (``Image_XXL_1stHO.png``, ``Image_XXL_2ndHO.png``). Fraz et al., IEEE TBME 59(9), 2012; Kingston University
  London, CC BY 4.0.
* ``idrid_ex_512``: the 81 IDRiD segmentation images with their hard-exudate masks, single-channel, cropped to the
  field of view and resized to 512x512 by a third party, in ``train/`` (IDRiD_01..54) and ``test/`` (IDRiD_55..81),
  each with ``images/IDRiD_XX.png`` and ``masks/IDRiD_XX_EX.png``. Porwal et al., Data 3(3):25, 2018; CC BY 4.0.

Bundle configs locate them with :func:`embedded_dataset_dir` so that they do not depend on the current directory.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DataError

__all__ = ["EMBEDDED_DATASETS", "embedded_dataset_dir"]

_SAMPLE_ROOT = Path(__file__).resolve().parent / "sample"

#: names accepted by :func:`embedded_dataset_dir`, mapped to their folder below ``monai_ext/data/sample``.
EMBEDDED_DATASETS: dict[str, str] = {
    "chasedb1": "chasedb1",
    "idrid_ex_512": "idrid_ex_512",
    "histology_96": "histology_96",
    "histology_hr": "histology_hr",
}


def embedded_dataset_dir(name: str) -> str:
    """Return the absolute path of an embedded sample dataset.

    Args:
        name: ``"chasedb1"`` or ``"idrid_ex_512"`` (case-insensitive, ``-`` read as ``_``).

    Returns:
        The absolute folder path as a string.

    Raises:
        DataError: when ``name`` is not an embedded dataset, or its folder is missing from the installation.
    """
    key = str(name).strip().lower().replace("-", "_")
    if key not in EMBEDDED_DATASETS:
        raise DataError(
            f"unknown embedded dataset {name!r}; available embedded datasets: {', '.join(sorted(EMBEDDED_DATASETS))}"
        )
    folder = _SAMPLE_ROOT / EMBEDDED_DATASETS[key]
    if not folder.is_dir():
        raise DataError(f"embedded dataset {key!r} is missing from the installation: folder {folder} not found")
    return str(folder)
