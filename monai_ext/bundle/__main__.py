# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""``python -m monai_ext.bundle``: the model zoo's premerge checks and ``large_files.yml`` (see :mod:`.zoo_ci`)."""

from __future__ import annotations

import sys

from .zoo_ci import main

if __name__ == "__main__":
    sys.exit(main())
