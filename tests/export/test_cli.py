"""tools/export: the files, their metadata, the preprocessing block, --check, and its one-line errors."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from fer_caffe_compat.cli import export
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval.predict import Predictor
from fer_caffe_compat.export import load_pt2
from fer_caffe_compat.export.verify import run_onnx

from ..cli.tool_run import assert_one_line_error, run_tool
from ..eval.tiny import DEPLOY, MEAN, SCALE, TRAIN_VAL, save_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_weights(tmp_path_factory.mktemp("export") / "tiny.caffemodel")


def _args(weights, *more) -> list[str]:
    return ["--model", str(DEPLOY), "--weights", str(weights), "--mean", str(MEAN), "--scale", str(SCALE),
            *map(str, more)]


def _meta(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def _face(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, 48, 48), dtype=np.uint8)


def test_dynamic_batch_files_pass_their_check(weights, tmp_path, capsys):
    onnx_path, pt2_path = tmp_path / "tiny.onnx", tmp_path / "tiny.pt2"
    assert export.main(_args(weights, "--onnx", onnx_path, "--pt2", pt2_path, "--batch", "dynamic",
                             "--check")) == 0
    out = capsys.readouterr().out
    assert out.count("max relative error") == 4  # two files, batches 1 and 3
    dim0 = onnx.load(onnx_path).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param and not dim0.dim_value
    assert load_pt2(pt2_path)(torch.zeros(5, 1, 48, 48))[0].shape == (5, 7)


def test_metadata_alone_is_enough_to_preprocess(weights, tmp_path):
    """Mean and scale read from the ONNX file, applied in numpy, give Predictor's probabilities."""
    path = tmp_path / "tiny.onnx"
    assert export.main(_args(weights, "--onnx", path)) == 0
    meta = _meta(path)
    assert json.loads(meta["caffe.labels"])[3] == "Happy" and json.loads(meta["caffe.outputs"]) == ["prob"]
    mean = np.asarray(json.loads(meta["caffe.mean"]), np.float32).reshape(json.loads(meta["caffe.mean_shape"]))
    face = _face()
    x = (face.astype(np.float32) - mean) * np.float32(float(meta["caffe.scale"]))
    got = run_onnx(path, [torch.from_numpy(x[None])])[0]
    want = Predictor(DEPLOY, weights, mean=MEAN, scale=SCALE, batch_size=1).predict([(face, "face")])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_with_preprocess_takes_raw_pixels(weights, tmp_path):
    path = tmp_path / "tiny_pre.onnx"
    assert export.main(_args(weights, "--onnx", path, "--with-preprocess", "--check")) == 0
    model = onnx.load(path)
    assert model.graph.input[0].name == "pixels" and _meta(path)["caffe.with_preprocess"] == "true"
    faces = [_face(s) for s in range(1)]
    got = run_onnx(path, [torch.from_numpy(np.stack(faces).astype(np.float32))])[0]
    want = Predictor(DEPLOY, weights, mean=MEAN, scale=SCALE, batch_size=1).predict([(f, "f") for f in faces])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_train_val_net_with_crop_exports_its_deploy_form(tmp_path):
    w = save_weights(tmp_path / "tiny44.caffemodel", side=44)
    path = tmp_path / "tv.onnx"
    assert export.main(["--model", str(TRAIN_VAL), "--weights", str(w), "--mean", str(MEAN), "--onnx", str(path),
                        "--with-preprocess", "--check"]) == 0
    dims = [d.dim_value for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 48, 48]  # raw pixels at the mean's size; the graph crops 44x44
    assert json.loads(_meta(path)["caffe.input_chw"]) == [1, 44, 44]


@pytest.mark.parametrize("args, fragment", [
    ((), "--onnx FILE and/or --pt2 FILE"),
    (("--onnx", "a.onnx", "--batch", "0"), "--batch 0"),
    (("--onnx", "a.onnx", "--output", "nope"), "nope"),
])
def test_bad_arguments_are_caffe_errors(weights, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CaffeError, match=fragment):
        export.main(_args(weights, *args))
    assert not list(tmp_path.glob("*.onnx"))


def test_a_layer_that_cannot_be_exported_is_one_line_naming_it(tmp_path):
    net = tmp_path / "embed_deploy.prototxt"
    net.write_text('layer { name: "ids" type: "Input" top: "ids" input_param { shape { dim: 1 dim: 1 dim: 4 '
                   'dim: 4 } } }\nlayer { name: "lookup" type: "Embed" bottom: "ids" top: "emb" '
                   'embed_param { num_output: 3 input_dim: 5 } }\n')
    w = tmp_path / "embed.caffemodel"
    from fer_caffe_compat.net import Net
    Net.from_file(net).save_caffemodel(w)
    proc = run_tool("export", "--model", net, "--weights", w, "--onnx", tmp_path / "e.onnx")
    assert_one_line_error(proc, "export", "layer lookup (Embed): cannot be exported", "depends on the values")
    assert not (tmp_path / "e.onnx").exists()
