"""convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME: images listed with labels into an LMDB of Datum.

Caffe's flags (-gray, -shuffle, -backend=lmdb, -resize_width, -resize_height, -check_size, -encoded,
-encode_type), in single- or double-dash spelling. Additions: --overwrite (Caffe refuses an existing
DB) and --seed (for a reproducible --shuffle).
"""
from __future__ import annotations

from ..data.convert import convert_imageset
from ..errors import CaffeError
from .common import ArgumentParser, run


BOOL_FLAGS = ("gray", "shuffle", "check_size", "encoded", "overwrite", "check_decode")


def gflags_bools(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """gflags spellings of boolean flags: ``-gray=true``/``--gray=false``/``-nogray`` -> ``--gray`` or nothing."""
    out = []
    for arg in argv:
        flag, eq, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and flag in names and eq:
            if value.lower() in ("1", "true", "t", "yes", "y"):
                out.append(f"--{flag}")
            elif value.lower() not in ("0", "false", "f", "no", "n"):
                raise CaffeError(f"--{flag}={value}: expected true or false")
        elif arg.startswith("-") and flag.startswith("no") and flag[2:] in names and not eq:
            continue
        else:
            out.append(arg)
    return out


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="convert_imageset", description=__doc__.split("\n")[0])
    p.add_argument("root", metavar="ROOTFOLDER/", help="prefix joined (as a string) to each listed path")
    p.add_argument("listfile", metavar="LISTFILE", help="lines 'relative/path label'")
    p.add_argument("db_name", metavar="DB_NAME", help="the LMDB to create")
    for flag, helptext in [("gray", "treat images as grayscale ones"),
                           ("shuffle", "randomly shuffle the order of images and their labels"),
                           ("check_size", "check that all the datum have the same size"),
                           ("encoded", "store the encoded image in the datum"),
                           ("overwrite", "replace an existing DB (Caffe refuses it)"),
                           ("check_decode", "refuse an image that decodes only partly, such as a truncated "
                                            "JPEG (default: a warning names it)")]:
        p.add_argument(f"--{flag}", action="store_true", help=helptext)
    p.add_argument("--backend", default="lmdb", help="lmdb (leveldb is not supported)")
    p.add_argument("--resize_width", type=int, default=0, help="width images are resized to")
    p.add_argument("--resize_height", type=int, default=0, help="height images are resized to")
    p.add_argument("--encode_type", default="", help="what type to encode the image as ('png', 'jpg', ...)")
    p.add_argument("--seed", type=int, default=None, help="seed for --shuffle (Caffe: random)")
    a = p.parse_args(gflags_bools(argv, BOOL_FLAGS))
    if a.backend != "lmdb":
        raise CaffeError(f"--backend={a.backend}: only lmdb is supported")
    convert_imageset(a.root, a.listfile, a.db_name, gray=a.gray, shuffle=a.shuffle,
                     resize_height=a.resize_height, resize_width=a.resize_width, check_size=a.check_size,
                     encoded=a.encoded, encode_type=a.encode_type, overwrite=a.overwrite, seed=a.seed,
                     check_decode=a.check_decode)
    return 0


if __name__ == "__main__":
    run(main, "convert_imageset")
