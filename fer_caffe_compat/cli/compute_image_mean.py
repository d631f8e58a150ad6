"""compute_image_mean [FLAGS] INPUT_DB [OUTPUT_FILE]: the mean image of an LMDB as a BlobProto file."""
from __future__ import annotations

from ..data.mean import compute_image_mean
from ..errors import CaffeError
from .common import ArgumentParser, run


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="compute_image_mean", description=__doc__.split("\n")[0])
    p.add_argument("input_db", metavar="INPUT_DB")
    p.add_argument("output_file", metavar="OUTPUT_FILE", nargs="?", help="mean.binaryproto to write")
    p.add_argument("--backend", default="lmdb", help="lmdb (leveldb is not supported)")
    a = p.parse_args(argv)
    if a.backend != "lmdb":
        raise CaffeError(f"--backend={a.backend}: only lmdb is supported")
    compute_image_mean(a.input_db, a.output_file)
    return 0


if __name__ == "__main__":
    run(main, "compute_image_mean")
