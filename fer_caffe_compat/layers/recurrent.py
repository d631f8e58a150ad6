"""RNN, LSTM and LSTMUnit with the semantics of Caffe's unrolled recurrent nets.

Bottoms: x (T, N, ...), cont (T, N) (0 marks the start of a sequence: the carried state is zeroed),
optionally x_static (N, ...), and with ``expose_hidden`` the initial states h_0 [, c_0] (1, N, H); tops: the
output (T, N, H) and with ``expose_hidden`` the final states. Without ``expose_hidden`` the final state of
one forward is the initial state of the next, as in Caffe (the first forward starts from zeros).
"""
from __future__ import annotations

import torch

from ..proto import caffe_pb2
from .base import Layer, count
from .registry import register


def lstm_step(c_prev: torch.Tensor, gates: torch.Tensor, cont: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Caffe's LSTMUnit: gates split as i, f, o, g; ``c = cont*sig(f)*c_prev + sig(i)*tanh(g)``."""
    i, f, o, g = gates.chunk(4, dim=-1)
    c = cont.detach().unsqueeze(-1) * torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return c, torch.sigmoid(o) * torch.tanh(c)


class _Recurrent(Layer):
    min_bottoms, max_bottoms = 2, 5
    num_states = 1   # h (RNN) or h, c (LSTM)
    gate_mult = 1    # rows of the input transform per hidden unit

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        rp = param.recurrent_param
        x, cont = self.bottom_shapes[0], self.bottom_shapes[1]
        if len(x) < 2:
            raise self.fail(f"bottom[0] must have at least 2 axes -- (#timesteps, #streams, ...), got {x}")
        if len(cont) != 2 or cont != x[:2]:
            raise self.fail(f"bottom[1] (cont) must be (#timesteps, #streams) = {x[:2]}, got {cont}")
        if rp.num_output <= 0:
            raise self.fail("num_output must be positive")
        self.hidden = h = int(rp.num_output)
        self.expose_hidden = rp.expose_hidden
        exposed = self.num_states if self.expose_hidden else 0
        n_bottoms = len(self.bottom_shapes)
        self.static_input = n_bottoms > 2 + exposed
        if n_bottoms != 2 + int(self.static_input) + exposed:
            raise self.fail(f"{n_bottoms} bottoms: expected x, cont, [x_static]"
                            + (f" and {exposed} initial states" if exposed else ""))
        if self.static_input:
            xs = self.bottom_shapes[2]
            if len(xs) < 1 or xs[0] != x[1]:
                raise self.fail(f"bottom[2] (x_static) must be (#streams={x[1]}, ...), got {xs}")
        state = (1, x[1], h)
        for s in self.bottom_shapes[2 + int(self.static_input):]:
            if s != state:
                raise self.fail(f"initial state shape {s} must be {state}")
        n_tops = len(param.top) if len(param.top) else 1
        if n_tops != 1 + exposed:
            raise self.fail(f"{n_tops} tops: expected the output" + (f" and {exposed} final states" if exposed else ""))
        self._build_blobs(rp, count(x[2:]), count(self.bottom_shapes[2][1:]) if self.static_input else 0)
        self.top_shapes = [(x[0], x[1], h)] + [state] * exposed
        self._carry: list[torch.Tensor] | None = None

    def _build_blobs(self, rp, d: int, d_static: int) -> None:
        raise NotImplementedError

    def _step(self, pre: torch.Tensor, states: list[torch.Tensor], cont: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, cont: torch.Tensor, *rest: torch.Tensor) -> list[torch.Tensor]:
        t_steps, n = x.shape[:2]
        w_x, b_x = self.blobs[0], self.blobs[1]
        pre = x.reshape(t_steps, n, -1) @ w_x.t() + b_x
        if self.static_input:
            pre = pre + (rest[0].reshape(n, -1) @ self.blobs[2].t()).unsqueeze(0)
            rest = rest[1:]
        if self.expose_hidden:
            states = [s.reshape(n, self.hidden) for s in rest]
        elif self._carry is not None and self._carry[0].shape == (n, self.hidden):
            states = [s.to(x.dtype) for s in self._carry]
        else:
            states = [x.new_zeros(n, self.hidden) for _ in range(self.num_states)]
        outs = []
        for t in range(t_steps):
            out, states = self._step(pre[t], states, cont[t])
            outs.append(out)
        if not self.expose_hidden:
            self._carry = [s.detach() for s in states]
            return [torch.stack(outs)]
        return [torch.stack(outs)] + [s.unsqueeze(0) for s in states]


@register("RNN")
class RNN(_Recurrent):
    """``h_t = tanh(W_xh x_t + b_h [+ W_xh_static x_static] + W_hh (cont_t h_{t-1}))``,
    ``o_t = tanh(W_ho h_t + b_o)``; blobs W_xh, b_h, [W_xh_static], W_hh, W_ho, b_o."""

    def _build_blobs(self, rp, d: int, d_static: int) -> None:
        h = self.hidden
        self.add_blob((h, d), rp.weight_filler)
        self.add_blob((h,), rp.bias_filler)
        if self.static_input:
            self.add_blob((h, d_static), rp.weight_filler)
        self.add_blob((h, h), rp.weight_filler)
        self.add_blob((h, h), rp.weight_filler)
        self.add_blob((h,), rp.bias_filler)

    def _step(self, pre, states, cont):
        w_hh, w_ho, b_o = self.blobs[-3], self.blobs[-2], self.blobs[-1]
        h = torch.tanh(pre + (cont.detach().unsqueeze(-1) * states[0]) @ w_hh.t())
        return torch.tanh(h @ w_ho.t() + b_o), [h]


@register("LSTM")
class LSTM(_Recurrent):
    """Caffe's LSTM: gates ``W_xc x_t + b_c [+ W_xc_static x_static] + W_hc (cont_t h_{t-1})`` fed to
    LSTMUnit; blobs W_xc (4H, D), b_c (4H), [W_xc_static], W_hc (4H, H); states h, c."""
    num_states = 2

    def _build_blobs(self, rp, d: int, d_static: int) -> None:
        h = self.hidden
        self.add_blob((4 * h, d), rp.weight_filler)
        self.add_blob((4 * h,), rp.bias_filler)
        if self.static_input:
            self.add_blob((4 * h, d_static), rp.weight_filler)
        self.add_blob((4 * h, h), rp.weight_filler)

    def _step(self, pre, states, cont):
        h_prev, c_prev = states
        gates = pre + (cont.detach().unsqueeze(-1) * h_prev) @ self.blobs[-1].t()
        c, h = lstm_step(c_prev, gates, cont)
        return h, [h, c]


@register("LSTMUnit")
class LSTMUnit(Layer):
    """One LSTM step: bottoms c_prev (1, N, H), gates (1, N, 4H) in order i, f, o, g, cont (1, N);
    tops c (1, N, H), h (1, N, H). No gradient flows to cont (Caffe refuses it)."""
    min_bottoms = max_bottoms = 3
    min_tops = max_tops = 2

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        c, g, cont = self.bottom_shapes
        if len(c) != 3 or len(g) != 3 or len(cont) != 2:
            raise self.fail(f"bottoms must be c_prev (1, N, H), gates (1, N, 4H), cont (1, N); got {c}, {g}, {cont}")
        if c[0] != 1 or g[0] != 1 or cont[0] != 1 or not c[1] == g[1] == cont[1]:
            raise self.fail(f"bottoms must all be one timestep of N streams; got {c}, {g}, {cont}")
        if g[2] != 4 * c[2]:
            raise self.fail(f"gates shape {g} must have 4 * H = {4 * c[2]} values per stream (c_prev {c})")
        self.top_shapes = [c, c]

    def forward(self, c_prev: torch.Tensor, gates: torch.Tensor, cont: torch.Tensor) -> list[torch.Tensor]:
        c, h = lstm_step(c_prev, gates, cont)
        return [c, h]
