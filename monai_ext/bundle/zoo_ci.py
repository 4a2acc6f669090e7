# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The model zoo's premerge checks, written for our bundles (the zoo's own ``ci/`` scripts are not vendored).

What the zoo's CI does to a bundle folder ``models/<name>`` (see ``docs/ecosystem.md``) and the function here that
checks the same thing:

* ``ci/get_bundle_requirements.py`` writes ``requirements_<name>.txt`` from ``metadata.json``:
  :func:`bundle_requirements` / :func:`write_requirements` (``monai==``, ``torch==``, ``numpy==`` and every entry of
  ``required_packages_version``), :func:`requirement_problems` (duplicates, ``monai_ext`` pinned to this package's
  version, so that the wheel built from this repository satisfies it);
* ``ci/verify_bundle.py`` (``min``: necessary and preferred files after fetching ``large_files.yml``, version and
  changelog, metadata schema): :func:`verify_min_problems`;
* pre-commit (``check-added-large-files --maxkb=1024``, end-of-file, trailing whitespace, YAML, private keys,
  executables with shebangs, 4-space unsorted JSON): :func:`precommit_problems`;
* ``large_files.yml``: :func:`large_file_entry`, :func:`write_large_files` (regenerate after adding weights) and
  :func:`large_file_problems` (every listed file that is present has the listed sha256).

Command line (run from the repository root)::

    python -m monai_ext.bundle --write-large-files bundles/ds2f      # (re)hash models/model.pt into the yml
    python -m monai_ext.bundle --check bundles/ds2f bundles/ss_maf     # all checks above, exit 1 on a problem
    python -m monai_ext.bundle --requirements bundles/ds2f -o requirements_ds2f.txt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .schema import load_metadata

__all__ = [
    "LARGE_FILES_NAME",
    "ZOO_MAX_FILE_KB",
    "WEIGHTS_URL_TEMPLATE",
    "bundle_requirements",
    "write_requirements",
    "requirement_problems",
    "sha256_of",
    "read_large_files",
    "large_file_entry",
    "write_large_files",
    "large_file_problems",
    "precommit_problems",
    "verify_min_problems",
    "premerge_problems",
    "main",
]

LARGE_FILES_NAME = "large_files.yml"
#: the zoo's pre-commit ``check-added-large-files --maxkb=1024``.
ZOO_MAX_FILE_KB = 1024
#: where a released bundle's weights are downloaded from. The repository has no release host yet: the placeholder
#: ``{host}`` must be replaced (``--url``) when the weights are published; until then the files are in this repository.
WEIGHTS_URL_TEMPLATE = "{host}/{bundle}_v{version}/{path}"
DEFAULT_HOST = "https://REPLACE-WITH-THE-WEIGHTS-HOST"
#: weights files a bundle may list.
DEFAULT_LARGE_FILES = ("models/model.pt",)
_PRIVATE_KEY_MARKERS = (
    b"BEGIN RSA PRIVATE KEY",
    b"BEGIN DSA PRIVATE KEY",
    b"BEGIN EC PRIVATE KEY",
    b"BEGIN OPENSSH PRIVATE KEY",
    b"BEGIN PRIVATE KEY",
    b"BEGIN ENCRYPTED PRIVATE KEY",
)
_TEXT_SUFFIXES = {".py", ".json", ".yml", ".yaml", ".md", ".txt", ".conf", ".cfg", ".toml", ".csv", ""}
_IGNORED_DIRS = {"eval", "runs", "__pycache__", ".pytest_cache"}


# ---------------------------------------------------------------------------------------------------------------
# requirements (ci/get_bundle_requirements.py)
# ---------------------------------------------------------------------------------------------------------------


def bundle_requirements(bundle_dir: str | os.PathLike) -> list[str]:
    """The requirement lines the zoo's premerge step installs for a bundle, in its order.

    ``monai==<monai_version>``, ``torch==<pytorch_version>``, ``numpy==<numpy_version>``, then every entry of
    ``optional_packages_version`` and ``required_packages_version`` as ``name==version`` (or ``name<op>...`` when the
    version starts with an operator).
    """
    metadata = load_metadata(bundle_dir)
    lines = []
    for key, package in (("monai_version", "monai"), ("pytorch_version", "torch"), ("numpy_version", "numpy")):
        if key in metadata:
            lines.append(f"{package}=={metadata[key]}")
    for key in ("optional_packages_version", "required_packages_version"):
        for name, version in (metadata.get(key) or {}).items():
            version = str(version).strip()
            lines.append(f"{name}{version}" if version[:1] in "<>=!~" and version else f"{name}=={version}")
    return lines


def write_requirements(bundle_dir: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Write :func:`bundle_requirements` to ``path`` (one line each) and return it."""
    path = Path(path)
    path.write_text("".join(line + "\n" for line in bundle_requirements(bundle_dir)))
    return path


def _package_version() -> str:
    from monai_ext import __version__

    return __version__


def requirement_problems(bundle_dir: str | os.PathLike) -> list[str]:
    """What would make the zoo's requirement step fail or install twice: duplicate packages, unpinned lines, and a
    ``monai_ext`` pin that differs from this package's version (the wheel built from this repository)."""
    lines = bundle_requirements(bundle_dir)
    names = [re.split(r"[<>=!~]", line, maxsplit=1)[0].lower().replace("_", "-") for line in lines]
    problems = []
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{bundle_dir}: requirement {name!r} listed {names.count(name)} times")
    for line in lines:
        if not re.search(r"[<>=!~]=?\S", line):
            problems.append(f"{bundle_dir}: requirement {line!r} has no version")
    pins = {n: line for n, line in zip(names, lines, strict=True)}
    expected = f"monai_ext=={_package_version()}"
    if "monai-ext" not in pins:
        problems.append(f"{bundle_dir}: required_packages_version does not list monai_ext (the bundle imports it)")
    elif pins["monai-ext"] != expected:
        problems.append(f"{bundle_dir}: requirement {pins['monai-ext']!r}, but this repository builds {expected}")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# large_files.yml
# ---------------------------------------------------------------------------------------------------------------


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def read_large_files(bundle_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The ``large_files`` entries of ``<bundle>/large_files.yml`` ([] when the file is missing)."""
    path = Path(bundle_dir) / LARGE_FILES_NAME
    if not path.is_file():
        return []
    content = yaml.safe_load(path.read_text()) or {}
    entries = content.get("large_files") if isinstance(content, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a mapping with a 'large_files' list")
    return entries


def large_file_entry(
    bundle_dir: str | os.PathLike, rel_path: str = "models/model.pt", url: str | None = None
) -> dict[str, Any]:
    """The ``large_files.yml`` entry of one file: ``path``, ``url`` and, when the file exists, its sha256.

    Args:
        bundle_dir: the bundle folder.
        rel_path: the file, relative to the bundle folder.
        url: where the zoo downloads it from; default :data:`WEIGHTS_URL_TEMPLATE` with the placeholder host.
    """
    bundle_dir = Path(bundle_dir)
    if url is None:
        version = load_metadata(bundle_dir).get("version", "0.0.0")
        url = WEIGHTS_URL_TEMPLATE.format(host=DEFAULT_HOST, bundle=bundle_dir.name, version=version, path=rel_path)
    entry: dict[str, Any] = {"path": rel_path, "url": url}
    if (bundle_dir / rel_path).is_file():
        entry["hash_val"] = sha256_of(bundle_dir / rel_path)
        entry["hash_type"] = "sha256"
    return entry


_LARGE_FILES_HEADER = """\
# Large files of this bundle, in the MONAI model zoo's format (ci/utils.py download_large_files, monai.bundle
# download_large_files). In the monai_ext repository the files are committed next to this file; a model-zoo copy of
# the bundle leaves them out (the zoo's 1024 KB file-size rule) and its CI downloads them from `url`, checking
# `hash_val`. An entry without hash_val: the file is not trained yet.
# Regenerate after changing a file: python -m monai_ext.bundle --write-large-files bundles/{bundle}
"""


def write_large_files(
    bundle_dir: str | os.PathLike, paths: Sequence[str] | None = None, url: str | None = None
) -> Path:
    """(Re)write ``<bundle>/large_files.yml``: one entry per path with the current sha256 of files that exist.

    Existing entries keep their ``url`` (unless ``url`` is given) and their order; paths not listed yet are added.

    Args:
        bundle_dir: the bundle folder.
        paths: files relative to the bundle folder; default the existing entries plus ``models/model.pt``.
        url: the download URL (single path) or URL prefix ending in ``/`` (several paths); default: keep/template.
    """
    bundle_dir = Path(bundle_dir)
    existing = {e.get("path"): e for e in read_large_files(bundle_dir) if isinstance(e, dict)}
    wanted = list(paths) if paths else list(dict.fromkeys([*existing, *DEFAULT_LARGE_FILES]))
    entries = []
    for rel in wanted:
        this_url = None
        if url:
            this_url = url + rel if url.endswith("/") else url
        elif rel in existing and existing[rel].get("url"):
            this_url = existing[rel]["url"]
        entry = large_file_entry(bundle_dir, rel, this_url)
        if "hash_val" not in entry and rel in existing and existing[rel].get("hash_val"):
            # the file is not here (e.g. a zoo checkout): keep the recorded hash
            entry["hash_val"] = existing[rel]["hash_val"]
            entry["hash_type"] = existing[rel].get("hash_type", "sha256")
        entries.append(entry)
    path = bundle_dir / LARGE_FILES_NAME
    text = _LARGE_FILES_HEADER.format(bundle=bundle_dir.name)
    text += yaml.safe_dump({"large_files": entries}, sort_keys=False, default_flow_style=False)
    path.write_text(text)
    return path


def large_file_problems(bundle_dir: str | os.PathLike) -> list[str]:
    """Problems with ``<bundle>/large_files.yml``: missing, malformed entries, and files present whose sha256
    differs from ``hash_val`` or that have no ``hash_val`` yet (run :func:`write_large_files`)."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / LARGE_FILES_NAME
    if not path.is_file():
        return [f"{path}: missing (lists the bundle's weights for the model zoo)"]
    try:
        entries = read_large_files(bundle_dir)
    except (ValueError, yaml.YAMLError) as exc:
        return [f"{path}: {exc}"]
    problems = []
    regenerate = f"python -m monai_ext.bundle --write-large-files {bundle_dir}"
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("path") or not entry.get("url"):
            problems.append(f"{path}: entry {i} needs 'path' and 'url'")
            continue
        rel = str(entry["path"])
        target = (bundle_dir / rel).resolve()
        if not target.is_relative_to(bundle_dir.resolve()):
            problems.append(f"{path}: entry {rel!r} points outside the bundle")
            continue
        hash_type = str(entry.get("hash_type", "md5")).lower()
        if entry.get("hash_val") and hash_type != "sha256":
            problems.append(f"{path}: entry {rel!r} uses hash_type {hash_type!r}; use sha256")
        if not target.is_file():
            continue
        if not entry.get("hash_val"):
            problems.append(f"{path}: {rel} exists but has no hash_val; regenerate with: {regenerate}")
        elif hash_type == "sha256" and entry["hash_val"] != sha256_of(target):
            problems.append(f"{path}: sha256 of {rel} differs from hash_val; regenerate with: {regenerate}")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# pre-commit hooks and verify_bundle.py -m min
# ---------------------------------------------------------------------------------------------------------------


def _bundle_files(bundle_dir: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(bundle_dir):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        files += [Path(root) / n for n in sorted(names) if not n.endswith(".pyc")]
    return files


def precommit_problems(bundle_dir: str | os.PathLike, max_kb: int = ZOO_MAX_FILE_KB) -> list[str]:
    """What the zoo's pre-commit hooks reject in a bundle folder as the zoo would hold it (files listed in
    ``large_files.yml`` are left out of a zoo copy, so they are exempt from the size rule).

    Checked: files over ``max_kb`` KB, private keys, executables without a shebang, text files without a final
    newline or with trailing whitespace, YAML that does not parse, JSON not formatted with a 4-space indent in its
    own key order (``pretty-format-json --indent=4 --no-sort-keys``).
    """
    bundle_dir = Path(bundle_dir)
    try:
        listed = {str(e.get("path")) for e in read_large_files(bundle_dir) if isinstance(e, dict)}
    except (ValueError, yaml.YAMLError):
        listed = set()
    problems = []
    for path in _bundle_files(bundle_dir):
        rel = path.relative_to(bundle_dir).as_posix()
        data = path.read_bytes()
        if len(data) > max_kb * 1024 and rel not in listed:
            problems.append(f"{path}: {len(data) // 1024} KB exceeds {max_kb} KB (list it in {LARGE_FILES_NAME})")
        if any(marker in data for marker in _PRIVATE_KEY_MARKERS):
            problems.append(f"{path}: contains a private key")
        if os.access(path, os.X_OK) and not data.startswith(b"#!"):
            problems.append(f"{path}: executable without a shebang")
        if path.suffix.lower() not in _TEXT_SUFFIXES or rel in listed or b"\0" in data[:4096]:
            continue
        text = data.decode("utf-8", errors="replace")
        if text and not text.endswith("\n") or text.endswith("\n\n"):
            problems.append(f"{path}: must end with exactly one newline")
        trailing = [i + 1 for i, line in enumerate(text.splitlines()) if line != line.rstrip(" \t")]
        if trailing:
            problems.append(f"{path}: trailing whitespace on line(s) {trailing[:5]}")
        if path.suffix.lower() in (".yml", ".yaml"):
            try:
                yaml.safe_load(text)
            except yaml.YAMLError as exc:
                problems.append(f"{path}: invalid YAML ({exc})")
        if path.suffix.lower() == ".json":
            try:
                pretty = json.dumps(json.loads(text), indent=4, ensure_ascii=False) + "\n"
            except json.JSONDecodeError as exc:
                problems.append(f"{path}: invalid JSON ({exc})")
                continue
            ascii_pretty = json.dumps(json.loads(text), indent=4) + "\n"
            if text not in (pretty, ascii_pretty):
                problems.append(f"{path}: not formatted as pretty-format-json --indent=4 --no-sort-keys")
    return problems


def verify_min_problems(bundle_dir: str | os.PathLike) -> list[str]:
    """``ci/verify_bundle.py -m min`` on a bundle whose large files are in place: the necessary files
    (``configs/metadata.json``, ``LICENSE``), the preferred ones (``models/model.pt``, ``configs/inference.json``),
    ``version`` in ``changelog``, the metadata against the schema (offline copy), and the large files' hashes."""
    from .schema import verify_bundle_metadata

    bundle_dir = Path(bundle_dir)
    problems = large_file_problems(bundle_dir)
    for rel in ("configs/metadata.json", "LICENSE"):
        if not (bundle_dir / rel).is_file():
            problems.append(f"{bundle_dir / rel}: necessary file missing")
    for rel in ("models/model.pt", "configs/inference.json"):
        if not (bundle_dir / rel).is_file():
            problems.append(f"{bundle_dir / rel}: preferred file missing")
    try:
        metadata = load_metadata(bundle_dir)
    except ValueError as exc:
        return problems + [str(exc)]
    changelog = metadata.get("changelog")
    if "version" not in metadata or not isinstance(changelog, dict) or metadata["version"] not in changelog:
        problems.append(f"{bundle_dir}: metadata 'version' must have a 'changelog' entry")
    try:
        verify_bundle_metadata(bundle_dir)
    except Exception as exc:  # jsonschema's ValidationError and our own ValueError
        problems.append(f"{bundle_dir}: metadata does not validate against the schema ({str(exc).splitlines()[0]})")
    return problems


def premerge_problems(bundle_dir: str | os.PathLike) -> list[str]:
    """All of the above for one bundle: requirements, ``verify_bundle.py -m min`` and pre-commit."""
    return requirement_problems(bundle_dir) + verify_min_problems(bundle_dir) + precommit_problems(bundle_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--write-large-files``, ``--check`` and ``--requirements`` on bundle folders."""
    parser = argparse.ArgumentParser(prog="python -m monai_ext.bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", help="bundle folders, e.g. bundles/ds2f")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-large-files", action="store_true", help="(re)write large_files.yml with hashes")
    action.add_argument("--check", action="store_true", help="run the premerge-equivalent checks")
    action.add_argument("--requirements", action="store_true", help="write the zoo's requirements file")
    parser.add_argument("--path", action="append", help="large file relative to the bundle (repeatable)")
    parser.add_argument("--url", help="download URL (or URL prefix ending in '/') written into large_files.yml")
    parser.add_argument("-o", "--output", help="requirements file (default requirements_<bundle>.txt)")
    args = parser.parse_args(argv)
    status = 0
    for bundle in args.bundles:
        if args.write_large_files:
            path = write_large_files(bundle, args.path, args.url)
            print(f"wrote {path}")
            for entry in read_large_files(bundle):
                print(f"  {entry['path']}: {entry.get('hash_val', 'no file, no hash')}")
        elif args.requirements:
            out = args.output or f"requirements_{Path(bundle).name}.txt"
            print(write_requirements(bundle, out))
        else:
            problems = premerge_problems(bundle)
            for problem in problems:
                print(problem)
            print(f"{bundle}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
            status = status or int(bool(problems))
    return status


if __name__ == "__main__":
    sys.exit(main())
