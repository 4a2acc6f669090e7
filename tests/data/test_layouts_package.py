# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The ``monai_ext.data.layouts`` package: one registry, every layout registered once on import, no import loop, and
the former module paths (``monai_ext.data.layouts`` as a module, ``vessel_layouts``, ``lesion_layouts``) giving the
same objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import monai_ext.data
from monai_ext.data import layouts, lesion_layouts, vessel_layouts
from monai_ext.data.layouts import classification, folders, image_folder, lesion, registry, vessel

REPO = Path(__file__).resolve().parents[2]

# every name `monai_ext.data` exported before the layouts became a package
DATA_NAMES = (
    "CADCAP_CLASSES HISTOLOGY_CLASSES IMAGE_EXTENSIONS PCamDataset build_cadcap_datalist build_class_folder_datalist "
    "build_histology_datalist build_kvasir_capsule_datalist build_sr_folder_datalist k_fold_split pcam_file_paths "
    "DataError DatasetLayoutError EMBEDDED_DATASETS embedded_dataset_dir CheckPairSized LoadFundusImaged LoadMaskd "
    "decode_image load_fundus_image load_mask read_image_size build_datalist get_layout list_datasets register_layout "
    "seeded_holdout stratified_holdout chase_db1 drive fives hrf prime_fp20 stare LESION_TYPES ddr e_ophtha_ex idrid "
    "idrid_ex_512 ValidationReport validate_dataset ensure_valid_dataset"
).split()

# names the former module monai_ext/data/layouts.py defined, used by code and tests
OLD_LAYOUTS_NAMES = {
    "registry": "SPLITS DatasetLayout register_layout list_datasets get_layout build_datalist natural_key "
    "seeded_holdout stratified_holdout pick_train_or_val pick_by_groups",
    "folders": "IMAGE_SUFFIXES SPLIT_FOLDER_ALIASES split_folder_names layout_error require_dir find_child_dir "
    "descend_into list_image_files stem_of Pairing",
}


def test_monai_ext_data_keeps_its_names():
    missing = [name for name in DATA_NAMES if getattr(monai_ext.data, name, None) is None]
    assert not missing
    assert monai_ext.data.build_datalist is registry.build_datalist
    assert monai_ext.data.drive is vessel.drive and monai_ext.data.idrid is lesion.idrid


def test_old_layouts_module_names_are_the_same_objects():
    for module_name, names in OLD_LAYOUTS_NAMES.items():
        module = {"registry": registry, "folders": folders}[module_name]
        for name in names.split():
            assert getattr(layouts, name) is getattr(module, name), name


def test_old_vessel_and_lesion_module_paths_are_the_same_objects():
    for name in vessel.__all__:
        assert getattr(vessel_layouts, name) is getattr(vessel, name), name
    for name in lesion.__all__:
        assert getattr(lesion_layouts, name) is getattr(lesion, name), name
    # names outside __all__ too (layout texts)
    assert vessel_layouts.DRIVE_LAYOUT is vessel.DRIVE_LAYOUT
    assert lesion_layouts.IDRID_LESION_FOLDERS is lesion.IDRID_LESION_FOLDERS
    from monai_ext.data.vessel_layouts import drive
    from monai_ext.data.lesion_layouts import idrid

    assert drive is vessel.drive and idrid is lesion.idrid


def test_every_layout_registered_once_by_its_module():
    modules = {vessel, lesion, classification, image_folder}
    by_module = {m.__name__: m for m in modules}
    for name in layouts.list_datasets():
        builder = layouts.get_layout(name).builder
        assert by_module[builder.__module__].__dict__[builder.__name__] is builder
    assert {"histology_96", "pcam", "cadcap", "kvasir_capsule", "drive", "idrid"} <= set(layouts.list_datasets())
    assert layouts.get_layout("kvasir").name == "kvasir_capsule"
    assert layouts.get_layout("CAD-CAP").name == "cadcap"
    assert layouts.get_layout("histology").name == "histology_96"
    assert layouts.get_layout("folder").name == "image_folder"


def test_fresh_imports_of_each_module_without_loop():
    """Each module imported first in a fresh interpreter: the registry is complete and nothing is imported twice."""
    code = (
        "import importlib, sys\n"
        "module = importlib.import_module(sys.argv[1])\n"
        "from monai_ext.data.layouts import registry\n"
        "names = registry.list_datasets()\n"
        "assert {'drive', 'idrid', 'histology_96', 'cadcap'} <= set(names), names\n"
        "print(len(names))\n"
    )
    expected = None
    for module in ("monai_ext.data.layouts.registry", "monai_ext.data.vessel_layouts"):
        result = subprocess.run(
            [sys.executable, "-c", code, module], capture_output=True, text=True, cwd=REPO, timeout=300, check=False
        )
        assert result.returncode == 0, result.stderr
        count = int(result.stdout.split()[-1])
        assert expected is None or count == expected
        expected = count
    assert expected == len(layouts.list_datasets())
