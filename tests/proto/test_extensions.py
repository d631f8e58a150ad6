"""Extensions are exactly what Caffe 1.0's parser would refuse: checked against a Caffe-only schema made by
stripping every extension from ours, over every prototxt in the repository."""
from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

from fer_caffe_compat.proto import caffe_pb2
from fer_caffe_compat.proto.extensions import (FIRST_EXTENSION_FIELD, extension_fields, net_extensions,
                                               solver_extensions, solver_file_extensions)
from tests.cli.tool_run import run_tool
from tests.conftest import ROOT

EXTENSION_MESSAGES = {"AugmentationParameter"}


def _caffe10_classes() -> dict[str, type]:
    """caffe.proto without the extension fields and messages: Caffe 1.0's schema as far as ours goes."""
    fdp = descriptor_pb2.FileDescriptorProto()
    caffe_pb2.DESCRIPTOR.CopyToProto(fdp)
    fdp.name = "caffe10_stripped.proto"
    fdp.package = "caffe10"
    keep = [m for m in fdp.message_type if m.name not in EXTENSION_MESSAGES]
    del fdp.message_type[:]
    fdp.message_type.extend(keep)
    for m in fdp.message_type:
        fields = [f for f in m.field if f.number < FIRST_EXTENSION_FIELD]
        del m.field[:]
        m.field.extend(fields)
        for f in m.field:
            if f.type_name:
                f.type_name = f.type_name.replace(".caffe.", ".caffe10.")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"caffe10.{m.name}"))
            for m in fdp.message_type}


CAFFE10 = _caffe10_classes()


def caffe10_parses(text: str, kind: str) -> bool:
    try:
        text_format.Parse(text, CAFFE10[kind]())
        return True
    except text_format.ParseError:
        return False


PROTOTXTS = sorted(p for d in ("nets", "solvers") for p in (ROOT / d).rglob("*.prototxt"))


def _kind(path) -> str:
    solver = "solver" in path.name or path.parent.name == "solvers"
    return "SolverParameter" if solver else "NetParameter"


@pytest.mark.parametrize("path", PROTOTXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_extensions_found_are_what_caffe10_cannot_parse(path):
    text, kind = path.read_text(), _kind(path)
    found = extension_fields(text_format.Parse(text, getattr(caffe_pb2, kind)()))
    assert caffe10_parses(text, kind) == (not found), found


def test_every_extension_field_is_found_and_named():
    net = text_format.Parse('''
      layer { name: "data" type: "Data" top: "data" transform_param { augment { rotate_degrees: 10 } }
              data_param { cache_mb: 100 } }
      layer { name: "loss" type: "SoftmaxWithLoss" loss_param { label_smoothing: 0.1 } }
      layer { name: "c" type: "Clip" clip_param { min: 0 max: 1 } }''', caffe_pb2.NetParameter())
    assert net_extensions(net) == ["layer[data].transform_param.augment", "layer[data].data_param.cache_mb",
                                   "layer[loss].loss_param.label_smoothing",
                                   "layer[c].type: Clip (added to Caffe after 1.0)"]
    solver = caffe_pb2.SolverParameter(lr_policy="onecycle", ema_decay=0.999, warmup_iter=5)
    assert solver_extensions(solver) == ["warmup_iter", "ema_decay", 'lr_policy: "onecycle"']
    assert solver_extensions(caffe_pb2.SolverParameter(lr_policy="step", base_lr=0.1)) == []


def test_caffe_compatible_flag(tmp_path):
    ok = run_tool("train", "--solver", ROOT / "solvers/lenet_solver.prototxt", "--caffe-compatible")
    assert ok.returncode == 0 and "Caffe 1.0 would load" in ok.stdout, ok.stderr
    net = tmp_path / "net.prototxt"
    net.write_text('layer { name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "l" '
                   'loss_param { label_smoothing: 0.1 } }\n')
    solver = tmp_path / "solver.prototxt"
    solver.write_text(f'net: "{net}"\nbase_lr: 0.1\nlr_policy: "cosine"\nmax_iter: 10\n')
    bad = run_tool("train", "--solver", solver, "--caffe-compatible")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert 'lr_policy: "cosine"' in bad.stdout and "layer[loss].loss_param.label_smoothing" in bad.stdout
    assert solver_file_extensions(str(solver)) == [f'{solver}: lr_policy: "cosine"',
                                                   f"{net}: layer[loss].loss_param.label_smoothing"]
