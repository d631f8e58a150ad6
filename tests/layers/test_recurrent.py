"""RNN, LSTM and LSTMUnit: Caffe's unrolled semantics with the cont input."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.layer_grad import gradcheck_layer

ZOO = ["rnn", "lstm", "lstm_unit"]
FILLERS = 'weight_filler { type: "uniform" min: -0.5 max: 0.5 } bias_filler { type: "uniform" min: -0.5 max: 0.5 }'


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ZOO)
def test_zoo_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def rec(kind: str, shapes, extra: str = "", tops: int = 1):
    top = " ".join(f'top: "t{i}"' for i in range(tops))
    torch.manual_seed(3)
    return make_layer(f'name: "r" type: "{kind}" {top} recurrent_param {{ num_output: 3 {FILLERS} {extra} }}',
                      shapes)


def test_blob_layouts():
    assert [tuple(b.shape) for b in rec("RNN", [(2, 2, 5), (2, 2)]).blobs] == [(3, 5), (3,), (3, 3), (3, 3), (3,)]
    assert [tuple(b.shape) for b in rec("LSTM", [(2, 2, 5), (2, 2)]).blobs] == [(12, 5), (12,), (12, 3)]
    assert [tuple(b.shape) for b in rec("LSTM", [(2, 2, 5), (2, 2), (2, 4)]).blobs] == [(12, 5), (12,), (12, 4),
                                                                                        (12, 3)]


def test_rnn_with_static_input_matches_a_hand_loop():
    layer = rec("RNN", [(3, 2, 4), (3, 2), (2, 5)])
    x, xs = torch.randn(3, 2, 4, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    cont = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    w_xh, b_h, w_s, w_hh, w_ho, b_o = [b.detach() for b in layer.blobs]
    h, outs = torch.zeros(2, 3, dtype=torch.float64), []
    for t in range(3):
        h = torch.tanh(x[t] @ w_xh.T + b_h + xs @ w_s.T + (cont[t, :, None] * h) @ w_hh.T)
        outs.append(torch.tanh(h @ w_ho.T + b_o))
    torch.testing.assert_close(layer(x, cont, xs)[0], torch.stack(outs))


@pytest.mark.parametrize("kind, states", [("RNN", 1), ("LSTM", 2)])
def test_expose_hidden_splits_a_sequence_exactly(kind, states):
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    cont = torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    full = rec(kind, [(4, 2, 3), (4, 2)])(x, cont)[0]
    half = rec(kind, [(2, 2, 3), (2, 2)] + [(1, 2, 3)] * states, "expose_hidden: true", tops=1 + states)
    assert half.top_shapes == [(2, 2, 3)] + [(1, 2, 3)] * states
    zeros = [torch.zeros(1, 2, 3, dtype=torch.float64)] * states
    first = half(x[:2], cont[:2], *zeros)
    second = half(x[2:], cont[2:], *first[1:])
    torch.testing.assert_close(torch.cat([first[0], second[0]]), full)


@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_state_carries_over_to_the_next_forward_as_in_caffe(kind):
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    cont = torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    full = rec(kind, [(4, 2, 3), (4, 2)])(x, cont)[0]
    half = rec(kind, [(2, 2, 3), (2, 2)])
    out = torch.cat([half(x[:2], cont[:2])[0], half(x[2:], cont[2:])[0]])
    torch.testing.assert_close(out, full)


def test_lstm_unit_hand_computed():
    layer = make_layer('name: "u" type: "LSTMUnit"', [(1, 1, 1), (1, 1, 4), (1, 1)])
    gates = torch.tensor([[[0.0, 0.0, 0.0, 0.5]]], dtype=torch.float64)  # i, f, o = sigmoid(0) = 0.5
    c, h = layer(torch.full((1, 1, 1), 2.0, dtype=torch.float64), gates, torch.ones(1, 1, dtype=torch.float64))
    c_ref = 0.5 * 2.0 + 0.5 * torch.tanh(torch.tensor(0.5, dtype=torch.float64))
    torch.testing.assert_close(c.flatten()[0], c_ref)
    torch.testing.assert_close(h.flatten()[0], 0.5 * torch.tanh(c_ref))
    c0, _ = layer(torch.full((1, 1, 1), 2.0, dtype=torch.float64), gates, torch.zeros(1, 1, dtype=torch.float64))
    torch.testing.assert_close(c0.flatten()[0], c_ref - 1.0)  # cont 0 forgets c_prev


@pytest.mark.parametrize("kind, shapes", [("RNN", [(3, 2, 2), (3, 2)]), ("LSTM", [(3, 2, 2), (3, 2), (2, 2)])])
def test_gradcheck_recurrent(kind, shapes):
    layer = rec(kind, shapes)
    cont = torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    bottoms = [torch.randn(shapes[0]), cont] + [torch.randn(s) for s in shapes[2:]]
    assert gradcheck_layer(layer, bottoms, grad_bottoms=[True, False] + [True] * (len(shapes) - 2))


def test_gradcheck_lstm_unit():
    layer = make_layer('name: "u" type: "LSTMUnit"', [(1, 2, 2), (1, 2, 8), (1, 2)])
    bottoms = [torch.randn(1, 2, 2), torch.randn(1, 2, 8), torch.tensor([[1.0, 0.0]])]
    assert gradcheck_layer(layer, bottoms, grad_bottoms=[True, True, False])


@pytest.mark.parametrize("kind, shapes, extra, message", [
    ("RNN", [(3, 2, 4), (3, 3)], "", r"cont\) must be \(#timesteps, #streams\) = \(3, 2\), got \(3, 3\)"),
    ("RNN", [(3,), (3, 2)], "", "at least 2 axes"),
    ("LSTM", [(3, 2, 4), (3, 2), (3, 4)], "", r"x_static\) must be \(#streams=2"),
    ("LSTM", [(3, 2, 4), (3, 2), (1, 2, 4), (1, 2, 3)], "expose_hidden: true",
     r"initial state shape \(1, 2, 4\) must be \(1, 2, 3\)"),
])
def test_invalid_recurrent_inputs_are_one_line_errors(kind, shapes, extra, message):
    with pytest.raises(CaffeError, match=message):
        rec(kind, shapes, extra, tops=3 if "expose" in extra else 1)


def test_recurrent_without_num_output_is_an_error():
    with pytest.raises(CaffeError, match="num_output must be positive"):
        make_layer('name: "r" type: "LSTM"', [(3, 2, 4), (3, 2)])


def test_lstm_unit_gate_width_mismatch_names_shapes():
    with pytest.raises(CaffeError, match=r"gates shape \(1, 2, 6\)"):
        make_layer('name: "u" type: "LSTMUnit"', [(1, 2, 2), (1, 2, 6), (1, 2)])
