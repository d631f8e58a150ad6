"""tools/draw_net: a net prototxt drawn as a graph with graphviz, as Caffe's python/draw_net.py.

The one drawing path is eval/draw.py, which caffe.draw (pycaffe) also calls.

    tools/draw_net nets/lenet_train_test.prototxt lenet.png --rankdir TB --phase TEST
"""
from __future__ import annotations

from ..eval.draw import RANKDIRS, render
from ..net import load_net_param
from ..proto import caffe_pb2
from .common import ArgumentParser, run

PHASES = {"TRAIN": caffe_pb2.TRAIN, "TEST": caffe_pb2.TEST, "ALL": None}


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="draw_net", description=__doc__.split("\n")[0])
    p.add_argument("input_net_proto_file", help="net prototxt")
    p.add_argument("output_image_file", help="picture to write; its extension is the format (png, svg, pdf, dot)")
    p.add_argument("--rankdir", default="LR", choices=RANKDIRS, help="direction of the graph (LR)")
    p.add_argument("--phase", default="ALL", type=str.upper, choices=list(PHASES),
                   help="draw only the layers of this phase (ALL)")
    p.add_argument("--display_lrm", action="store_true",
                   help="show the learning rate multipliers of Convolution, Deconvolution and InnerProduct layers")
    args = p.parse_args(argv)
    net = load_net_param(args.input_net_proto_file)
    print(f"Drawing net to {args.output_image_file}")
    render(net, args.output_image_file, args.rankdir, PHASES[args.phase], args.display_lrm)
    return 0


if __name__ == "__main__":
    run(main, "draw_net")
