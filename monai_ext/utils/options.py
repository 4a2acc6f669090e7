# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Command-line options of the bundles that were renamed: stop with the new name instead of ignoring the old one.

``python -m monai.bundle run ... --upscale_rate 4`` on a config that no longer has ``upscale_rate`` adds an id that
nothing reads, and the run goes on at the default factor. Every bundle config calls :func:`check_renamed_options`
first in ``initialize``, so such a run stops before any work with the new name in the message.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

__all__ = ["RENAMED_IDS", "RENAMED_OPTIONS", "RenamedOptionError", "check_renamed_options"]

#: former config ids / keyword names and what they are called now (MONAI's vocabulary).
RENAMED_OPTIONS: dict[str, str] = {"upscale_rate": "scale_factor", "upscale_factor": "scale_factor"}

#: former top-level config ids of every bundle (the weights file of evaluation and inference is ``checkpoint``).
RENAMED_IDS: dict[str, str] = {"ckpt_path": "checkpoint"}


class RenamedOptionError(ValueError):
    """A command-line option uses a name the bundles no longer read."""


def check_renamed_options(
    renamed: Mapping[str, str] | None = None,
    top_level: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> None:
    """Raise when an ``--id value`` option of the command line names a renamed id.

    Names in ``renamed`` are checked as a top-level id (``--upscale_rate 4``) and as the last part of a nested one
    (``--network_def#upscale_rate 4``); names in ``top_level`` only as a top-level id (a bundle's own option whose old
    name is still a valid keyword elsewhere, e.g. saliency_sr's generator width ``num_channels``, now ``features``,
    while ``LoadFundusImaged`` keeps ``num_channels``).

    Args:
        renamed: old name -> new name at any depth; :data:`RENAMED_OPTIONS` by default.
        top_level: old top-level id -> new id; :data:`RENAMED_IDS` by default.
        argv: the command line; ``sys.argv`` by default.

    Raises:
        RenamedOptionError: naming every renamed option found and its new name.
    """
    renamed = RENAMED_OPTIONS if renamed is None else renamed
    top_level = RENAMED_IDS if top_level is None else top_level
    argv = sys.argv if argv is None else argv
    found = []
    for token in argv[1:]:
        if not token.startswith("--"):
            continue
        key = token[2:].split("=", 1)[0]
        parts = key.replace("::", "#").split("#")
        if len(parts) == 1 and top_level and key in top_level:
            found.append(f"--{key} is now --{top_level[key]}")
        elif parts[-1] in renamed:
            new_key = "#".join(parts[:-1] + [renamed[parts[-1]]])
            found.append(f"--{key} is now --{new_key}")
    if found:
        raise RenamedOptionError(
            "renamed option(s) on the command line (the old names would be ignored): " + "; ".join(found) + "."
        )
