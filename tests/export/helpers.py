"""Building nets with random weights and checking their ONNX file and .pt2 program against PyTorch."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from fer_caffe_compat.export import DeployModule, export_onnx, export_pt2, load_pt2, max_relative_error
from fer_caffe_compat.export.program import trace
from fer_caffe_compat.export.verify import run_onnx
from fer_caffe_compat.net import Net, load_net_param
from fer_caffe_compat.proto import caffe_pb2

TOLERANCE = 1e-5  # relative to each output's largest magnitude


def random_net(path: str | Path, batch: int | None = 1, seed: int = 0) -> Net:
    """The net of a prototxt at ``batch`` (None: as written), weights from its fillers (seeded), and
    BatchNorm statistics that keep random activations in range (see calibrate_batchnorm)."""
    p = load_net_param(path)
    for lp in p.layer:
        if lp.type == "Input" and batch is not None:
            for s in lp.input_param.shape:
                s.dim[0] = batch
    torch.manual_seed(seed)
    net = Net(p, phase=caffe_pb2.TEST)
    calibrate_batchnorm(net, DeployModule(net).example_inputs(seed=seed + 100))
    return net


def calibrate_batchnorm(net: Net, inputs: Sequence[torch.Tensor], factor: float = 7.5) -> None:
    """Give every BatchNorm the statistics of one forward pass on ``inputs`` (as Caffe's training
    forward records them; the variance plus 1), stored times ``factor`` in the mean and variance blobs
    with the scale-factor blob ``factor``: the exported graph must divide by it. Fillers leave the blobs
    at 0 (factor 0), and a deep net's random activations would then overflow; a near-constant channel
    divided by its tiny variance would amplify float32 round-off a hundredfold (the + 1)."""
    bns = [layer for lp, layer in zip(net.layer_params, net.layers) if lp.type == "BatchNorm"]
    if not bns:
        return
    for layer in bns:
        layer.use_global_stats, layer.maf = False, 0.0
    with torch.no_grad():
        net(dict(zip(net.input_names, inputs)))
        for layer in bns:
            layer.use_global_stats = True
            layer.blobs[1].add_(1.0)  # a channel of near-constant values would amplify round-off
            for b in layer.blobs:
                b.mul_(factor)


def softmax_inputs(net: Net) -> list[str]:
    """The blobs fed to a Softmax that gives an output: logits, compared too (a softmax near 1/K of
    random weights would hide differences)."""
    outs = set(net.output_names)
    return [lp.bottom[0] for lp in net.layer_params if lp.type == "Softmax" and lp.top[0] in outs]


def check_exports(module: DeployModule, tmp_path: Path, inputs: Sequence[torch.Tensor] | None = None,
                  dynamic_batch: bool = False, batches: Sequence[Sequence[torch.Tensor]] = ()) -> dict[str, float]:
    """Export ONNX and .pt2, run both on ``batches`` (default: fresh random inputs), assert every output
    within TOLERANCE of the PyTorch net; returns the largest error of each file."""
    program = trace(module, dynamic_batch=dynamic_batch, inputs=tuple(inputs) if inputs is not None else None)
    onnx_path, pt2_path = tmp_path / "net.onnx", tmp_path / "net.pt2"
    export_onnx(program, onnx_path, module.inputs, module.outputs, layer_of=module.layer_of)
    export_pt2(program, pt2_path)
    pt2 = load_pt2(pt2_path)
    worst = {"onnx": 0.0, "pt2": 0.0}
    for x in batches or [module.example_inputs(seed=1)]:
        with torch.no_grad():
            want = module(*x)
            got = {"onnx": run_onnx(onnx_path, x), "pt2": pt2(*x)}
        for kind, outs in got.items():
            assert len(outs) == len(want)
            for name, g, w in zip(module.outputs, outs, want):
                err = max_relative_error(g, w)
                assert err <= TOLERANCE, (f"{module.net.name}: {kind} blob {name} {list(w.shape)}: "
                                          f"max relative error {err:.2e}")
                worst[kind] = max(worst[kind], err)
    return worst
