"""caffe.Blob memory semantics against real pycaffe (fixtures/pycaffe/memory/memory.json, on the numerics
nets): views that later passes write into, writes through param arrays, reshape and capacity, arrays kept
after ``del net``, legacy shape accessors, share_with / copy_from."""
from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import caffe

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "pycaffe"
N = FIX / "numerics"
M = json.loads((FIX / "memory" / "memory.json").read_text())
I = dict(np.load(N / "inputs.npz"))


def net(name="numnet", weights=True, phase=caffe.TEST):
    return caffe.Net(str(N / f"{name}.prototxt"), phase, **({"weights": str(N / "numnet.caffemodel")} if weights else {}))


def ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_views_see_later_passes_as_pycaffe():
    n = net()
    held, held_diff = n.blobs["conv1"].data, n.blobs["conv1"].diff
    v = M["views"]
    assert (not held.any()) == v["held_before_forward_all_zero"]
    n.forward(data=I["data_A"], label=I["label_A"])
    assert (np.array_equal(held, n.blobs["conv1"].data) and held.any()) == v["held_sees_forward_values"]
    assert {f: bool(held.flags[f]) for f in v["held.flags"]} == v["held.flags"]
    assert str(held.dtype) == v["held.dtype"] and type(held.base).__name__ == v["type(held.base)"]
    assert (held.base is n.blobs["conv1"]) == v["held.base is net.blobs['conv1']"]
    assert np.shares_memory(n.blobs["conv1"].data, n.blobs["conv1"].data) == v["two accesses share memory"]
    assert np.shares_memory(held, held_diff) == v["data and diff share memory"]
    assert np.shares_memory(n.params["conv1"][0].data, n.layer_dict["conv1"].blobs[0].data)
    out = n.forward(data=I["data_A"], label=I["label_A"])
    prob_a = out["prob"].copy()
    n.forward(data=I["data_B"], label=I["label_B"])
    assert not np.array_equal(out["prob"], prob_a) and np.array_equal(out["prob"], n.blobs["prob"].data)
    assert n.blobs["loss"].data.shape == ()


def test_writes_through_arrays_as_pycaffe():
    n = net()
    w = M["writes"]
    before = n.forward(data=I["data_A"], label=I["label_A"])["prob"].copy()
    n.params["conv1"][0].data[...] = 0
    assert not np.array_equal(before, n.forward()["prob"])
    b = n.params["conv1"][1].data
    assert np.array_equal(n.blobs["conv1"].data, np.broadcast_to(np.maximum(b, 0)[None, :, None, None], (4, 4, 8, 8)))
    n.copy_from(str(N / "numnet.caffemodel"))
    assert np.array_equal(n.forward()["prob"], before) == w["copy_from restores weights"]
    with pytest.raises(AttributeError):
        n.params["conv1"][0].data = np.zeros((4, 3, 3, 3), np.float32)
    bias = n.params["conv1"][1].data.copy()
    blob = n.params["conv1"][1]
    blob.data *= 2  # Departure: pycaffe doubles and then raises AttributeError; here it just doubles.
    assert np.array_equal(n.params["conv1"][1].data, 2 * bias) == w["blob.data *= 2: data was doubled anyway"]
    with pytest.raises(ValueError, match="could not broadcast"):
        n.blobs["data"].data[...] = np.zeros((2, 3, 8, 8))


def test_reshape_keeps_memory_within_capacity_as_pycaffe():
    r = M["reshape_held_array"]
    blob = net("numnet_deploy").blobs["data"]
    blob.data[...] = I["data_A"]
    held, p0 = blob.data, ptr(blob.data)
    blob.reshape(2, 3, 8, 8)
    assert list(blob.data.shape) == r["smaller (4,3,8,8)->(2,3,8,8): new .data shape"]
    assert (ptr(blob.data) == p0) == r["smaller: same pointer"]
    assert np.array_equal(blob.data.ravel(), I["data_A"].ravel()[:384])
    assert np.array_equal(held, I["data_A"]) == r["smaller: held still reads the old 768 values"]
    blob.reshape(4, 192)
    assert ptr(blob.data) == p0 and np.array_equal(blob.data, I["data_A"].reshape(4, 192))
    blob.reshape(4, 3, 8, 8)
    assert [ptr(blob.data) == p0, bool(np.array_equal(blob.data, I["data_A"]))] == r["back to (4,3,8,8): same pointer, values intact"]
    blob.reshape(8, 3, 8, 8)
    assert not blob.data.any() and not blob.diff.any()
    assert held.shape == (4, 3, 8, 8) and np.array_equal(held, I["data_A"])  # still valid memory here
    p8 = ptr(blob.data)
    blob.reshape(2, 3, 8, 8)
    blob.reshape(8, 3, 8, 8)
    assert ptr(blob.data) == p8


def test_memory_sharing_both_ways_before_and_after_reshape():
    dn = net("numnet_deploy")
    arr = dn.blobs["data"].data
    arr[...] = I["data_A"]
    out_a = dn.forward()["prob"].copy()
    dn.blobs["data"].reshape(2, 3, 8, 8)  # fits the capacity: the same memory, seen both ways
    small = dn.blobs["data"].data
    assert np.shares_memory(small, arr)
    small[...] = I["X10"][:2]
    prob = dn.forward()["prob"]
    assert prob.shape == (2, 3) and not np.allclose(prob, out_a[:2])
    np.testing.assert_allclose(dn.forward(data=I["X10"][:2])["prob"], prob, rtol=1e-6)
    assert np.array_equal(arr.ravel()[:384], I["X10"][:2].ravel())


def test_arrays_blobs_and_layers_outlive_the_net():
    n = net()
    n.forward(data=I["data_A"], label=I["label_A"])
    arr, blob, par = n.blobs["ip1"].data, n.blobs["prob"], n.params["ip2"][0].data
    copies = arr.copy(), blob.data.copy(), par.copy()
    layer, bv = n.layer_dict["ip1"], n.params["conv1"]
    w = layer.blobs[0].data.copy()
    del n
    gc.collect()
    junk = net(weights=False)
    junk.forward(data=I["data_B"], label=I["label_B"])
    assert np.array_equal(arr, copies[0]) and np.array_equal(blob.data, copies[1]) and np.array_equal(par, copies[2])
    assert list(blob.shape) == M["del_net"]["held Blob object: shape"]
    assert layer.type == "InnerProduct" and np.array_equal(layer.blobs[0].data, w) and len(bv) == 2


def test_legacy_shape_accessors_as_pycaffe():
    s = M["legacy_shape_accessors"]
    n = net(weights=False)

    def legacy(b):
        return {"shape": list(b.shape), "type(shape)": type(b.shape).__name__, "num": b.num, "channels": b.channels,
                "height": b.height, "width": b.width, "count": b.count, "data.shape": list(b.data.shape),
                "data.ndim": b.data.ndim}

    for key, name in (("4-D data (4,3,8,8)", "data"), ("2-D ip1 (4,6)", "ip1"), ("1-D label (4,)", "label"),
                      ("0-D loss ()", "loss")):
        assert legacy(n.blobs[name]) == s[key], key
    b = n.blobs["ip2"]
    b.reshape(2, 3, 5)
    assert legacy(b) == s["3-D after ip2.reshape(2,3,5)"]
    b.reshape()
    assert legacy(b) == s["0-D after ip2.reshape()"]
    with pytest.raises(TypeError):
        b.reshape((2, 3))
    with pytest.raises(RuntimeError, match="no kwargs"):
        b.reshape(n=2)
    with pytest.raises(TypeError):
        b.reshape(2.0, 3)
    b.reshape(1, 2, 3, 4, 5)
    assert [list(b.shape), b.count, list(b.data.shape)] == s["5-D after reshape(1,2,3,4,5): shape, count, data.shape"]
    with pytest.raises(ValueError, match="legacy accessors"):  # Caffe aborts the process here
        b.num
    ip1 = n.blobs["ip1"].shape
    assert (ip1 == [4, 6], list(ip1) == [4, 6], list(tuple(ip1)), len(ip1), ip1[-1]) == (
        s["blob.shape == [4, 6] (IntVec vs list)"], s["list(blob.shape) == [4, 6]"], s["tuple(blob.shape)"],
        s["len(blob.shape)"], s["blob.shape[-1]"])


def test_share_with_shares_data_not_diff_and_copy_from_copies():
    sw = M["share_with_copy_from"]
    a, b = net(), net(weights=False)
    b.share_with(a)
    assert np.shares_memory(a.params["ip1"][0].data, b.params["ip1"][0].data) == sw["share_with: data shares memory"]
    assert np.shares_memory(a.params["ip1"][0].diff, b.params["ip1"][0].diff) == sw["share_with: diff shares memory"]
    c = net(weights=False)
    c.copy_from(str(N / "numnet.caffemodel"))
    assert np.array_equal(a.params["ip1"][0].data, c.params["ip1"][0].data)
    assert np.shares_memory(a.params["ip1"][0].data, c.params["ip1"][0].data) == sw["copy_from: shares memory"]


def test_param_arrays_are_the_parameters_and_diffs_their_grad():
    n = net(phase=caffe.TRAIN)
    core = n._net
    p = core.layer_by_name("conv1").blobs[0]
    data, diff = n.params["conv1"][0].data, n.params["conv1"][0].diff
    assert np.shares_memory(data, p.detach().numpy()) and np.shares_memory(diff, p.grad.numpy())
    n.forward(data=I["data_A"], label=I["label_A"])
    n.backward()
    once = diff.copy()
    assert once.any()
    n.backward()
    np.testing.assert_allclose(diff, 2 * once, rtol=1e-6)
    n.clear_param_diffs()
    assert not diff.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_host_mirror_syncs_both_ways():
    from fer_caffe_compat.net import Net as CoreNet
    from fer_caffe_compat.net import load_net_param

    core = CoreNet(load_net_param(N / "numnet_deploy.prototxt"), phase=caffe.TEST, device="cuda")
    core.copy_trained_layers_from(str(N / "numnet.caffemodel"))
    dn = caffe.Net._from_core(core)
    cpu = net("numnet_deploy")
    held = dn.blobs["data"].data
    held[...] = I["data_A"]  # host head: pushed before the next pass
    want = cpu.forward(data=I["data_A"])["prob"]
    np.testing.assert_allclose(dn.forward()["prob"], want, rtol=1e-4, atol=1e-5)
    assert core.blob_store.get("data").is_cuda
    dn.params["ip2"][1].data[...] += 1  # a param written on the host reaches the device
    cpu.params["ip2"][1].data[...] += 1
    np.testing.assert_allclose(dn.forward()["prob"], cpu.forward()["prob"], rtol=1e-4, atol=1e-5)
