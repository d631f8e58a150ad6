"""make bench, its memory-format and precision section: fp32/bf16 x NCHW/channels-last on LeNet-FER, AlexNet-48,
a VGG-style BatchNorm net and the reference ResNet-50, each on a frozen random batch."""
from __future__ import annotations

import os
from typing import Callable

from ..proto import caffe_pb2
from .bench import alternate, loop


VGG_BN = """name: "VGG_BN_44"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 44 dim: 44 } } }
""" + "".join(
    f"""layer {{ name: "conv{i}" type: "Convolution" bottom: "{b}" top: "conv{i}"
  convolution_param {{ num_output: {c} kernel_size: 3 pad: 1 bias_term: false weight_filler {{ type: "msra" }} }} }}
layer {{ name: "bn{i}" type: "BatchNorm" bottom: "conv{i}" top: "conv{i}" }}
layer {{ name: "scale{i}" type: "Scale" bottom: "conv{i}" top: "conv{i}" scale_param {{ bias_term: true }} }}
layer {{ name: "relu{i}" type: "ReLU" bottom: "conv{i}" top: "conv{i}" }}
""" + (f"""layer {{ name: "pool{i}" type: "Pooling" bottom: "conv{i}" top: "pool{i}"
  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
""" if i % 2 == 0 else "")
    for i, (b, c) in enumerate([("data", 32), ("conv1", 32), ("pool2", 64), ("conv3", 64), ("pool4", 128),
                                ("conv5", 128), ("pool6", 256), ("conv7", 256)], 1)) + """
layer { name: "fc" type: "InnerProduct" bottom: "pool8" top: "fc" inner_product_param { num_output: 7
  weight_filler { type: "msra" } } }
"""
# (name, net, batch, iterations per round)
OPTION_NETS = [("LeNet-FER", "nets/lenet_deploy.prototxt", 64, 5),
               ("AlexNet-48", "nets/alexnet_deploy.prototxt", 100, 3), ("VGG-BN-44 (8 conv+BN)", VGG_BN, 64, 3),
               ("ResNet-50 (reference, 224)", "nets/reference/resnet50_deploy.prototxt", 4, 1)]
_F32, _BF16 = caffe_pb2.SolverParameter.FLOAT32, caffe_pb2.SolverParameter.BF16
OPTIONS = [("fp32 NCHW", _F32, False), ("fp32 channels_last", _F32, True),
           ("bf16 NCHW", _BF16, False), ("bf16 channels_last", _BF16, True)]


def _dummy_train_net(path: str, batch: int) -> caffe_pb2.NetParameter:
    """The TRAIN net of ``path`` with its Data layers replaced by DummyData (gaussian images, labels 0..6)."""
    from ..net import load_net_param

    src = load_net_param(path)
    out = caffe_pb2.NetParameter(name=src.name)
    for lp in src.layer:
        if any(r.phase == caffe_pb2.TEST for r in lp.include):
            continue
        if lp.type == "Data":
            d = out.layer.add(name=lp.name, type="DummyData", top=list(lp.top))
            d.dummy_data_param.data_filler.add(type="gaussian", std=1.0)
            d.dummy_data_param.data_filler.add(type="uniform", min=0, max=6)
            d.dummy_data_param.shape.add(dim=[batch, 1, 48, 48])
            d.dummy_data_param.shape.add(dim=[batch])
        else:
            out.layer.add().CopyFrom(lp)
    return out


def trainable(net: str, batch: int) -> caffe_pb2.NetParameter:
    """A deploy net (Input on top) as a train net on a frozen random batch: DummyData in, SoftmaxWithLoss out."""
    from ..net import load_net_param
    from ..proto import parse_prototxt

    src = load_net_param(net) if net.endswith(".prototxt") else parse_prototxt(net, caffe_pb2.NetParameter())
    out = caffe_pb2.NetParameter(name=src.name)
    last = None
    for lp in src.layer:
        if lp.type == "Input":
            d = out.layer.add(name=lp.name, type="DummyData", top=[lp.top[0], "label"])
            d.dummy_data_param.data_filler.add(type="gaussian", std=1.0)
            d.dummy_data_param.data_filler.add(type="constant", value=1)
            d.dummy_data_param.shape.add(dim=[batch, *lp.input_param.shape[0].dim[1:]])
            d.dummy_data_param.shape.add(dim=[batch])
        elif lp.type == "Softmax":
            continue
        else:
            out.layer.add().CopyFrom(lp)
            if lp.type == "BatchNorm":  # a deploy net's BatchNorm uses its stored stats: train on the batch's
                out.layer[-1].batch_norm_param.ClearField("use_global_stats")
            last = lp.top[0]
    out.layer.add(name="loss", type="SoftmaxWithLoss", bottom=[last, "label"], top=["loss"])
    return out


def options_stepper(net: str, batch: int, precision: int, channels_last: bool) -> Callable[[], None]:
    from ..solver.solver import Solver

    p = caffe_pb2.SolverParameter(net_param=trainable(net, batch), base_lr=0.001, momentum=0.9,
                                  weight_decay=0.0005, lr_policy="fixed", max_iter=1 << 30, display=0,
                                  snapshot_after_train=False, random_seed=1, precision=precision,
                                  channels_last=channels_last)
    s = Solver(p, "bench")
    tops = [t.clone() for t in s.net.layers[0]()]
    s.net.layers[0].forward = lambda: tops
    return lambda: s.step(1)


def option_rows(a) -> list[tuple[str, float | None, str]]:
    rows = []
    for name, net, batch, iters in OPTION_NETS:
        if net.endswith(".prototxt") and not os.path.exists(net):
            continue
        med = alternate({label: loop(options_stepper(net, batch, prec, cl), iters, 1)
                         for label, prec, cl in OPTIONS}, a.rounds)
        base = med["fp32 NCHW"]
        rows.append((f"{name} batch {batch}: fp32 NCHW", base, "ms/iter"))
        for label, _, _ in OPTIONS[1:]:
            rows.append((f"{name}: {label} / fp32 NCHW", med[label] / base, "ratio"))
    return rows
