"""Caffe's upgrade_proto for nets: what UpgradeNetAsNeeded does to an old NetParameter.

* V1 ``layers { type: CONVOLUTION blobs_lr: 1 }`` -> ``layer { type: "Convolution" param { lr_mult: 1 } }``
  (UpgradeV1Net): the type enum becomes the type string, ``param`` names / ``blob_share_mode`` /
  ``blobs_lr`` / ``weight_decay`` become ParamSpec name / share_mode / lr_mult / decay_mult, and every
  ``*_param`` message is carried over unchanged.
* Net inputs (``input:`` with ``input_dim`` or ``input_shape``) -> an ``Input`` layer named "input"
  (UpgradeNetInput).
* BatchNorm layers declaring three ParamSpecs get lr_mult 0 and decay_mult 0 (UpgradeNetBatchNorm).
"""
from __future__ import annotations

from . import log
from .errors import CaffeError
from .proto import caffe_pb2

_V1 = caffe_pb2.V1LayerParameter
V1_TYPE_NAMES = {
    _V1.NONE: "", _V1.ABSVAL: "AbsVal", _V1.ACCURACY: "Accuracy", _V1.ARGMAX: "ArgMax",
    _V1.BNLL: "BNLL", _V1.CONCAT: "Concat", _V1.CONTRASTIVE_LOSS: "ContrastiveLoss",
    _V1.CONVOLUTION: "Convolution", _V1.DECONVOLUTION: "Deconvolution", _V1.DATA: "Data",
    _V1.DROPOUT: "Dropout", _V1.DUMMY_DATA: "DummyData", _V1.EUCLIDEAN_LOSS: "EuclideanLoss",
    _V1.ELTWISE: "Eltwise", _V1.EXP: "Exp", _V1.FLATTEN: "Flatten", _V1.HDF5_DATA: "HDF5Data",
    _V1.HDF5_OUTPUT: "HDF5Output", _V1.HINGE_LOSS: "HingeLoss", _V1.IM2COL: "Im2col",
    _V1.IMAGE_DATA: "ImageData", _V1.INFOGAIN_LOSS: "InfogainLoss", _V1.INNER_PRODUCT: "InnerProduct",
    _V1.LRN: "LRN", _V1.MEMORY_DATA: "MemoryData",
    _V1.MULTINOMIAL_LOGISTIC_LOSS: "MultinomialLogisticLoss", _V1.MVN: "MVN", _V1.POOLING: "Pooling",
    _V1.POWER: "Power", _V1.RELU: "ReLU", _V1.SIGMOID: "Sigmoid",
    _V1.SIGMOID_CROSS_ENTROPY_LOSS: "SigmoidCrossEntropyLoss", _V1.SILENCE: "Silence",
    _V1.SOFTMAX: "Softmax", _V1.SOFTMAX_LOSS: "SoftmaxWithLoss", _V1.SPLIT: "Split", _V1.SLICE: "Slice",
    _V1.TANH: "TanH", _V1.WINDOW_DATA: "WindowData", _V1.THRESHOLD: "Threshold",
}

# V1 repeated fields copied verbatim (same name and type in LayerParameter).
# UpgradeSolverType: the legacy SolverParameter.solver_type enum as the type string (torch-free, so that
# upgrade_solver_proto_text starts without torch; solver/updates.py reads it too).
_S = caffe_pb2.SolverParameter
SOLVER_TYPE_NAMES = {_S.SGD: "SGD", _S.NESTEROV: "Nesterov", _S.ADAGRAD: "AdaGrad", _S.RMSPROP: "RMSProp",
                     _S.ADADELTA: "AdaDelta", _S.ADAM: "Adam"}
_REPEATED = ("bottom", "top", "include", "exclude", "blobs", "loss_weight")
# V1 per-blob lists -> the ParamSpec field of the same blob.
_PARAM_SPEC_FIELDS = (("param", "name"), ("blob_share_mode", "share_mode"), ("blobs_lr", "lr_mult"),
                      ("weight_decay", "decay_mult"))
_PARAM_FIELDS = tuple(f.name for f in _V1.DESCRIPTOR.fields
                      if f.name.endswith("_param") and f.name in caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name)


def upgrade_v1_layer(v1: caffe_pb2.V1LayerParameter, source: str) -> caffe_pb2.LayerParameter:
    """UpgradeV1LayerParameter."""
    if v1.HasField("layer"):
        raise CaffeError(f"{source}: layer {v1.name or '?'} uses the V0 'layer' form, which is not "
                         "supported (upgrade it with Caffe's upgrade_net_proto_text first)")
    out = caffe_pb2.LayerParameter()
    if v1.HasField("name"):
        out.name = v1.name
    for f in _REPEATED:
        getattr(out, f).extend(getattr(v1, f))
    if v1.HasField("type"):
        out.type = V1_TYPE_NAMES.get(v1.type, "")
    for v1_field, spec_field in _PARAM_SPEC_FIELDS:
        for i, value in enumerate(getattr(v1, v1_field)):
            while len(out.param) <= i:
                out.param.add()
            setattr(out.param[i], spec_field, value)
    for f in _PARAM_FIELDS:
        if v1.HasField(f):
            getattr(out, f).CopyFrom(getattr(v1, f))
    _upgrade_data_transformation(out)
    return out


def _upgrade_data_transformation(layer: caffe_pb2.LayerParameter) -> None:
    """UpgradeNetDataTransformation: V1 data layers kept scale/mean_file/crop_size/mirror in their
    own parameter; they move to transform_param."""
    for holder in ("data_param", "image_data_param", "window_data_param"):
        if not layer.HasField(holder):
            continue
        p = getattr(layer, holder)
        for f in ("scale", "mean_file", "crop_size", "mirror"):
            if f in p.DESCRIPTOR.fields_by_name and p.HasField(f):
                setattr(layer.transform_param, f, getattr(p, f))
                p.ClearField(f)


def _needs_input_upgrade(p: caffe_pb2.NetParameter) -> bool:
    return len(p.input) > 0


def _upgrade_input(p: caffe_pb2.NetParameter, source: str) -> None:
    """UpgradeNetInput: net inputs become the tops of one Input layer, placed first."""
    if len(p.input_dim) and len(p.input_shape):
        raise CaffeError(f"{source}: give either input_shape or the deprecated input_dim, not both")
    if len(p.input_dim):
        if len(p.input_dim) != 4 * len(p.input):
            raise CaffeError(f"{source}: {len(p.input)} inputs need {4 * len(p.input)} input_dim values, "
                             f"found {len(p.input_dim)}")
    elif len(p.input_shape) not in (0, len(p.input)):
        raise CaffeError(f"{source}: exactly one input_shape must be given per input "
                         f"({len(p.input)} inputs, {len(p.input_shape)} input_shape)")
    layer = caffe_pb2.LayerParameter(name="input", type="Input")
    for i, name in enumerate(p.input):
        layer.top.append(name)
        shape = layer.input_param.shape.add()
        if len(p.input_dim):
            shape.dim.extend(p.input_dim[4 * i: 4 * i + 4])
        elif len(p.input_shape):
            shape.CopyFrom(p.input_shape[i])
    layers = [layer, *p.layer]
    del p.layer[:]
    p.layer.extend(layers)
    del p.input[:]
    del p.input_dim[:]
    del p.input_shape[:]


def upgrade_net_param(p: caffe_pb2.NetParameter, source: str = "net") -> caffe_pb2.NetParameter:
    """UpgradeNetAsNeeded, in place; returns ``p``."""
    if len(p.layers):
        if len(p.layer):
            raise CaffeError(f"{source}: refusing to upgrade an inconsistent NetParameter: it has both "
                             "'layer' and 'layers' (V1) fields")
        log.info("upgrade_proto.cpp:53",
                 f"Attempting to upgrade input file specified using deprecated V1LayerParameter: {source}")
        for v1 in p.layers:
            p.layer.add().CopyFrom(upgrade_v1_layer(v1, source))
        del p.layers[:]
        log.info("upgrade_proto.cpp:61",
                 "Successfully upgraded file specified using deprecated V1LayerParameter")
    if _needs_input_upgrade(p):
        log.info("upgrade_proto.cpp:67",
                 f"Attempting to upgrade input file specified using deprecated input fields: {source}")
        _upgrade_input(p, source)
        log.info("upgrade_proto.cpp:70", "Successfully upgraded file specified using deprecated input fields.")
        log.warning("upgrade_proto.cpp:72",
                    "Note that future Caffe releases will only support input layers and not input fields.")
    for layer in p.layer:
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            for spec in layer.param:
                spec.lr_mult = 0.0
                spec.decay_mult = 0.0
    return p
