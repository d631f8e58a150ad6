"""tools/train: Caffe's ``caffe train`` (--solver, --weights, --snapshot, --gpu, signal effects, --log).

``--gpu 0,1`` / ``--gpu all`` relaunch this tool under torchrun, one process per GPU (Caffe's batch is per
GPU); under torchrun with ``--gpu cpu`` the processes train on CPU through the gloo backend (tests).
"""
from __future__ import annotations

import os
import subprocess
import sys

import torch

from .. import log
from ..errors import CaffeError
from ..proto import caffe_pb2, read_prototxt
from .common import ArgumentParser, run


def parse_gpus(flag: str | None) -> list[int] | None:
    """--gpu: None (not given), [] (cpu), or the device ids; Caffe's ``all`` means every visible GPU."""
    if flag is None:
        return None
    if flag.lower() == "cpu":
        return []
    n = torch.cuda.device_count()
    if flag == "all":
        ids = list(range(n))
    else:
        try:
            ids = [int(x) for x in flag.split(",") if x != ""]
        except ValueError:
            raise CaffeError(f"--gpu {flag}: expected cpu, all, or device ids such as 0 or 0,1") from None
    if n == 0:
        raise CaffeError(f"--gpu {flag}: no GPU is available (CUDA not found); train on the CPU with --gpu cpu")
    bad = [i for i in ids if not 0 <= i < n]
    if bad or not ids:
        raise CaffeError(f"--gpu {flag}: no such GPU {bad[0] if bad else ''} (this machine has {n}: 0..{n - 1})")
    return ids


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="train", description="Train a net from a Caffe solver prototxt, as `caffe train`.")
    ap.add_argument("--solver", required=True, help="the solver .prototxt")
    ap.add_argument("--weights", help="comma-separated .caffemodel files to fine-tune from")
    ap.add_argument("--snapshot", help="a .solverstate to resume from")
    ap.add_argument("--gpu", help="cpu, a GPU id, several (0,1) or all; default: the solver's solver_mode")
    ap.add_argument("--log", "--log_file", dest="log",
                    help="also write the log to this file (spell it --log_file after torchrun ... -m)")
    ap.add_argument("--level", type=int, default=0, help="the train net's NetState level")
    ap.add_argument("--stage", default="", help="comma-separated NetState stages of the train net")
    ap.add_argument("--sigint_effect", default="stop", choices=("stop", "snapshot", "none"))
    ap.add_argument("--sighup_effect", default="snapshot", choices=("stop", "snapshot", "none"))
    ap.add_argument("--resume_data_position", action="store_true",
                    help="with --snapshot: continue the data where the original run was (Caffe restarts "
                         "its Data layers at the first record)")
    ap.add_argument("--progress", action="store_true",
                    help="a progress bar on stdout (useful when stderr, the log, goes to a file)")
    ap.add_argument("--float64", action="store_true",
                    help="train in double precision (Caffe is float32; for checking against Caffe's runs)")
    return ap


def _torchrun(argv: list[str], n: int) -> int:
    """Relaunch under torchrun with one process per GPU; each process sees --gpu <its id>."""
    # torchrun's own parser rejects "--log" as an ambiguous prefix of its --log-dir options.
    argv = ["--log_file" if x.lstrip("-") == "log" else
            "--log_file=" + x.split("=", 1)[1] if x.lstrip("-").startswith("log=") else x for x in argv]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
           "-m", "fer_caffe_compat.cli.train", *argv]
    return subprocess.call(cmd)


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    if a.snapshot and a.weights:
        raise CaffeError("give a snapshot to resume training or weights to fine-tune, but not both")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    gpus = parse_gpus(a.gpu)
    if gpus is not None and len(gpus) > 1 and world == 1:
        return _torchrun(argv, len(gpus))
    param = read_prototxt(a.solver, caffe_pb2.SolverParameter())
    param.train_state.level = a.level
    param.train_state.stage.extend(a.stage.split(","))  # Caffe adds "" when --stage is empty
    if gpus is None and param.solver_mode == caffe_pb2.SolverParameter.GPU:
        if torch.cuda.is_available():
            gpus = [param.device_id]
        else:
            log.warning("caffe.cpp:193", f"{a.solver}: solver_mode GPU but no GPU is available: using the CPU")
            gpus = []
    if world > 1 and gpus and len(gpus) != world:
        raise CaffeError(f"--gpu {a.gpu}: {len(gpus)} GPUs for {world} processes")
    device = torch.device(f"cuda:{gpus[local_rank if world > 1 else 0]}") if gpus else torch.device("cpu")
    if rank != 0:
        log.quiet = True  # Caffe: only the root solver logs (and snapshots)
    log_file = log.add_file(a.log) if a.log and rank == 0 else None
    try:
        if rank == 0:
            if device.type == "cpu":
                log.info("caffe.cpp:197", "Use CPU.")
            else:
                log.info("caffe.cpp:204", f"Using GPUs {', '.join(map(str, gpus))}")
        return _train(a, param, device, rank, world)
    finally:
        if log_file is not None:
            log.remove_file(log_file)


def _train(a, param, device, rank: int, world: int) -> int:
    from ..solver.distributed import init_distributed, shard_data_layers
    from ..solver.solver import Signals, Solver

    if world > 1:
        init_distributed(device)
    signals = Signals(a.sigint_effect, a.sighup_effect)
    restore = signals.install()
    try:
        if a.snapshot:
            del param.weights[:]
        elif a.weights:
            del param.weights[:]
            param.weights.append(a.weights)
        solver = Solver(param, a.solver, device=device, rank=rank, world=world, signals=signals,
                        dtype=torch.float64 if a.float64 else torch.float32)
        if world > 1:
            shard_data_layers(solver.net, rank, world)
        if a.snapshot:
            if rank == 0:
                log.info("caffe.cpp:235", f"Resuming from {a.snapshot}")
            solver.restore(a.snapshot)
            if a.resume_data_position:
                if world > 1:
                    raise CaffeError("--resume_data_position is not supported with several processes")
                solver.skip_data_to_iteration()
        if rank == 0:
            log.info("caffe.cpp:239", "Starting Optimization")
        bar = _progress(solver) if a.progress and rank == 0 else None
        try:
            solver.solve()
        finally:
            if bar is not None:
                bar.close()
        if rank == 0:
            log.info("caffe.cpp:250", "Optimization Done.")
    finally:
        restore()
        if world > 1:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()
    return 0


def _progress(solver):
    from tqdm import tqdm

    bar = tqdm(total=solver.param.max_iter, initial=solver.iter, desc="train", unit="iter", file=sys.stdout)

    def tick(it: int, loss: float) -> None:
        bar.update(it - bar.n)
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
    solver.on_iteration = tick
    return bar


if __name__ == "__main__":
    run(main, "train")
