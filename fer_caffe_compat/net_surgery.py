"""Net surgery as Caffe's Net::Init does it before building: the prototxt read and upgraded
(ReadNetParamsFromTextFileOrDie), the layers filtered by their include/exclude rules for the net's state
(Net::FilterNet) and implicit Split layers inserted where a blob feeds several layers (InsertSplits).
"""
from __future__ import annotations

import os

from .errors import CaffeError
from .net_upgrade import upgrade_net_param
from .proto import caffe_pb2, read_prototxt

__all__ = ["load_net_param", "filter_net", "insert_splits"]


def load_net_param(path: str | os.PathLike) -> caffe_pb2.NetParameter:
    """A net prototxt as a NetParameter, upgraded as Caffe's ReadNetParamsFromTextFileOrDie does."""
    return upgrade_net_param(read_prototxt(path, caffe_pb2.NetParameter()), str(path))



def _rule_met(state: caffe_pb2.NetState, rule: caffe_pb2.NetStateRule, layer: str, say) -> bool:
    """Net::StateMeetsRule."""
    if rule.HasField("phase") and rule.phase != state.phase:
        say("net.cpp:296", f"The NetState phase ({state.phase}) differed from the phase ({rule.phase}) "
                           f"specified by a rule in layer {layer}")
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        say("net.cpp:305", f"The NetState level ({state.level}) is above the min_level ({rule.min_level}) "
                           f"specified by a rule in layer {layer}")
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        say("net.cpp:313", f"The NetState level ({state.level}) is above the max_level ({rule.max_level}) "
                           f"specified by a rule in layer {layer}")
        return False
    for s in rule.stage:
        if s not in state.stage:
            say("net.cpp:326", f"The NetState did not contain stage '{s}' specified by a rule in layer {layer}")
            return False
    for s in rule.not_stage:
        if s in state.stage:
            say("net.cpp:340", f"The NetState contained a not_stage '{s}' specified by a rule in layer {layer}")
            return False
    return True


def filter_net(param: caffe_pb2.NetParameter, say=lambda src, msg: None) -> caffe_pb2.NetParameter:
    """Net::FilterNet: the layers whose include/exclude rules the param's state meets."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(param)
    del out.layer[:]
    for lp in param.layer:
        if len(lp.include) and len(lp.exclude):
            raise CaffeError(f"layer {lp.name}: specify either include rules or exclude rules, not both")
        included = not len(lp.include)
        for rule in lp.exclude:
            if included and _rule_met(param.state, rule, lp.name, say):
                included = False
        for rule in lp.include:
            if not included and _rule_met(param.state, rule, lp.name, say):
                included = True
        if included:
            out.layer.add().CopyFrom(lp)
    return out


def insert_splits(param: caffe_pb2.NetParameter) -> tuple[list[caffe_pb2.LayerParameter], set[int]]:
    """Caffe's InsertSplits: the layer list with Split layers added, and the indices of those splits."""
    last_top: dict[str, tuple[int, int]] = {}
    source_of: dict[tuple[int, int], tuple[int, int]] = {}
    uses: dict[tuple[int, int], int] = {}
    loss_w: dict[tuple[int, int], float] = {}
    for i, lp in enumerate(param.layer):
        for j, b in enumerate(lp.bottom):
            if b not in last_top:
                raise CaffeError(f"layer {lp.name}: unknown bottom blob '{b}' (bottom index {j}; no earlier "
                                 "layer of this phase produces it)")
            source_of[(i, j)] = last_top[b]
            uses[last_top[b]] = uses.get(last_top[b], 0) + 1
        for j, t in enumerate(lp.top):
            last_top[t] = (i, j)
        for j in range(min(len(lp.loss_weight), len(lp.top))):
            idx = last_top[lp.top[j]]
            loss_w[idx] = lp.loss_weight[j]
            if lp.loss_weight[j]:
                uses[idx] = uses.get(idx, 0) + 1
    out: list[caffe_pb2.LayerParameter] = []
    splits: set[int] = set()
    next_split: dict[tuple[int, int], int] = {}
    for i, src in enumerate(param.layer):
        lp = caffe_pb2.LayerParameter()
        lp.CopyFrom(src)
        out.append(lp)
        for j in range(len(lp.bottom)):
            idx = source_of[(i, j)]
            if uses.get(idx, 0) > 1:
                k = next_split.get(idx, 0)
                next_split[idx] = k + 1
                lp.bottom[j] = _split_blob(param.layer[idx[0]].name, lp.bottom[j], idx[1], k)
        for j, t in enumerate(lp.top):
            n = uses.get((i, j), 0)
            if n > 1:
                w = loss_w.get((i, j), 0.0)
                sp = caffe_pb2.LayerParameter(name=f"{t}_{lp.name}_{j}_split", type="Split", bottom=[t])
                for k in range(n):
                    sp.top.append(_split_blob(lp.name, t, j, k))
                    if w:
                        sp.loss_weight.append(w if k == 0 else 0.0)
                if w:
                    del lp.loss_weight[:]
                    next_split[(i, j)] = next_split.get((i, j), 0) + 1
                splits.add(len(out))
                out.append(sp)
    return out, splits


def _split_blob(layer: str, blob: str, top_index: int, k: int) -> str:
    return f"{blob}_{layer}_{top_index}_split_{k}"

