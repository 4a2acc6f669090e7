# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The shared fixtures of ``tests/conftest.py``."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import torch_threads

pytestmark = pytest.mark.usefixtures("one_thread")


def test_one_thread_sets_one_intra_op_thread():
    assert torch.get_num_threads() == 1


def test_torch_threads_restores_the_previous_count():
    with torch_threads(2):
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("restored on error too")
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
