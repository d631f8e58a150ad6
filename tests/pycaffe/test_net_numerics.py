"""caffe.Net forward/backward numbers against real pycaffe (fixtures/pycaffe/numerics): full passes, partial
passes over layer ranges, accumulation of param diffs, loss weights in the loss blob's diff, forward_all,
forward_backward_all, reshape, BatchNorm in both phases, shared weights."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import caffe

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "pycaffe" / "numerics"
J = json.loads((HERE / "numerics.json").read_text())
R = dict(np.load(HERE / "numerics.npz"))
I = dict(np.load(HERE / "inputs.npz"))


def close(got, want, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=what)


def param_diffs(net) -> dict:
    return {f"{k}/{i}": b.diff.copy() for k, v in net.params.items() for i, b in enumerate(v)}


def numnet(phase=caffe.TRAIN):
    return caffe.Net(str(HERE / "numnet.prototxt"), phase, weights=str(HERE / "numnet.caffemodel"))


def test_forward_and_backward_match_pycaffe():
    net = numnet()
    assert list(net.blobs) == J["numnet_blobs"] and net.outputs == J["numnet_outputs"]
    assert float(net.blobs["loss"].diff) == J["loss_blob_diff_after_construction"]
    net.blobs["data"].data[...] = I["data_A"]
    net.blobs["label"].data[...] = I["label_A"]
    fw = net.forward()
    assert sorted(fw) == J["forward()_keys"]
    assert all(np.shares_memory(v, net.blobs[k].data) for k, v in fw.items())
    for k, v in fw.items():
        close(v, R["forward_return/" + k], "forward " + k)
    for k, b in net.blobs.items():
        close(b.data, R["data/" + k], "data " + k)
    bw = net.backward()
    assert sorted(bw) == J["backward()_keys"]
    for k, b in net.blobs.items():
        close(b.diff, R["diff/" + k], "diff " + k)
    for k, v in param_diffs(net).items():
        close(v, R["param_diff/" + k], "param diff " + k)
    assert np.shares_memory(net.blobs["ip2_ip2_0_split_0"].data, net.blobs["ip2"].data)
    assert not np.shares_memory(net.blobs["ip2_ip2_0_split_0"].diff, net.blobs["ip2"].diff)
    first = param_diffs(net)
    net.backward()  # param diffs accumulate, blob diffs are overwritten
    for k, v in param_diffs(net).items():
        close(v, 2 * first[k], "accumulated " + k)
    net.clear_param_diffs()
    assert not any(v.any() for v in param_diffs(net).values())


@pytest.mark.parametrize("weight", [0.0, 3.0])
def test_loss_blob_diff_is_the_loss_weight(weight):
    net = numnet()
    net.forward(data=I["data_A"], label=I["label_A"])
    net.blobs["loss"].diff[...] = weight
    net.backward()
    for k, v in param_diffs(net).items():
        close(v, weight * R["param_diff/" + k], f"loss diff {weight}: {k}")


def test_forward_and_backward_return_keys_match_pycaffe():
    net = numnet()
    net.forward(data=I["data_A"], label=I["label_A"])
    calls = {"forward()": {}, "forward(blobs=['conv1','pool1'])": {"blobs": ["conv1", "pool1"]},
             "forward(end='ip1')": {"end": "ip1"}, "forward(start='ip1')": {"start": "ip1"},
             "forward(start='pool1', end='ip2')": {"start": "pool1", "end": "ip2"},
             "forward(end='ip2', blobs=['data'])": {"end": "ip2", "blobs": ["data"]}}
    for desc, kw in calls.items():
        assert sorted(net.forward(**kw)) == J["forward_keys"][desc], desc
    back = {"backward()": {}, "backward(diffs=['conv1','ip1'])": {"diffs": ["conv1", "ip1"]},
            "backward(end='ip1')": {"end": "ip1"}, "backward(start='ip2', end='pool1')": {"start": "ip2", "end": "pool1"}}
    for desc, kw in back.items():
        assert sorted(net.backward(**kw)) == J["backward_keys"][desc], desc


def test_partial_forward_sequence_matches_full_pass():
    net = numnet()
    net.forward(data=I["data_A"], label=I["label_A"])
    net.blobs["data"].data[...] = I["data_B"]
    net.blobs["label"].data[...] = I["label_B"]
    calls = [{"end": "relu1"}, {"start": "pool1", "end": "ip1"}, {"start": "tanh1", "end": "ip2"}, {"start": "prob"}]
    for k, (kw, step) in enumerate(zip(calls, J["partial_forward_sequence"]["steps"])):
        before = {n: b.data.copy() for n, b in net.blobs.items()}
        assert sorted(net.forward(**kw)) == step["return_keys"], step["call"]
        changed = [n for n, b in net.blobs.items() if not np.array_equal(before[n], b.data)]
        assert changed == step["changed_blobs"], step["call"]
        for n, b in net.blobs.items():
            close(b.data, R[f"partial_forward/{k}/{n}"], f"{step['call']}: {n}")


def test_partial_backward_sequence_matches_full_pass():
    net = numnet()
    net.forward(data=I["data_A"], label=I["label_A"])
    for n, b in net.blobs.items():
        if n != "loss":
            b.diff[...] = 0
    calls = [{"start": "loss", "end": "ip2"}, {"start": "tanh1", "end": "pool1"}, {"start": "relu1"}]
    for kw, step in zip(calls, J["partial_backward_sequence"]["steps"]):
        before, pbefore = {n: b.diff.copy() for n, b in net.blobs.items()}, param_diffs(net)
        assert sorted(net.backward(**kw)) == step["return_keys"], step["call"]
        assert [n for n, b in net.blobs.items() if not np.array_equal(before[n], b.diff)] == step["changed_blob_diffs"]
        assert [k for k, v in param_diffs(net).items() if not np.array_equal(pbefore[k], v)] == step["changed_param_diffs"]
    for n, b in net.blobs.items():  # the three ranges together are the full backward
        close(b.diff, R["diff/" + n], "diff " + n)
    for k, v in param_diffs(net).items():
        close(v, R["param_diff/" + k], "param diff " + k)


def test_forward_all_and_forward_backward_all_match_pycaffe():
    dn = caffe.Net(str(HERE / "numnet_deploy.prototxt"), caffe.TEST, weights=str(HERE / "numnet.caffemodel"))
    close(dn.forward_all(data=I["X10"])["prob"], R["forward_all/X10/prob"], "forward_all X10")
    close(dn.blobs["prob"].data, R["forward_all/X10/last_batch_prob_blob"], "last padded batch")
    got = dn.forward_all(data=I["X10"], blobs=["ip1", "conv1"])
    for k in ("prob", "ip1", "conv1"):
        close(got[k], R["forward_all/X10_blobs/" + k], "forward_all blobs " + k)
    close(dn.forward_all(data=I["X3"])["prob"], R["forward_all/X3/prob"], "forward_all X3")
    outs, diffs = dn.forward_backward_all(data=I["X10"], prob=I["D10"])
    close(outs["prob"], R["forward_backward_all/outs/prob"], "fba outs")
    close(diffs["data"], R["forward_backward_all/diffs/data"], "fba diffs")
    # Departure: without inputs pycaffe raises StopIteration; here one pass's outputs come back.
    assert dn.forward_all()["prob"].shape == (4, 3)


def test_reshape_matches_pycaffe():
    dn = caffe.Net(str(HERE / "numnet_deploy.prototxt"), caffe.TEST, weights=str(HERE / "numnet.caffemodel"))
    rj = J["reshape"]
    dn.blobs["data"].reshape(2, 3, 8, 8)
    assert {k: list(b.shape) for k, b in dn.blobs.items()} == rj["shapes_after_data_reshape_only"]
    dn.reshape()
    assert {k: list(b.shape) for k, b in dn.blobs.items()} == rj["shapes_after_net_reshape"]
    dn.blobs["data"].data[...] = I["X10"][:2]
    close(dn.forward()["prob"], R["reshape/batch2/prob"], "batch 2")
    dn.blobs["data"].reshape(6, 3, 8, 8)
    dn.blobs["data"].data[...] = I["X10"][:6]
    close(dn.forward()["prob"], R["reshape/batch6_no_net_reshape/prob"], "batch 6")
    assert {k: list(b.shape) for k, b in dn.blobs.items()} == rj["shapes_after_data_reshape_6_and_forward_without_net_reshape"]


@pytest.mark.parametrize("phase", ["TEST", "TRAIN"])
def test_batchnorm_scale_eltwise_match_pycaffe(phase):
    net = caffe.Net(str(HERE / "bn_eltwise.prototxt"), getattr(caffe, phase), weights=str(HERE / "bn_eltwise.caffemodel"))
    for it, key in enumerate(("bn_data", "bn_data2")):
        net.blobs["data"].data[...] = I[key]
        net.forward()
        for k, b in net.blobs.items():
            close(b.data, R[f"bn/{phase}/forward{it}/data/{k}"], f"{phase} forward {it} {k}")
        for k, v in net.params.items():
            for i, b in enumerate(v):
                close(b.data, R[f"bn/{phase}/forward{it}/param/{k}/{i}"], f"{phase} forward {it} param {k}/{i}")
    net.clear_param_diffs()
    assert sorted(net.backward(ip=I["bn_top_diff"])) == J["bn_eltwise"][phase + "_backward_return_keys"]
    for k, b in net.blobs.items():
        close(b.diff, R[f"bn/{phase}/backward/diff/{k}"], f"{phase} backward {k}")
    for k, v in param_diffs(net).items():
        close(v, R[f"bn/{phase}/backward/param_diff/{k}"], f"{phase} param diff {k}")


def test_shared_weights_match_pycaffe(tmp_path):
    sn = caffe.Net(str(HERE / "shared.prototxt"), caffe.TRAIN, weights=str(HERE / "shared.caffemodel"))
    sj = J["shared"]
    assert list(sn.params) == sj["params_keys"]
    assert np.shares_memory(sn.params["ip_a"][0].data, sn.params["ip_b"][0].data) == sj["w_shared_data_same_memory"]
    assert np.shares_memory(sn.params["ip_a"][0].diff, sn.params["ip_b"][0].diff) == sj["w_shared_diff_same_memory"]
    sn.blobs["data"].data[...] = I["shared_data"]
    assert float(sn.forward()["loss"]) == pytest.approx(sj["loss"], rel=1e-5)
    sn.backward()
    for k, b in sn.blobs.items():
        close(b.data, R["shared/data/" + k], "shared data " + k)
        close(b.diff, R["shared/diff/" + k], "shared diff " + k)
    for k, v in param_diffs(sn).items():
        close(v, R["shared/param_diff/" + k], "shared param diff " + k)
    sn.params["ip_b"][0].data[0, 0] = 42.0
    assert sn.params["ip_a"][0].data[0, 0] == 42.0
