# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Measure the Python expressions inside the bundle configs: ``python -m monai_ext.bundle.lint [bundles_dir]``.

For every JSON file under ``<bundles_dir>/*/configs/`` (recursively) it counts

* ``$`` expressions: string values (also list items) that start with ``$``, ``$import ...`` lines included;
* distinct ``$`` expressions (identical strings counted once);
* ``$import`` lines (part of the ``$`` count, shown separately);
* lambdas: ``lambda`` keywords inside the expressions;
* comprehensions: ``for`` keywords inside the expressions (an expression has no other ``for``);
* if/else expressions: ``else`` keywords inside the expressions (comprehension filters have no ``else``);
* the longest expression: its length in characters, ``$`` included, and its id (``train#handlers#0``).

Keywords are found with Python's tokenizer, so words inside quoted strings do not count. It also lists duplicated
blocks: identical JSON objects or lists of at least ``min_lines`` lines (``json.dumps(indent=4)``) that occur in the
configs of two or more bundles; only the outermost duplicated block is listed, not every block inside it.

The command only reports; it exits with 0 (2 when the folder holds no bundle configs). The ratchet on each
bundle's ``train.json`` lives in ``tests/bundles/test_config_lint.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import keyword
import re
import sys
import tokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

__all__ = [
    "ConfigStats", "DuplicateBlock", "LintReport", "DEFAULT_MIN_LINES", "default_bundles_dir", "expression_keywords",
    "iter_expressions", "measure_config", "measure_file", "find_duplicate_blocks", "lint_bundles", "format_report",
    "main",
]

#: the smallest block, in lines of ``json.dumps(block, indent=4)``, reported as duplicated
DEFAULT_MIN_LINES = 10


@dataclass
class ConfigStats:
    """The measurements of one config file (or of one in-memory config when ``path`` is empty)."""

    bundle: str = ""
    path: str = ""
    dollar: int = 0
    distinct: int = 0
    imports: int = 0
    lambdas: int = 0
    comprehensions: int = 0
    conditionals: int = 0
    longest: int = 0
    longest_id: str = ""


@dataclass
class DuplicateBlock:
    """One JSON block that occurs, identical, in the configs of two or more bundles."""

    lines: int
    bundles: list[str]
    #: ``(bundle, config path relative to bundles_dir, id of the block inside that config)``
    occurrences: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class LintReport:
    """Everything :func:`lint_bundles` measured."""

    bundles_dir: str
    configs: list[ConfigStats]
    duplicates: list[DuplicateBlock]
    min_lines: int = DEFAULT_MIN_LINES

    def train_summary(self) -> dict[str, ConfigStats]:
        """Bundle name -> the measurements of its ``configs/train.json``."""
        return {c.bundle: c for c in self.configs if Path(c.path).parts[-2:] == ("configs", "train.json")}

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundles_dir": self.bundles_dir,
            "min_lines": self.min_lines,
            "configs": [asdict(c) for c in self.configs],
            "train_summary": {b: asdict(c) for b, c in self.train_summary().items()},
            "duplicates": [asdict(d) for d in self.duplicates],
        }


def _join_id(prefix: str, key: Any) -> str:
    return f"{prefix}#{key}" if prefix else str(key)


def iter_expressions(config: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(id, expression)`` for every string value starting with ``$`` in a parsed JSON config."""
    if isinstance(config, dict):
        for key, value in config.items():
            yield from iter_expressions(value, _join_id(prefix, key))
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from iter_expressions(value, _join_id(prefix, index))
    elif isinstance(config, str) and config.startswith("$"):
        yield prefix, config


_WORDS = ("lambda", "for", "else", "import")


def expression_keywords(expression: str) -> dict[str, int]:
    """How often ``lambda``, ``for``, ``else`` and ``import`` occur as Python keywords in ``expression``.

    The leading ``$`` is dropped; MONAI's ``@id`` references tokenize as an operator and a name. Text that does not
    tokenize falls back to a whole-word search with quoted strings removed.
    """
    text = expression[1:] if expression.startswith("$") else expression
    counts = dict.fromkeys(_WORDS, 0)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NAME and token.string in counts:
                counts[token.string] += 1
    except (tokenize.TokenError, IndentationError, SyntaxError):
        counts = dict.fromkeys(_WORDS, 0)
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "''", text)
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", unquoted):
            if word in counts and keyword.iskeyword(word):
                counts[word] += 1
    return counts


def measure_config(config: Any, bundle: str = "", path: str = "") -> ConfigStats:
    """Count the ``$`` expressions of one parsed JSON config (see the module docstring for what is counted)."""
    stats = ConfigStats(bundle=bundle, path=path)
    seen: set[str] = set()
    for expr_id, expression in iter_expressions(config):
        stats.dollar += 1
        seen.add(expression)
        words = expression_keywords(expression)
        stats.imports += int(words["import"] > 0)
        stats.lambdas += words["lambda"]
        stats.comprehensions += words["for"]
        stats.conditionals += words["else"]
        if len(expression) > stats.longest:
            stats.longest, stats.longest_id = len(expression), expr_id
    stats.distinct = len(seen)
    return stats


def _bundle_of(config_path: Path, bundles_dir: Path) -> str:
    return config_path.relative_to(bundles_dir).parts[0]


def _config_files(bundles_dir: Path) -> list[Path]:
    return sorted(p for p in bundles_dir.glob("*/configs/**/*.json") if p.is_file())


def measure_file(config_path: str | Path, bundles_dir: str | Path | None = None) -> ConfigStats:
    """:func:`measure_config` of a JSON file; ``bundle`` and ``path`` are relative to ``bundles_dir`` when given."""
    config_path = Path(config_path)
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if bundles_dir is None:
        return measure_config(config, bundle="", path=str(config_path))
    bundles_dir = Path(bundles_dir)
    return measure_config(
        config, bundle=_bundle_of(config_path, bundles_dir), path=config_path.relative_to(bundles_dir).as_posix()
    )


def _iter_blocks(config: Any, prefix: str = "", parent: str | None = None) -> Iterator[tuple[str, str, str | None]]:
    """Yield ``(id, canonical text, canonical text of the parent block)`` for every object and list in a config."""
    if not isinstance(config, (dict, list)):
        return
    canonical = json.dumps(config, sort_keys=True)
    yield prefix, canonical, parent
    items = config.items() if isinstance(config, dict) else enumerate(config)
    for key, value in items:
        yield from _iter_blocks(value, _join_id(prefix, key), canonical)


def find_duplicate_blocks(
    configs: dict[tuple[str, str], Any], min_lines: int = DEFAULT_MIN_LINES
) -> list[DuplicateBlock]:
    """The blocks of ``min_lines`` or more lines found, identical, in the configs of two or more bundles.

    ``configs`` maps ``(bundle, config path)`` to the parsed config. A block whose every occurrence sits directly
    inside another reported block is left out (the outer block is reported). Sorted by size, largest first.
    """
    occurrences: dict[str, list[tuple[str, str, str]]] = {}
    parents: dict[str, list[str | None]] = {}
    for (bundle, path), config in configs.items():
        for block_id, canonical, parent in _iter_blocks(config):
            occurrences.setdefault(canonical, []).append((bundle, path, block_id))
            parents.setdefault(canonical, []).append(parent)

    def lines_of(canonical: str) -> int:
        return json.dumps(json.loads(canonical), indent=4).count("\n") + 1

    duplicated = {
        canonical
        for canonical, where in occurrences.items()
        if len({bundle for bundle, _, _ in where}) >= 2 and lines_of(canonical) >= min_lines
    }
    result = []
    for canonical in duplicated:
        if all(parent in duplicated for parent in parents[canonical]):
            continue
        where = sorted(occurrences[canonical])
        result.append(DuplicateBlock(
            lines=lines_of(canonical), bundles=sorted({bundle for bundle, _, _ in where}), occurrences=where
        ))
    result.sort(key=lambda d: (-d.lines, d.occurrences))
    return result


def default_bundles_dir() -> Path:
    """``./bundles`` when it exists, else the ``bundles`` folder of the repository this package lives in."""
    here = Path("bundles")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "bundles"


def lint_bundles(bundles_dir: str | Path | None = None, min_lines: int = DEFAULT_MIN_LINES) -> LintReport:
    """Measure every JSON config under ``<bundles_dir>/*/configs/`` and find the blocks duplicated across bundles."""
    bundles_dir = Path(bundles_dir) if bundles_dir is not None else default_bundles_dir()
    stats, parsed = [], {}
    for config_path in _config_files(bundles_dir):
        config = json.loads(config_path.read_text(encoding="utf-8"))
        bundle = _bundle_of(config_path, bundles_dir)
        rel = config_path.relative_to(bundles_dir).as_posix()
        stats.append(measure_config(config, bundle=bundle, path=rel))
        parsed[(bundle, rel)] = config
    return LintReport(str(bundles_dir), stats, find_duplicate_blocks(parsed, min_lines=min_lines), min_lines)


_COLUMNS = (
    ("$", "dollar"), ("distinct", "distinct"), ("import", "imports"), ("lambda", "lambdas"), ("for", "comprehensions"),
    ("if/else", "conditionals"), ("longest", "longest"),
)


def _table(rows: Sequence[ConfigStats], first: str, name_of) -> list[str]:
    names = [name_of(r) for r in rows]
    width = max([len(first)] + [len(n) for n in names])
    header = f"{first:<{width}}  " + "  ".join(f"{title:>8}" for title, _ in _COLUMNS) + "  longest id"
    lines = [header, "-" * len(header)]
    for name, row in zip(names, rows):
        cells = "  ".join(f"{getattr(row, attr):>8}" for _, attr in _COLUMNS)
        lines.append(f"{name:<{width}}  {cells}  {row.longest_id}")
    return lines


def format_report(report: LintReport) -> str:
    """The text :func:`main` prints: a table per config, the train.json summary and the duplicated blocks."""
    lines = [f"bundle configs under {report.bundles_dir}", ""]
    lines += _table(report.configs, "config", lambda c: c.path)
    lines += ["", "train.json per bundle", ""]
    summary = report.train_summary()
    lines += _table([summary[b] for b in sorted(summary)], "bundle", lambda c: c.bundle)
    lines += ["", f"blocks of >= {report.min_lines} lines duplicated across bundles: {len(report.duplicates)}"]
    for block in report.duplicates:
        lines.append(f"  {block.lines} lines in {', '.join(block.bundles)}:")
        for _, path, block_id in block.occurrences:
            lines.append(f"    {path}: {block_id or '(whole file)'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monai_ext.bundle.lint", description="Count the $ expressions of the bundle configs."
    )
    parser.add_argument(
        "bundles_dir", nargs="?", default=None, help="folder holding <bundle>/configs/ (default: bundles)"
    )
    parser.add_argument("--min-lines", type=int, default=DEFAULT_MIN_LINES, help="smallest duplicated block reported")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args(argv)
    report = lint_bundles(args.bundles_dir, min_lines=args.min_lines)
    if not report.configs:
        print(f"no JSON configs under {report.bundles_dir}/*/configs/", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
