# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Generate the embedded histology default data of the ``sai_diagnosis`` bundle.

The source is the pair of real 1500x1500 H&E crops of high-grade serous ovarian carcinoma (HGSC) shipped in the
PyPI package ``histolytics`` 0.3.0 (BSD-3-Clause, (c) 2024-2025 HautaniemiLab):

* ``histolytics/data/hgsc_nest.jpg`` (a tumour nest) with its semantic nuclei mask ``hgsc_nest_type_mask.npz``
  (key ``nuc_raster``; 0 background, 1 connective, 2 inflammatory, 3 neoplastic);
* ``histolytics/data/hgsc_stromal_he.jpg`` (stroma) with its nuclei polygons ``hgsc_stromal_cells.parquet``
  (column ``geometry``: little-endian WKB polygons in pixel coordinates ``(x = column, y = row)`` of the crop;
  column ``class_name`` in ``{"connective", "inflammatory", "neoplastic"}``).

Two outputs are written:

1. ``histology_96/``: PCam-like 96x96 RGB PNG patches in class folders ``normal/`` (label 0) and ``tumour/``
   (label 1). A patch is ``tumour`` when the central 32x32 pixels hold at least one neoplastic-nucleus pixel
   (PCam's rule), otherwise ``normal``. Each crop is tiled into square spatial blocks; patches lie entirely
   inside one block (so patches of different blocks never overlap) and whole blocks are dealt to train / val /
   test, recorded in ``splits.json`` (patch id -> split). Per split all tumour patches are kept and normal
   patches are sampled (seeded) to ``normal_ratio`` times the tumour count.
2. ``histology_hr/{train,val}/``: 192x192 HR tiles for the x2 super-resolution stages, cut only from the blocks
   of the classifier's train and val splits, so the SR stages never see test pixels.

The stromal polygons are rasterised with Pillow (boundary pixels included). On the nest crop, where both the
polygons (``hgsc_nest.parquet``) and the raster mask exist, this rasteriser reproduces the neoplastic mask with
IoU ~0.94 (``--check`` prints it), which validates the coordinate convention.

histolytics is *not* a dependency: the script reads the files straight out of the wheel (a zip) or an extracted
folder. Fetch the wheel once with::

    pip download histolytics==0.3.0 --no-deps -d /tmp/histolytics_wheel

and regenerate (from the repository root) with::

    python bundles/sai_diagnosis/scripts/make_histology_patches.py \
        --source /tmp/histolytics_wheel/histolytics-0.3.0-py3-none-any.whl

Requirements: numpy, Pillow, pyarrow (for the parquet file).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import struct
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

NEST_IMAGE = "hgsc_nest.jpg"
NEST_TYPE_MASK = "hgsc_nest_type_mask.npz"
NEST_POLYGONS = "hgsc_nest.parquet"
STROMA_IMAGE = "hgsc_stromal_he.jpg"
STROMA_POLYGONS = "hgsc_stromal_cells.parquet"
LICENSE_MEMBER = "histolytics-0.3.0.dist-info/licenses/LICENSE"
NEOPLASTIC_VALUE = 3
NEOPLASTIC_CLASS = "neoplastic"
CLASS_FOLDERS = ("normal", "tumour")  # index = label
SPLIT_PATTERN = ("train", "val", "test", "train", "train", "val", "test", "train", "train")
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_PATCH_DIR = REPO_ROOT / "monai_ext" / "data" / "sample" / "histology_96"
DEFAULT_HR_DIR = REPO_ROOT / "monai_ext" / "data" / "sample" / "histology_hr"


def source_reader(source: str | Path) -> Callable[[str], bytes]:
    """Return a function that reads a member of the histolytics wheel or of an extracted copy.

    Args:
        source: the ``.whl`` file, or a folder holding ``histolytics/data/...`` (the unzipped wheel) or the
            data files themselves.

    Returns:
        ``read(name) -> bytes`` where ``name`` is a data file name (``"hgsc_nest.jpg"``) or the wheel's
        licence member.

    Raises:
        FileNotFoundError: when ``source`` does not exist or a requested file is not in it.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"histolytics source {source} does not exist.")
    if source.is_file():
        archive = zipfile.ZipFile(source)
        members = set(archive.namelist())

        def read_zip(name: str) -> bytes:
            member = name if "/" in name else f"histolytics/data/{name}"
            if member not in members:
                raise FileNotFoundError(f"{member} is not in the wheel {source}.")
            return archive.read(member)

        return read_zip

    def read_dir(name: str) -> bytes:
        candidates = [source / name] if "/" in name else [source / "histolytics" / "data" / name, source / name]
        for path in candidates:
            if path.is_file():
                return path.read_bytes()
        raise FileNotFoundError(f"{name} not found under {source} (looked at {[str(p) for p in candidates]}).")

    return read_dir


def decode_wkb_polygon(wkb: bytes) -> list[np.ndarray]:
    """Decode a 2-D WKB polygon into its rings.

    Args:
        wkb: well-known-binary bytes of one ``Polygon`` (geometry type 3, no Z/M).

    Returns:
        the rings (exterior first) as float64 arrays of shape ``(n, 2)`` holding ``(x, y)``.

    Raises:
        ValueError: for any other geometry type.
    """
    order = "<" if wkb[0] == 1 else ">"
    (geometry_type,) = struct.unpack(order + "I", wkb[1:5])
    if geometry_type != 3:
        raise ValueError(f"expected a 2-D WKB Polygon (type 3), got geometry type {geometry_type}.")
    (num_rings,) = struct.unpack(order + "I", wkb[5:9])
    offset, rings = 9, []
    for _ in range(num_rings):
        (num_points,) = struct.unpack(order + "I", wkb[offset : offset + 4])
        offset += 4
        coords = np.frombuffer(wkb, dtype=order + "f8", count=2 * num_points, offset=offset)
        rings.append(coords.reshape(num_points, 2))
        offset += 16 * num_points
    return rings


def read_polygons(parquet_bytes: bytes) -> tuple[list[list[np.ndarray]], list[str]]:
    """Read the ``geometry`` (WKB) and ``class_name`` columns of a histolytics nuclei parquet file."""
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(parquet_bytes), columns=["geometry", "class_name"])
    polygons = [decode_wkb_polygon(wkb) for wkb in table.column("geometry").to_pylist()]
    return polygons, table.column("class_name").to_pylist()


def rasterise_polygons(polygons: Sequence[list[np.ndarray]], shape: tuple[int, int]) -> np.ndarray:
    """Rasterise polygons (pixel coordinates ``(x, y)``) into a boolean mask; holes are cut out."""
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for rings in polygons:
        draw.polygon([tuple(p) for p in rings[0]], fill=1, outline=1)
        for hole in rings[1:]:
            draw.polygon([tuple(p) for p in hole], fill=0, outline=0)
    return np.asarray(canvas, dtype=bool)


def load_crops(read: Callable[[str], bytes]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Load both crops as ``name -> (RGB uint8 (H, W, 3), neoplastic mask bool (H, W))``."""
    nest_rgb = np.asarray(Image.open(io.BytesIO(read(NEST_IMAGE))).convert("RGB"))
    nest_mask = np.load(io.BytesIO(read(NEST_TYPE_MASK)))["nuc_raster"] == NEOPLASTIC_VALUE
    stroma_rgb = np.asarray(Image.open(io.BytesIO(read(STROMA_IMAGE))).convert("RGB"))
    polygons, classes = read_polygons(read(STROMA_POLYGONS))
    neoplastic = [p for p, c in zip(polygons, classes, strict=True) if c == NEOPLASTIC_CLASS]
    stroma_mask = rasterise_polygons(neoplastic, stroma_rgb.shape[:2])
    for name, rgb, mask in (("nest", nest_rgb, nest_mask), ("stroma", stroma_rgb, stroma_mask)):
        if rgb.shape[:2] != mask.shape:
            raise ValueError(f"{name}: image shape {rgb.shape[:2]} differs from mask shape {mask.shape}.")
    return {"nest": (nest_rgb, nest_mask), "stroma": (stroma_rgb, stroma_mask)}


def polygon_check_iou(read: Callable[[str], bytes]) -> float:
    """IoU of the rasterised neoplastic polygons of the nest crop against its raster type mask."""
    polygons, classes = read_polygons(read(NEST_POLYGONS))
    mask = np.load(io.BytesIO(read(NEST_TYPE_MASK)))["nuc_raster"] == NEOPLASTIC_VALUE
    neoplastic = [p for p, c in zip(polygons, classes, strict=True) if c == NEOPLASTIC_CLASS]
    raster = rasterise_polygons(neoplastic, mask.shape)
    return float((raster & mask).sum() / max((raster | mask).sum(), 1))


def patch_origins(block_size: int, patch_size: int, stride: int) -> list[int]:
    """Offsets of the patches inside one block: a regular grid centred in the block."""
    if patch_size > block_size:
        raise ValueError(f"patch_size {patch_size} exceeds block_size {block_size}.")
    last = (block_size - patch_size) // stride * stride
    margin = (block_size - patch_size - last) // 2
    return list(range(margin, margin + last + 1, stride))


def pcam_labels(mask: np.ndarray, tops: np.ndarray, lefts: np.ndarray, patch_size: int, centre_size: int) -> np.ndarray:
    """PCam rule: 1 when the central ``centre_size`` square of the patch holds any positive mask pixel."""
    offset = (patch_size - centre_size) // 2
    # summed-area table: the count of positive pixels in every centre window without a loop over pixels
    table = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    r0, c0 = tops + offset, lefts + offset
    r1, c1 = r0 + centre_size, c0 + centre_size
    counts = table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]
    return (counts > 0).astype(np.int64)


def assign_blocks(tumour_counts: dict[tuple[str, int, int], int]) -> dict[tuple[str, int, int], str]:
    """Deal the blocks of each crop to splits: blocks sorted by tumour count, then dealt by ``SPLIT_PATTERN``."""
    assignment = {}
    for crop in sorted({key[0] for key in tumour_counts}):
        blocks = sorted((k for k in tumour_counts if k[0] == crop), key=lambda k: (-tumour_counts[k], k[1], k[2]))
        for index, block in enumerate(blocks):
            assignment[block] = SPLIT_PATTERN[index % len(SPLIT_PATTERN)]
    return assignment


def generate(
    source: str | Path,
    patch_dir: str | Path = DEFAULT_PATCH_DIR,
    hr_dir: str | Path = DEFAULT_HR_DIR,
    patch_size: int = 96,
    stride: int = 48,
    centre_size: int = 32,
    block_size: int = 500,
    normal_ratio: float = 1.0,
    hr_size: int = 192,
    hr_train_per_block: int = 2,
    hr_val_per_block: int = 1,
    seed: int = 0,
) -> dict:
    """Write the patch dataset and the HR tiles; return a summary (counts per split and class, tile counts).

    Args:
        source: histolytics 0.3.0 wheel or extracted folder.
        patch_dir: output folder of the classification patches (replaced).
        hr_dir: output folder of the HR tiles (replaced).
        patch_size: side of a patch.
        stride: step between patch origins inside a block.
        centre_size: side of the central square used by the labelling rule.
        block_size: side of the square spatial blocks dealt to splits.
        normal_ratio: normal patches kept per tumour patch in each split (all kept when fewer exist).
        hr_size: side of an HR tile.
        hr_train_per_block: HR tiles per train block (along the block diagonal).
        hr_val_per_block: HR tiles per val block.
        seed: seed of the normal-patch sampling.
    """
    read = source_reader(source)
    crops = load_crops(read)
    origins = np.asarray(patch_origins(block_size, patch_size, stride))
    records = []  # (crop, block_row, block_col, top, left, label)
    for crop, (rgb, mask) in crops.items():
        n_rows, n_cols = rgb.shape[0] // block_size, rgb.shape[1] // block_size
        for br in range(n_rows):
            for bc in range(n_cols):
                tops, lefts = np.meshgrid(br * block_size + origins, bc * block_size + origins, indexing="ij")
                tops, lefts = tops.ravel(), lefts.ravel()
                labels = pcam_labels(mask, tops, lefts, patch_size, centre_size)
                records += [(crop, br, bc, int(t), int(l), int(y)) for t, l, y in zip(tops, lefts, labels, strict=True)]
    tumour_counts: dict[tuple[str, int, int], int] = {}
    for crop, br, bc, _, _, label in records:
        tumour_counts[(crop, br, bc)] = tumour_counts.get((crop, br, bc), 0) + label
    block_split = assign_blocks(tumour_counts)

    rng = np.random.default_rng(seed)
    kept = []
    for split in ("train", "val", "test"):
        in_split = [r for r in records if block_split[r[:3]] == split]
        tumour = [r for r in in_split if r[5] == 1]
        normal = [r for r in in_split if r[5] == 0]
        n_normal = min(len(normal), int(round(normal_ratio * len(tumour))))
        chosen = sorted(rng.choice(len(normal), size=n_normal, replace=False).tolist())
        kept += [(r, split) for r in tumour] + [(normal[i], split) for i in chosen]

    patch_dir, hr_dir = Path(patch_dir), Path(hr_dir)
    for folder in (patch_dir, hr_dir):
        if folder.exists():
            shutil.rmtree(folder)
    for name in CLASS_FOLDERS:
        (patch_dir / name).mkdir(parents=True)
    splits, counts = {}, {s: {f"{c}_{k}": 0 for c in CLASS_FOLDERS for k in crops} for s in ("train", "val", "test")}
    for (crop, _, _, top, left, label), split in sorted(kept, key=lambda item: item[0][:5]):
        patch_id = f"{crop}_r{top:04d}_c{left:04d}"
        rgb = crops[crop][0][top : top + patch_size, left : left + patch_size]
        Image.fromarray(rgb).save(patch_dir / CLASS_FOLDERS[label] / f"{patch_id}.png", optimize=True)
        splits[patch_id] = split
        counts[split][f"{CLASS_FOLDERS[label]}_{crop}"] += 1
    (patch_dir / "splits.json").write_text(json.dumps(splits, indent=1, sort_keys=True) + "\n")

    hr_counts = {"train": 0, "val": 0}
    for (crop, br, bc), split in sorted(block_split.items()):
        per_block = {"train": hr_train_per_block, "val": hr_val_per_block}.get(split, 0)
        if per_block == 0:
            continue
        (hr_dir / split).mkdir(parents=True, exist_ok=True)
        # tiles on the block diagonal: the centre for one tile, evenly spread corner to corner for more
        if per_block == 1:
            starts = [(block_size - hr_size) // 2]
        else:
            starts = np.round(np.linspace(0, block_size - hr_size, per_block)).astype(int).tolist()
        for s in starts:
            top, left = br * block_size + s, bc * block_size + s
            tile = crops[crop][0][top : top + hr_size, left : left + hr_size]
            Image.fromarray(tile).save(hr_dir / split / f"{crop}_r{top:04d}_c{left:04d}.png", optimize=True)
            hr_counts[split] += 1

    licence = read(LICENSE_MEMBER).decode("utf-8")
    for folder in (patch_dir, hr_dir):
        (folder / "LICENSE.txt").write_text(_licence_text(licence))
    summary = {
        "polygon_check_iou": round(polygon_check_iou(read), 4),
        "stroma_polygon_classes": dict(sorted(Counter(read_polygons(read(STROMA_POLYGONS))[1]).items())),
        "patch_size": patch_size,
        "stride": stride,
        "centre_size": centre_size,
        "block_size": block_size,
        "normal_ratio": normal_ratio,
        "seed": seed,
        "counts": counts,
        "candidates": {
            crop: {c: sum(1 for r in records if r[0] == crop and r[5] == i) for i, c in enumerate(CLASS_FOLDERS)}
            for crop in crops
        },
        "blocks": {f"{k[0]}_b{k[1]}{k[2]}": {"split": v, "tumour": tumour_counts[k]} for k, v in block_split.items()},
        "hr_tiles": hr_counts,
        "hr_size": hr_size,
        "hr_train_per_block": hr_train_per_block,
        "hr_val_per_block": hr_val_per_block,
        "origins_per_axis": len(origins),
        "example_id": min(splits),
    }
    (patch_dir / "README.md").write_text(_readme_text(summary))
    (hr_dir / "README.md").write_text(_hr_readme_text(summary))
    return summary


def _readme_text(summary: dict) -> str:
    """The dataset card of ``histology_96`` filled with the numbers of this run."""
    counts, cand = summary["counts"], summary["candidates"]
    total = {c: sum(counts[s][f"{c}_{k}"] for s in counts for k in cand) for c in CLASS_FOLDERS}
    n_blocks = {s: sum(1 for b in summary["blocks"].values() if b["split"] == s) for s in counts}
    block, patch, stride = summary["block_size"], summary["patch_size"], summary["stride"]
    n_axis = summary["origins_per_axis"]
    stroma_classes = ", ".join(f"{k} {v}" for k, v in summary["stroma_polygon_classes"].items())
    split_rows = "\n".join(
        f"| {s} | {counts[s]['normal_nest'] + counts[s]['normal_stroma']} "
        f"| {counts[s]['tumour_nest'] + counts[s]['tumour_stroma']} "
        f"| {counts[s]['normal_nest']} / {counts[s]['normal_stroma']} "
        f"| {counts[s]['tumour_nest']} / {counts[s]['tumour_stroma']} |"
        for s in counts
    )
    pattern = ", ".join(SPLIT_PATTERN)
    nest_row = (
        "| `nest` (tumour nest) | `hgsc_nest.jpg` | `hgsc_nest_type_mask.npz`, key `nuc_raster` "
        "(0 background, 1 connective, 2 inflammatory, 3 neoplastic) | value 3 |"
    )
    stroma_row = (
        "| `stroma` | `hgsc_stromal_he.jpg` | `hgsc_stromal_cells.parquet`: polygons (WKB, pixel coordinates "
        f"x = column, y = row) with `class_name` {stroma_classes} | the `neoplastic` polygons, rasterised with "
        "Pillow (boundary included) |"
    )
    return f"""# histology_96: PCam-like tumour / normal H&E patches (embedded default of `sai_diagnosis`)

{sum(total.values())} RGB PNG patches of {patch}x{patch} pixels, cut from two real 1500x1500 H&E crops of high-grade
serous ovarian carcinoma (HGSC) shipped as example data in the Python package **histolytics 0.3.0**
(BSD-3-Clause, see `LICENSE.txt`). Written by `bundles/sai_diagnosis/scripts/make_histology_patches.py`
(this file included; seed {summary["seed"]}); rerunning it gives the same selection, labels and splits.

| folder | label | patches |
|---|---|---|
| `normal/` | 0 | {total["normal"]} |
| `tumour/` | 1 | {total["tumour"]} |

Load with `monai_ext.data.build_histology_datalist(dir, split)` -> `[{{"image", "label", "id"}}]`.

## Sources

| crop | image | nuclei annotation | neoplastic pixels |
|---|---|---|---|
{nest_row}
{stroma_row}

The polygon convention was checked on the nest crop, which ships both forms: rasterising its `neoplastic`
polygons (`hgsc_nest.parquet`) the same way reproduces the value-3 raster with IoU {summary["polygon_check_iou"]}.

## Generation

- **Patch size {patch}, stride {stride}** inside **spatial blocks of {block}x{block}** pixels. Patches lie entirely
  inside one block, on a grid of {n_axis}x{n_axis} origins, so patches of different blocks never overlap:
  {n_axis * n_axis * len(summary["blocks"]) // len(cand)} candidates per crop.
- **Label (PCam's rule):** `tumour` when the central {summary["centre_size"]}x{summary["centre_size"]} pixels of the
  patch contain at least one neoplastic-nucleus pixel, otherwise `normal` (neoplastic nuclei outside the centre do
  not count). Candidates: nest {cand["nest"]["tumour"]} tumour / {cand["nest"]["normal"]} normal, stroma
  {cand["stroma"]["tumour"]} tumour / {cand["stroma"]["normal"]} normal.
- **Split by blocks** (`splits.json`, patch id -> split): per crop the blocks are sorted by their number of tumour
  candidates (descending, ties by position) and dealt {pattern}. Blocks: train {n_blocks["train"]}, val
  {n_blocks["val"]}, test {n_blocks["test"]}. No pixel is shared between splits.
- **Balancing:** in each split every tumour patch is kept and {summary["normal_ratio"]:g}x as many normal patches are
  drawn (seeded, without replacement) from the split's normal candidates of both crops.

| split | normal | tumour | normal from nest / stroma | tumour from nest / stroma |
|---|---|---|---|---|
{split_rows}

Patch ids are `<crop>_r<top>_c<left>` (pixel origin in the 1500x1500 crop), e.g. `{summary["example_id"]}`.

## Caveats

- The crops are at high magnification (nuclei roughly 12-28 px across, neoplastic ones ~27 px), not PCam's 10x:
  a patch shows a few cells. Labels come from the automatic nuclei segmentation shipped with histolytics, not from
  pathologists' outlines.
- Tumour patches come almost only from the nest crop, normal patches from both, so colour or crop identity carries
  some label information: this is a small demonstration and test set, not a benchmark of record.
- Overlapping patches of one block are correlated; k-fold splits of this data should be drawn over blocks, not
  patches, to avoid leakage.

HR tiles for the x2 SR stages are in `../histology_hr/`.
"""


def _hr_readme_text(summary: dict) -> str:
    tiles, size = summary["hr_tiles"], summary["hr_size"]
    return f"""# histology_hr: HR H&E tiles for the x2 super-resolution stages of `sai_diagnosis`

{sum(tiles.values())} RGB PNG tiles of {size}x{size} pixels from the same two histolytics 0.3.0 HGSC crops as
`../histology_96/` (BSD-3-Clause, see `LICENSE.txt`), written by
`bundles/sai_diagnosis/scripts/make_histology_patches.py`.

- `train/`: {tiles["train"]} tiles, {summary["hr_train_per_block"]} per train block of `../histology_96/`.
- `val/`: {tiles["val"]} tiles, {summary["hr_val_per_block"]} per val block.

Tiles sit on the block diagonals; no tile comes from a test block, so the SR stages never see the classifier's
test pixels. Low-resolution inputs are made on the fly (bicubic x2). Load with
`monai_ext.data.build_sr_folder_datalist("<...>/histology_hr/train")`.
"""


def _licence_text(licence: str) -> str:
    return (
        "The images in this folder are cut from the H&E crops hgsc_nest.jpg and hgsc_stromal_he.jpg, and the labels\n"
        "derived from hgsc_nest_type_mask.npz and hgsc_stromal_cells.parquet, all shipped as example data in the\n"
        "Python package histolytics 0.3.0 (https://github.com/HautaniemiLab/histolytics, PyPI: histolytics),\n"
        "distributed under the BSD 3-Clause License reproduced below. The package describes them as a 1500x1500\n"
        "H&E image of high-grade serous ovarian carcinoma (HGSC) containing a tumour nest, with its segmented\n"
        "nuclei, and a 1500x1500 H&E image of HGSC containing stroma, with its segmented nuclei.\n"
        "Please cite: Lehtonen, O., Nordlund, N., Salloum, S., Kalliala, I., Virtanen, A., & Hautaniemi, S. (2025).\n"
        "Histolytics: A panoptic spatial analysis framework for interpretable histopathology. Computational and\n"
        "Structural Biotechnology Journal, 27, 5135-5147. https://doi.org/10.1016/j.csbj.2025.11.022\n"
        "The patches were modified (cropped and labelled) by the monai_ext authors with\n"
        "bundles/sai_diagnosis/scripts/make_histology_patches.py.\n\n"
        "-------------------------------------------------------------------------------\n\n" + licence
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="histolytics-0.3.0 wheel (.whl) or extracted folder")
    parser.add_argument("--patch-dir", default=str(DEFAULT_PATCH_DIR))
    parser.add_argument("--hr-dir", default=str(DEFAULT_HR_DIR))
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--stride", type=int, default=48)
    parser.add_argument("--centre-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=500)
    parser.add_argument("--normal-ratio", type=float, default=1.0)
    parser.add_argument("--hr-size", type=int, default=192)
    parser.add_argument("--hr-train-per-block", type=int, default=2)
    parser.add_argument("--hr-val-per-block", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="print the polygon rasterisation IoU on the nest crop")
    args = parser.parse_args()
    if args.check:
        print(f"nest neoplastic polygons vs type mask IoU: {polygon_check_iou(source_reader(args.source)):.4f}")
    summary = generate(
        args.source,
        args.patch_dir,
        args.hr_dir,
        patch_size=args.patch_size,
        stride=args.stride,
        centre_size=args.centre_size,
        block_size=args.block_size,
        normal_ratio=args.normal_ratio,
        hr_size=args.hr_size,
        hr_train_per_block=args.hr_train_per_block,
        hr_val_per_block=args.hr_val_per_block,
        seed=args.seed,
    )
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
