"""tools/visualize: what a trained net sees, as PNGs.

    tools/visualize --model M --weights W --layer conv1 --out filters.png        the layer's filters
    tools/visualize --model M --weights W --blob conv1 --image face.png --out maps.png   a blob's maps
"""
from __future__ import annotations

import os

import cv2

from ..errors import CaffeError
from ..eval import visualize as vis
from ..io.blob import blob_shape, blob_to_array
from ..io.caffemodel import read_caffemodel
from ..net import load_net_param
from .common import ArgumentParser, run
from .net_args import add_model_args, make_predictor

CONV = ("Convolution", "Deconvolution")


def parse(argv: list[str]):
    p = ArgumentParser(prog="visualize", description=__doc__.split("\n")[0])
    add_model_args(p, batch=False)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--layer", help="convolution layer whose filters to draw")
    what.add_argument("--blob", help="blob whose feature maps to draw (needs --image)")
    p.add_argument("--image", help="input image for --blob (a face crop, or any image: it is resized)")
    p.add_argument("--out", required=True, help="PNG to write")
    return p.parse_args(argv)


def filters(model: str, weights: str, layer: str):
    convs = [l.name for l in load_net_param(model).layer if l.type in CONV]
    if layer not in convs:
        raise CaffeError(f"{model}: no convolution layer named {layer!r} (convolution layers: "
                         f"{', '.join(convs) or 'none'})")
    found = None
    for w in weights.split(","):
        for lp in read_caffemodel(w).layer:
            if lp.name == layer and len(lp.blobs):
                found = (w, lp.blobs[0])
    if found is None:
        raise CaffeError(f"{weights}: holds no weights for layer {layer}")
    w, b = found
    return blob_to_array(b, f"{w}: layer {layer}").reshape(blob_shape(b))


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.layer:
        img = vis.filter_grid(filters(args.model, args.weights, args.layer), args.layer)
    else:
        if not args.image:
            raise CaffeError("--blob needs --image")
        raw = cv2.imread(args.image, cv2.IMREAD_COLOR)
        if raw is None:
            what = "no such file" if not os.path.exists(args.image) else "not an image (OpenCV cannot decode it)"
            raise CaffeError(f"{args.image}: {what}")
        pred = make_predictor(args, (3, *raw.shape[:2]))
        blobs = pred.blobs(pred.fit_image(raw), args.image)
        if args.blob not in blobs:
            raise CaffeError(f"{args.model}: no blob named {args.blob!r} (blobs: {', '.join(blobs)})")
        img = vis.feature_map_grid(blobs[args.blob][0].numpy(), args.blob)
    vis.save_png(args.out, img)
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]})")
    return 0


if __name__ == "__main__":
    run(main, "visualize")
