"""tools/extract_seconds INPUT OUTPUT: seconds since "Solving" of every 'Iteration' line (Caffe's script)."""
from __future__ import annotations

from ..curves.parse import created_year, extract_seconds, read_lines
from ..fsutil import write_text_atomic
from .common import ArgumentParser, run


def main(argv: list[str]) -> int:
    ap = ArgumentParser(prog="extract_seconds", description=__doc__)
    ap.add_argument("input_file")
    ap.add_argument("output_file")
    ap.add_argument("--year", type=int, help="year of the log (default: the file's ctime year)")
    a = ap.parse_args(argv)
    secs = extract_seconds(read_lines(a.input_file), a.year or created_year(a.input_file), a.input_file)
    write_text_atomic(a.output_file, "".join("%f\n" % s for s in secs))
    return 0


if __name__ == "__main__":
    run(main, "extract_seconds")
