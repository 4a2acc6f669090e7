# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""Build, shape-check and export a bundle's inference network (TorchScript and ONNX) with MONAI's bundle tools.

The exports go through ``monai.bundle.ckpt_export`` and ``monai.bundle.onnx_export``, the functions behind
``python -m monai.bundle ckpt_export`` / ``onnx_export``, so what is tested here is what the command line does.
:func:`verify_network_shapes` is a stricter ``verify_net_in_out``: besides channels and dtype it checks the output's
spatial size against ``network_data_format`` (super-resolution-assisted networks predict at a larger size than their
input, which ``verify_net_in_out`` does not look at).
"""

from __future__ import annotations

import ast
import logging
import operator
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.bundle import ConfigParser, ckpt_export, onnx_export

from .schema import load_metadata

__all__ = [
    "build_network",
    "fake_spatial_shape",
    "fake_input_shape",
    "verify_network_shapes",
    "export_torchscript",
    "export_onnx",
    "run_torchscript",
    "run_onnx",
]

logger = logging.getLogger(__name__)

_BIN_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Pow: operator.pow}
_MAX_DIM = 1 << 20


def _eval_dim(node: ast.AST, names: Mapping[str, int]) -> int:
    """Integer arithmetic (+, -, *, **) over literals and the names ``n``, ``p``; results are capped."""
    if isinstance(node, ast.Expression):
        return _eval_dim(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        value = node.value
    elif isinstance(node, ast.Name) and node.id in names:
        value = names[node.id]
    elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_OPS:
        left, right = _eval_dim(node.left, names), _eval_dim(node.right, names)
        if isinstance(node.op, ast.Pow) and not 0 <= right <= 64:
            raise ValueError(f"exponent {right} out of range")
        value = _BIN_OPS[type(node.op)](left, right)
    else:
        raise ValueError(f"unsupported element {ast.dump(node)}")
    if abs(value) > _MAX_DIM:
        raise ValueError(f"value {value} exceeds {_MAX_DIM}")
    return value


def _config_path(bundle_dir: Path, config_file: str | os.PathLike) -> Path:
    path = Path(config_file)
    return path if path.is_absolute() or path.exists() else bundle_dir / "configs" / path


def fake_spatial_shape(shape: Sequence[int | str], n: int = 1, p: int = 1, any: int = 1) -> tuple[int, ...]:
    """Evaluate a ``spatial_shape`` of ``network_data_format`` like ``verify_net_in_out`` does.

    Entries are ints, ``"*"`` (any size, replaced by ``any``) or expressions in ``n`` and ``p`` such as ``"32*n"`` or
    ``"2**p"``.

    Raises:
        ValueError: an entry is neither an int nor such an expression.
    """
    out = []
    for item in shape:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise ValueError(f"spatial_shape entries must be int or str, got {item!r}")
        if isinstance(item, int):
            out.append(item)
        elif item.strip() == "*":
            out.append(int(any))
        else:
            try:
                out.append(_eval_dim(ast.parse(item.strip(), mode="eval"), {"n": int(n), "p": int(p)}))
            except (SyntaxError, ValueError) as exc:
                raise ValueError(
                    f"spatial_shape entry {item!r} is not an int, '*' or an expression in n and p: {exc}"
                ) from exc
    return tuple(out)


def fake_input_shape(metadata: Mapping[str, Any], batch: int = 1, **kwargs: int) -> tuple[int, ...]:
    """``(batch, C, *spatial)`` of the first input of ``network_data_format`` (``kwargs``: ``n``, ``p``, ``any``)."""
    _, spec = next(iter(metadata["network_data_format"]["inputs"].items()))
    return (int(batch), int(spec["num_channels"]), *fake_spatial_shape(spec["spatial_shape"], **kwargs))


def _parser(bundle_dir: Path, config_file: str | os.PathLike, overrides: Mapping[str, Any] | None) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(_config_path(bundle_dir, config_file)))
    parser.read_meta(str(bundle_dir / "configs" / "metadata.json"))
    parser["bundle_root"] = str(bundle_dir)
    for key, value in (overrides or {}).items():
        parser[key] = value
    return parser


def _state_dict(ckpt_file: str | os.PathLike) -> Mapping[str, torch.Tensor]:
    checkpoint = torch.load(ckpt_file, map_location="cpu", weights_only=True)
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("model"), Mapping):
        return checkpoint["model"]
    return checkpoint


def build_network(
    bundle_dir: str | os.PathLike,
    config_file: str | os.PathLike = "inference.json",
    ckpt_file: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    net_id: str = "network_def",
) -> torch.nn.Module:
    """Instantiate a bundle's network definition in eval mode, optionally with weights (strict loading).

    Args:
        bundle_dir: the bundle folder.
        config_file: config name inside ``configs/`` (or a path).
        ckpt_file: weights, a state_dict or ``{"model": state_dict}`` (both written by MONAI's ``CheckpointSaver``).
        overrides: config id-value pairs applied before parsing, e.g. ``{"base_channels": 8}``.
        net_id: config id of the network definition.

    Returns:
        The network on the CPU, in eval mode.
    """
    bundle_dir = Path(bundle_dir)
    net = _parser(bundle_dir, config_file, overrides).get_parsed_content(net_id, instantiate=True)
    if ckpt_file is not None:
        net.load_state_dict(_state_dict(ckpt_file), strict=True)
    return net.eval()


def verify_network_shapes(
    bundle_dir: str | os.PathLike,
    config_file: str | os.PathLike = "inference.json",
    overrides: Mapping[str, Any] | None = None,
    n: int = 1,
    p: int = 1,
    any: int = 32,
) -> tuple[int, ...]:
    """Forward a random input shaped by ``network_data_format`` and check the output's channels, dtype and size.

    Args:
        bundle_dir: the bundle folder.
        config_file: config holding ``network_def``.
        overrides: config overrides (e.g. a smaller width for a quick check).
        n, p, any: values for ``n``, ``p`` and ``"*"`` in ``spatial_shape`` expressions.

    Returns:
        The output shape.

    Raises:
        ValueError: the output does not match the first output of ``network_data_format`` (channels, dtype, or a
            spatial size that the metadata fixes).
    """
    bundle_dir = Path(bundle_dir)
    metadata = load_metadata(bundle_dir)
    net = build_network(bundle_dir, config_file, overrides=overrides)
    in_key, in_spec = next(iter(metadata["network_data_format"]["inputs"].items()))
    out_key, out_spec = next(iter(metadata["network_data_format"]["outputs"].items()))
    shape = fake_input_shape(metadata, n=n, p=p, any=any)
    dtype = getattr(torch, in_spec.get("dtype", "float32"))
    with torch.no_grad():
        output = net(torch.rand(shape, dtype=dtype))
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"{bundle_dir}: eval-mode network_def returned {type(output).__name__}, expected a tensor")
    where = f"{bundle_dir}/configs/metadata.json network_data_format.outputs.{out_key}"
    if output.shape[1] != out_spec["num_channels"]:
        raise ValueError(f"{where}: num_channels {out_spec['num_channels']}, network gives {output.shape[1]}")
    if output.dtype != getattr(torch, out_spec.get("dtype", "float32")):
        raise ValueError(f"{where}: dtype {out_spec['dtype']}, network gives {output.dtype}")
    expected = [
        None if isinstance(s, str) and s.strip() == "*" else fake_spatial_shape([s], n=n, p=p)[0]
        for s in out_spec["spatial_shape"]
    ]
    actual = tuple(output.shape[2:])
    if len(actual) != len(expected) or _any_mismatch(actual, expected):
        raise ValueError(
            f"{where}: spatial_shape {out_spec['spatial_shape']} (= {expected} for input {in_key} {shape[2:]}), "
            f"network gives {actual}"
        )
    return tuple(output.shape)


def _any_mismatch(actual: Sequence[int], expected: Sequence[int | None]) -> bool:
    """Whether a fixed expected size differs from the actual one (``None`` matches anything)."""
    return any(e is not None and a != e for a, e in zip(actual, expected))


def export_torchscript(
    bundle_dir: str | os.PathLike,
    filepath: str | os.PathLike,
    ckpt_file: str | os.PathLike,
    config_file: str | os.PathLike = "inference.json",
    use_trace: bool | None = None,
    input_shape: Sequence[int] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> str:
    """Export ``network_def`` with weights to TorchScript through ``monai.bundle.ckpt_export``.

    Args:
        bundle_dir: the bundle folder (``bundle_root``; ``configs/metadata.json`` is embedded in the file).
        filepath: the ``.ts`` file to write.
        ckpt_file: weights to load (a state_dict or ``{"model": ...}``).
        config_file: config holding ``network_def`` (embedded in the file too).
        use_trace: ``False`` scripts, ``True`` traces with a random input of ``input_shape``; ``None`` scripts and
            falls back to tracing when scripting fails.
        input_shape: tracing input shape; default from ``network_data_format``.
        overrides: config overrides.

    Returns:
        ``"script"`` or ``"trace"``, the method that produced the file.
    """
    bundle_dir = Path(bundle_dir)
    common = dict(
        net_id="network_def",
        filepath=str(filepath),
        ckpt_file=str(ckpt_file),
        meta_file=str(bundle_dir / "configs" / "metadata.json"),
        config_file=str(_config_path(bundle_dir, config_file)),
        bundle_root=str(bundle_dir),
        **dict(overrides or {}),
    )
    if not use_trace:
        try:
            ckpt_export(use_trace=False, **common)
            return "script"
        except Exception as exc:  # torch.jit.script raises several error types (frontend, RuntimeError, ...)
            if use_trace is False:
                raise
            logger.warning(f"{bundle_dir}: scripting network_def failed ({type(exc).__name__}: {exc}); tracing")
    shape = list(input_shape) if input_shape is not None else list(fake_input_shape(load_metadata(bundle_dir)))
    ckpt_export(use_trace=True, input_shape=shape, **common)
    return "trace"


def export_onnx(
    bundle_dir: str | os.PathLike,
    filepath: str | os.PathLike,
    ckpt_file: str | os.PathLike,
    input_shape: Sequence[int] | None = None,
    config_file: str | os.PathLike = "inference.json",
    overrides: Mapping[str, Any] | None = None,
) -> str:
    """Export ``network_def`` with weights to ONNX through ``monai.bundle.onnx_export`` (needs onnx, onnxscript).

    With torch >= 2.9 the dynamo exporter is used and the graph has the static ``input_shape``.

    Returns:
        The written path.
    """
    bundle_dir = Path(bundle_dir)
    shape = list(input_shape) if input_shape is not None else list(fake_input_shape(load_metadata(bundle_dir)))
    onnx_export(
        net_id="network_def",
        filepath=str(filepath),
        ckpt_file=str(ckpt_file),
        meta_file=str(bundle_dir / "configs" / "metadata.json"),
        config_file=str(_config_path(bundle_dir, config_file)),
        input_shape=shape,
        bundle_root=str(bundle_dir),
        **dict(overrides or {}),
    )
    return str(filepath)


def run_torchscript(ts_file: str | os.PathLike, inputs: torch.Tensor) -> torch.Tensor:
    """Output of an exported TorchScript model (eval mode, no gradients)."""
    module = torch.jit.load(str(ts_file), map_location="cpu").eval()
    with torch.no_grad():
        return module(inputs)


def run_onnx(onnx_file: str | os.PathLike, inputs: torch.Tensor, backend: str | None = None) -> tuple[np.ndarray, str]:
    """Output of an ONNX model on ``inputs`` with onnxruntime, or ``onnx.reference`` when onnxruntime is missing.

    Args:
        onnx_file: the model.
        inputs: the single network input.
        backend: ``"onnxruntime"`` or ``"reference"``; default the first available.

    Returns:
        The first output and the backend used.
    """
    import onnx

    model = onnx.load(str(onnx_file))
    feed = {model.graph.input[0].name: inputs.detach().cpu().numpy()}
    if backend in (None, "onnxruntime"):
        try:
            import onnxruntime
        except ImportError:
            if backend == "onnxruntime":
                raise
        else:
            session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            return session.run(None, feed)[0], "onnxruntime"
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, feed)[0], "reference"
