# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""The feedback ConvLSTM cell of MRC-Net.

Unlike the standard ConvLSTM, whose gates see ``cat[x_t, h_{t-1}]``, this cell computes its gates from a
pre-processed concatenation of the (constant) shallow feature ``x`` with the *previous output of the MRC module*
``y_{t-1}``, so the recursion feeds refined features back into the next step.

Reference: Chen et al., "Super-Resolution Enhanced Medical Image Diagnosis with Sample Affinity Interaction",
IEEE TMI 40(5), 2021, Sec. III-A (recursive MRC-Net with temporal context).
"""

from __future__ import annotations

import torch
from torch import nn

from .mrc_blocks import ConvPReLU, PReLUResidualBlock

__all__ = ["FeedbackConvLSTMCell"]


class FeedbackConvLSTMCell(nn.Module):
    """ConvLSTM cell whose gates are driven by ``cat[x, y_prev]``.

    ``z = ConvPReLU3x3(ResBlock(ConvPReLU1x1(cat[x, y_prev])))``; the input, forget, candidate and output gates are
    four separate 3x3 convolutions of ``z``; ``c = f * c_prev + i * g`` and ``h = o * tanh(c)``.

    Args:
        channels: number of channels of ``x``, ``y_prev``, the cell state and the output.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input_fuse = ConvPReLU(2 * channels, channels, kernel_size=1)
        self.input_block = PReLUResidualBlock(channels)
        self.input_proj = ConvPReLU(channels, channels, kernel_size=3)
        self.conv_i = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_f = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_g = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_o = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(
        self, x: torch.Tensor, y_prev: torch.Tensor, c_prev: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one recursion step.

        Args:
            x: shallow feature, (B, C, H, W).
            y_prev: previous MRC output (zeros at the first step), (B, C, H, W).
            c_prev: previous cell state (zeros at the first step), (B, C, H, W).

        Returns:
            ``(h, c)``: the LSTM output and the new cell state, both (B, C, H, W).
        """
        z = self.input_proj(self.input_block(self.input_fuse(torch.cat([x, y_prev], dim=1))))
        i = torch.sigmoid(self.conv_i(z))
        f = torch.sigmoid(self.conv_f(z))
        g = torch.tanh(self.conv_g(z))
        o = torch.sigmoid(self.conv_o(z))
        c = f * c_prev + i * g
        h = o * torch.tanh(c)
        return h, c
