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
from .speed_args import add_speed_arguments, apply_to_solver


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
    ap.add_argument("--sigterm_effect", default="snapshot", choices=("snapshot", "stop", "none"),
                    help="extension (Caffe ends at once): snapshot (default) writes a snapshot and stops, as a "
                         "cluster's SIGTERM before its SIGKILL needs; stop is SIGINT's stop; none is Caffe's")
    ap.add_argument("--allow_missing_weights", action="store_true",
                    help="with --weights: let layers the files do not hold keep their fillers (fine-tuning a "
                         "new, renamed layer); refused by default")
    ap.add_argument("--resume_data_position", action="store_true",
                    help="with --snapshot: continue the data where the original run was (Caffe restarts "
                         "its Data layers at the first record)")
    ap.add_argument("--progress", action="store_true",
                    help="a progress bar on stdout (useful when stderr, the log, goes to a file)")
    ap.add_argument("--caffe-compatible", "--caffe_compatible", dest="caffe_compatible", action="store_true",
                    help="only check whether Caffe 1.0 would load the solver and its nets (no extension "
                         "fields or values); exit 0 if it would, 1 if not")
    ap.add_argument("--float64", action="store_true",
                    help="train in double precision (Caffe is float32; for checking against Caffe's runs)")
    add_speed_arguments(ap)
    return ap


def _caffe_compatible(solver: str) -> int:
    from ..proto.extensions import solver_file_extensions

    found = solver_file_extensions(solver)
    if not found:
        print(f"{solver}: Caffe 1.0 would load this solver and its nets (no extensions)")
        return 0
    print(f"{solver}: Caffe 1.0 would not load this; extensions in use:")
    for x in found:
        print(f"  {x}")
    return 1


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
    if a.caffe_compatible:
        return _caffe_compatible(a.solver)
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
    apply_to_solver(a, param)  # --precision, --channels_last, --cudnn_benchmark over the solver's fields
    param.train_state.stage.extend(a.stage.split(","))  # Caffe adds "" when --stage is empty
    if gpus is None and param.solver_mode == caffe_pb2.SolverParameter.GPU:
        if torch.cuda.is_available():
            gpus = [param.device_id]
        else:
            log.warning("caffe.cpp:193", f"{a.solver}: solver_mode GPU but no GPU is available: using the CPU")
            gpus = []
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))  # this machine's processes (torchrun)
    if world > 1 and gpus and len(gpus) != local_world:
        raise CaffeError(f"--gpu {a.gpu}: {len(gpus)} GPUs for {local_world} processes on this machine")
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
    from ..solver.speed import compile_nets
    from ..solver.solver import Signals, Solver

    if world > 1:
        init_distributed(device)
    signals = Signals(a.sigint_effect, a.sighup_effect, a.sigterm_effect)
    restore = signals.install()
    try:
        if a.snapshot:
            del param.weights[:]
        elif a.weights:
            del param.weights[:]
            param.weights.append(a.weights)
        solver = Solver(param, a.solver, device=device, rank=rank, world=world, signals=signals,
                        dtype=torch.float64 if a.float64 else torch.float32,
                        allow_missing_weights=a.allow_missing_weights)
        if world > 1:
            shard_data_layers(solver.net, rank, world)
        if a.compile:
            compile_nets([solver.net, *solver.test_nets])
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
        if world > 1:
            import torch.distributed as dist
            # Rank 0 may still be snapshotting; a rank that tears gloo down before it now and then aborted
            # at exit ("terminate called without an active exception"). The ranks leave together.
            dist.barrier()
        if rank == 0:
            log.info("caffe.cpp:250", "Optimization Done.")
        return _exit_status(solver) if rank == 0 else 0
    finally:
        restore()
        if world > 1:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()


def _exit_status(solver) -> int:
    """1 (one error line) when the run's last snapshot failed; 128 + N (one line) when signal N stopped the
    run (Caffe exits 0 there, which a script or a scheduler takes for a finished run); else 0."""
    stopped = solver.signals.stopped_by
    last = solver.last_snapshot or "none"
    if solver.snapshots.failed is not None:
        it, reason = solver.snapshots.failed
        how = f"stopped by {stopped.name} at iteration {solver.iter}, but " if stopped else ""
        raise CaffeError(f"{how}the snapshot at iteration {it} failed: {reason}; last snapshot: {last}")
    if stopped is not None:
        sys.stderr.write(f"train: stopped by {stopped.name} at iteration {solver.iter}; last snapshot: {last}\n")
        return 128 + int(stopped)
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
