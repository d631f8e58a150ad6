"""The ``caffe`` binary (tools/caffe.cpp): ``caffe <command> <args>`` with Caffe's gflags.

    caffe train -solver S [-weights a,b | -snapshot X] [-gpu 0,1|all] [-level N] [-stage a,b]
                [-sigint_effect stop|snapshot|none] [-sighup_effect snapshot|stop|none]
    caffe test -model M -weights W [-iterations 50] [-gpu N] [-level N] [-stage a,b]
    caffe time -model M [-iterations 50] [-phase TRAIN|TEST] [-gpu N] [-level N] [-stage a,b]
    caffe device_query -gpu 0[,1|all]

Each command is the project's own tool (cli/train, cli/test, cli/time) given these flags; this module only
parses the line as gflags does and applies caffe.cpp's checks. Exit status: 0 done; 1 for a line gflags
refuses, an unknown command, a failed check or bad input (Caffe aborts, 134, on the last three); 128 + N
when signal N stopped a training run (Caffe exits 0); no command prints the usage and exits 0, as Caffe.
"""
from __future__ import annotations

import sys

from .. import log
from ..errors import CaffeError
from . import gflags
from .common import run
from .gflags import Flag

USAGE = ("command line brew\n"
         "usage: caffe <command> <args>\n\n"
         "commands:\n"
         "  train           train or finetune a model\n"
         "  test            score a model\n"
         "  device_query    show GPU diagnostic information\n"
         "  time            benchmark model execution time")
VERSION = "1.0.0"

FLAGS = (
    Flag("gpu", "string", "", "Optional; run in GPU mode on given device IDs separated by ','.Use '-gpu all' "
         "to run on all available GPUs. The effective training batch size is multiplied by the number of "
         "devices."),
    Flag("solver", "string", "", "The solver definition protocol buffer text file."),
    Flag("model", "string", "", "The model definition protocol buffer text file."),
    Flag("phase", "string", "", "Optional; network phase (TRAIN or TEST). Only used for 'time'."),
    Flag("level", "int32", 0, "Optional; network level."),
    Flag("stage", "string", "", "Optional; network stages (not to be confused with phase), separated by ','."),
    Flag("snapshot", "string", "", "Optional; the snapshot solver state to resume training."),
    Flag("weights", "string", "", "Optional; the pretrained weights to initialize finetuning, separated by "
         "','. Cannot be set simultaneously with snapshot."),
    Flag("iterations", "int32", 50, "The number of iterations to run."),
    Flag("sigint_effect", "string", "stop", "Optional; action to take when a SIGINT signal is received: "
         "snapshot, stop or none."),
    Flag("sighup_effect", "string", "snapshot", "Optional; action to take when a SIGHUP signal is received: "
         "snapshot, stop or none."),
    # gflags' own help flags
    *(Flag(n, "bool", False, "show help", shown=False) for n in ("help", "helpfull", "helpshort", "version")),
    # glog's flags: a Caffe binary accepts them; here they are accepted and have no effect
    *(Flag(n, "bool", False, "glog", shown=False)
      for n in ("logtostderr", "alsologtostderr", "colorlogtostderr", "stop_logging_if_full_disk")),
    *(Flag(n, "int32", 0, "glog", shown=False)
      for n in ("v", "minloglevel", "stderrthreshold", "logbuflevel", "logbufsecs", "max_log_size")),
    *(Flag(n, "string", "", "glog", shown=False) for n in ("log_dir", "vmodule", "log_link")),
)
EFFECTS = ("stop", "snapshot", "none")


def usage() -> str:
    return gflags.usage("caffe", USAGE, "tools/caffe.cpp", FLAGS)


def brew(argv: list[str]) -> int:
    """caffe.cpp's main: flags first (anywhere on the line), then exactly one command."""
    try:
        flags, args = gflags.parse(argv, FLAGS)
    except gflags.FlagError as e:
        sys.stderr.write(f"ERROR: {e}\n")
        return 1
    if flags["help"] or flags["helpfull"] or flags["helpshort"]:
        sys.stdout.write(usage())
        return 1  # gflags exits 1 after --help
    if flags["version"]:
        sys.stdout.write(f"caffe version {VERSION}\n")
        return 0
    if len(args) != 1:
        sys.stdout.write(usage())
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        log.error("caffe.cpp:77", "Available caffe actions:")
        for name in sorted(COMMANDS):
            log.error("caffe.cpp:80", f"\t{name}")
        raise CaffeError(f"Unknown action: {args[0]}")
    return command(flags)


def _common(flags: gflags.Values) -> list[str]:
    """Flags every command passes on, in the --name=value form (a value may start with '-')."""
    return [f"--level={flags['level']}", f"--stage={flags['stage']}"]


def _cuda_or_cpu(gpu: str) -> bool:
    """-gpu on a machine without CUDA: one warning line, and the command runs on the CPU."""
    import torch  # here, not at the top: the usage and flag errors come without torch's seconds of import

    if torch.cuda.is_available():
        return True
    log.warning("caffe.cpp:113", f"-gpu {gpu}: no CUDA device is available on this machine; running on the CPU")
    return False


def _gpu_ids(gpu: str) -> list[int]:
    """get_gpus: ``all`` is every visible device, else the comma-separated ids."""
    import torch

    if gpu == "all":
        return list(range(torch.cuda.device_count()))
    try:
        return [int(x) for x in gpu.split(",")]
    except ValueError:
        raise CaffeError(f"-gpu {gpu}: expected device ids such as 0 or 0,1, or all") from None


def _single_gpu(gpu: str) -> list[str]:
    """test and time run on one device: Caffe drops the others, one line each, last first."""
    if not gpu or not _cuda_or_cpu(gpu):
        return []
    ids = _gpu_ids(gpu)
    while len(ids) > 1:
        log.info("caffe.cpp:260", f"Not using GPU #{ids.pop()} for single-GPU function")
    return [f"--gpu={ids[0]}"] if ids else []


def train(flags: gflags.Values) -> int:
    from . import train as tool

    if not flags["solver"]:
        raise CaffeError("Need a solver definition to train.")
    if flags["snapshot"] and flags["weights"]:
        raise CaffeError("Give a snapshot to resume training or weights to finetune but not both.")
    for name in ("sigint_effect", "sighup_effect"):
        if flags[name] not in EFFECTS:
            raise CaffeError(f"Invalid signal effect \"{flags[name]}\" was specified")
    argv = [f"--solver={flags['solver']}", *_common(flags),
            f"--sigint_effect={flags['sigint_effect']}", f"--sighup_effect={flags['sighup_effect']}"]
    argv += [f"--{n}={flags[n]}" for n in ("weights", "snapshot") if flags[n]]
    if flags["gpu"]:
        argv.append(f"--gpu={flags['gpu'] if _cuda_or_cpu(flags['gpu']) else 'cpu'}")
    return tool.main(argv)


def test(flags: gflags.Values) -> int:
    from . import test as tool

    if not flags["model"]:
        raise CaffeError("Need a model definition to score.")
    if not flags["weights"]:
        raise CaffeError("Need model weights to score.")
    return tool.main([f"--model={flags['model']}", f"--weights={flags['weights']}",
                      f"--iterations={flags['iterations']}", *_common(flags), *_single_gpu(flags["gpu"])])


def time(flags: gflags.Values) -> int:
    from . import time as tool

    if not flags["model"]:
        raise CaffeError("Need a model definition to time.")
    phase = flags["phase"] or "TRAIN"
    if phase not in ("TRAIN", "TEST"):
        raise CaffeError("phase must be \"TRAIN\" or \"TEST\"")
    return tool.main([f"--model={flags['model']}", f"--iterations={flags['iterations']}", f"--phase={phase}",
                      *_common(flags), *_single_gpu(flags["gpu"])])


def device_query(flags: gflags.Values) -> int:
    """Caffe::DeviceQuery for each -gpu device; without -gpu Caffe queries nothing."""
    gpu = str(flags["gpu"])
    log.info("caffe.cpp:128", f"Querying GPUs {gpu}")
    if not gpu:
        return 0
    import torch

    if not torch.cuda.is_available():
        sys.stdout.write("No cuda device present.\n")
        return 1
    n = torch.cuda.device_count()
    for i in _gpu_ids(gpu):
        if not 0 <= i < n:
            raise CaffeError(f"-gpu {gpu}: no such CUDA device {i} (this machine has {n}: 0..{n - 1})")
        for label, value in _properties(i):
            log.info("common.cpp:183", f"{label + ':':<31}{value}")
    return 0


def _properties(i: int) -> list[tuple[str, object]]:
    """What cudaDeviceProp fields torch exposes, under DeviceQuery's labels."""
    import torch

    p = torch.cuda.get_device_properties(i)
    rows = [("Device id", i), ("Major revision number", p.major), ("Minor revision number", p.minor),
            ("Name", p.name), ("Total global memory", p.total_memory)]
    optional = (("Total shared memory per block", "shared_memory_per_block"),
                ("Warp size", "warp_size"), ("Clock rate", "clock_rate"))
    rows += [(label, getattr(p, attr)) for label, attr in optional if hasattr(p, attr)]
    rows.append(("Number of multiprocessors", p.multi_processor_count))
    return rows


COMMANDS = {"device_query": device_query, "test": test, "time": time, "train": train}


def main() -> None:
    """Console script ``caffe`` and tools/caffe."""
    run(brew, "caffe")


if __name__ == "__main__":
    main()
