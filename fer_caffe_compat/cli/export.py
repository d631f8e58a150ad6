"""tools/export: a deploy net and its weights as an ONNX file and/or a torch.export program (.pt2).

    tools/export --model nets/lenet_deploy.prototxt --weights W.caffemodel --onnx lenet.onnx \\
                 [--pt2 lenet.pt2] [--batch N|dynamic] [--mean mean.binaryproto --scale 0.00390625]
                 [--with-preprocess] [--check]

The preprocessing (mean, scale, crop; from the flags or the model's transform_param) is written into the
ONNX file as metadata ("caffe.*" keys) and into the .pt2 as caffe_metadata.json; with --with-preprocess the
graph itself takes raw pixels (0..255, at the mean image's size) and applies it. --check runs both files on
random inputs (onnxruntime, torch) and prints the largest difference from the PyTorch net, relative to the
output's largest magnitude; above 1e-5 it is an error.
"""
from __future__ import annotations

import json
import os

import torch

from ..errors import CaffeError
from ..eval.labels import class_names
from ..export import DeployModule, Preprocess, export_onnx, export_pt2, load_pt2, max_relative_error
from ..export.onnx_file import OPSET, quiet
from ..export.program import trace
from ..export.verify import run_onnx
from .common import ArgumentParser, run
from .net_args import add_model_args, make_predictor

TOLERANCE = 1e-5


def parse(argv: list[str]):
    p = ArgumentParser(prog="export", description=__doc__.split("\n")[0])
    add_model_args(p, batch=False)
    p.add_argument("--onnx", help="ONNX file to write")
    p.add_argument("--pt2", help="torch.export program to write (torch.export.load reads it)")
    p.add_argument("--batch", default="1", help="the batch the files take: a number (1), or 'dynamic'")
    p.add_argument("--with-preprocess", action="store_true",
                   help="the graph takes raw pixels and subtracts the mean, scales and crops itself")
    p.add_argument("--labels", help="class names, one per line, for the metadata (default: FER's seven)")
    p.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset ({OPSET})")
    p.add_argument("--check", action="store_true", help="compare the files with the PyTorch net on random "
                                                        "inputs (ONNX through onnxruntime)")
    return p.parse_args(argv)


def _batch(value: str) -> tuple[int, bool]:
    if value == "dynamic":
        return 2, True  # traced at 2: a batch of 1 would be taken for a constant
    if not value.isdigit() or int(value) < 1:
        raise CaffeError(f"--batch {value}: expected a positive number or 'dynamic'")
    return int(value), False


def main(argv: list[str]) -> int:
    args = parse(argv)
    if not args.onnx and not args.pt2:
        raise CaffeError("nothing to write: give --onnx FILE and/or --pt2 FILE")
    args.batch_size, dynamic = _batch(args.batch)
    pred = make_predictor(args)
    outputs = [args.output] if args.output else None
    pre = Preprocess.from_predictor(pred)
    module = DeployModule(pred.net, outputs, preprocess=pre if args.with_preprocess else None)
    names = class_names(args.labels, pred.num_classes)
    inputs = ["pixels" if args.with_preprocess else module.inputs[0], *module.inputs[1:]]
    meta = {"caffe.model": os.path.basename(args.model), "caffe.weights": os.path.basename(args.weights),
            "caffe.inputs": json.dumps(inputs), "caffe.outputs": json.dumps(module.outputs),
            "caffe.batch": "dynamic" if dynamic else str(args.batch_size),
            "caffe.with_preprocess": json.dumps(bool(args.with_preprocess)),
            "caffe.labels": json.dumps(names), "caffe.softmax_in_graph": json.dumps(not pred.softmax),
            **pre.metadata()}
    with quiet():
        program = trace(module, dynamic_batch=dynamic)
    if args.onnx:
        export_onnx(program, args.onnx, inputs, module.outputs, meta, args.opset, layer_of=module.layer_of)
        print(f"export: wrote {args.onnx}")
    if args.pt2:
        export_pt2(program, args.pt2, {"caffe_metadata.json": json.dumps(meta)})
        print(f"export: wrote {args.pt2}")
    if args.check:
        check(module, args.onnx, args.pt2, [1, 3] if dynamic else [None])
    return 0


def check(module: DeployModule, onnx_path: str | None, pt2_path: str | None, batches: list[int | None]) -> None:
    """Print each file's largest relative difference from the PyTorch net; fail above TOLERANCE."""
    pt2 = load_pt2(pt2_path) if pt2_path else None
    for b in batches:
        x = module.example_inputs(seed=1, batch=b)
        with torch.no_grad():
            want = module(*x)
            got = {}
            if onnx_path:
                got[onnx_path] = run_onnx(onnx_path, x)
            if pt2 is not None:
                got[pt2_path] = pt2(*x)
        for path, outs in got.items():
            for name, g, w in zip(module.outputs, outs, want):
                err = max_relative_error(g, w)
                batch = f" batch {w.shape[0]}" if b is not None else ""
                print(f"export: check {path}{batch} {name}: max relative error {err:.2e}")
                if not err <= TOLERANCE:
                    raise CaffeError(f"{path}: blob {name} differs from the PyTorch net by {err:.2e} "
                                     f"(relative), over {TOLERANCE:g}")


if __name__ == "__main__":
    run(main, "export")
