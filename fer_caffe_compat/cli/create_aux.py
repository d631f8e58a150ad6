"""create_aux IMAGES_DIR OUT_DIR: index files OUT_DIR/{train,val,test}.txt ("<class>/<file> <label>")
for the split folders of an image tree, in a deterministic order (file name, then class)."""
from __future__ import annotations

from ..data.index import create_index
from .common import ArgumentParser, run


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="create_aux", description=__doc__.split("\n")[0])
    p.add_argument("images_dir", metavar="IMAGES_DIR", help="holds train/ val/ test/ of class folders")
    p.add_argument("out_dir", metavar="OUT_DIR", help="where <split>.txt go")
    a = p.parse_args(argv)
    for split, n in create_index(a.images_dir, a.out_dir).items():
        print(f"{a.out_dir}/{split}.txt: {n} images")
    return 0


if __name__ == "__main__":
    run(main, "create_aux")
