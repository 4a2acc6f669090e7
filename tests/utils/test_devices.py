# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""place_network: device, memory format and SyncBatchNorm as the bundle configs request them."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.bundle import ConfigParser

from monai_ext.utils import place_network


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())


def test_channels_last_only_when_asked():
    plain = place_network(_net(), "cpu")
    assert plain[0].weight.is_contiguous() and not plain[0].weight.is_contiguous(memory_format=torch.channels_last)
    fast = place_network(_net(), torch.device("cpu"), channels_last=True)
    assert fast[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not fast[0].weight.is_contiguous()
    assert fast[0].weight.device.type == "cpu"


def test_sync_batchnorm_is_ignored_on_cpu():
    net = place_network(_net(), "cpu", sync_batchnorm=True)
    assert type(net[1]) is nn.BatchNorm2d
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in net.modules())


def test_same_result_as_the_config_expression_it_replaces():
    torch.manual_seed(0)
    config = {
        "device": "$torch.device('cpu')",
        "channels_last": True,
        "network_def": {"_target_": "torch.nn.Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3},
        "network": {
            "_target_": "monai_ext.utils.place_network",
            "network": "@network_def",
            "device": "@device",
            "channels_last": "@channels_last",
        },
    }
    net = ConfigParser(config).get_parsed_content("network")
    assert isinstance(net, nn.Conv2d)
    assert net.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 1, 9, 7)
    torch.testing.assert_close(net(x), torch.nn.functional.conv2d(x, net.weight, net.bias))


def test_distributed_wraps_in_ddp_on_cpu(tmp_path):
    """``distributed=True`` (multi_gpu_train.json) wraps the placed network; on the CPU without ``device_ids``."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        inner = _net()
        net = place_network(inner, "cpu", channels_last=True, distributed=True, find_unused_parameters=True)
        assert isinstance(net, nn.parallel.DistributedDataParallel)
        assert net.module is inner and net.device_ids is None and net.find_unused_parameters
        assert inner[0].weight.is_contiguous(memory_format=torch.channels_last)
        x = torch.randn(2, 3, 8, 8)
        torch.testing.assert_close(net(x), inner(x))
    finally:
        dist.destroy_process_group()
