"""tools/parse_log.py LOGFILE OUTPUT_DIR: Caffe's parse_log.py tables (LOG.train, LOG.test as CSV)."""
from __future__ import annotations

import os

from ..curves.parse import created_year, csv_text, parse_log, read_lines
from ..fsutil import write_text_atomic
from .common import ArgumentParser, run


def main(argv: list[str]) -> int:
    ap = ArgumentParser(prog="parse_log.py", description="Parse a Caffe training log into CSV tables "
                        "(LOG.train, LOG.test), as Caffe's tools/extra/parse_log.py.")
    ap.add_argument("logfile_path")
    ap.add_argument("output_dir")
    ap.add_argument("--verbose", action="store_true", help="print the names of the files written")
    ap.add_argument("--delimiter", default=",", help="column delimiter (one character)")
    a = ap.parse_args(argv)
    lines = read_lines(a.logfile_path)
    train, test = parse_log(lines, created_year(a.logfile_path), a.logfile_path)
    base = os.path.basename(a.logfile_path)
    for rows, ext in ((train, ".train"), (test, ".test")):
        out = os.path.join(a.output_dir, base + ext)
        if not rows:
            if a.verbose:
                print(f"Not writing {out}; no lines to write")
            continue
        write_text_atomic(out, csv_text(rows, a.delimiter))
        if a.verbose:
            print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    run(main, "parse_log.py")
