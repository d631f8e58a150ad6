"""FER CSV parsing: values, .gz, the vectorised path against the line-by-line one, and every bad input."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from fer_caffe_compat.data import fer_csv
from fer_caffe_compat.data.fer_csv import read_fer_csv, write_fer_csv
from fer_caffe_compat.errors import CaffeError

HEADER = "emotion,pixels,Usage\n"


def _rows(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 48, 48)).astype(np.uint8)
    images[0, 0, :4] = [0, 7, 99, 255]  # 1, 2 and 3 digit values
    labels = rng.integers(0, 7, n)
    usage = rng.integers(0, 3, n).astype(np.int8)
    return images, labels, usage


def _line(label, pixels, usage="Training") -> str:
    return f"{label},{' '.join(map(str, pixels))},{usage}\n"


def test_read_fer_csv_round_trips_what_write_fer_csv_wrote(tmp_path):
    images, labels, usage = _rows(50)
    for name in ("a.csv", "a.csv.gz"):
        write_fer_csv(tmp_path / name, images, labels, usage)
        d = read_fer_csv(tmp_path / name)
        np.testing.assert_array_equal(d.images, images)
        np.testing.assert_array_equal(d.labels, labels)
        np.testing.assert_array_equal(d.usage, usage)
    assert (tmp_path / "a.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert d.split("val").tolist() == np.flatnonzero(usage == 1).tolist()


def test_vectorised_and_line_by_line_parsers_agree_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(fer_csv, "_BLOCK", 30000)  # several blocks, cut mid-line
    images, labels, usage = _rows(40, seed=1)
    write_fer_csv(tmp_path / "a.csv", images, labels, usage)
    text = (tmp_path / "a.csv").read_text()
    # quotes and CRLF send blocks to the line-by-line parser
    lines = text.splitlines()
    quoted = lines[0] + "\r\n" + "".join(f'{ln.split(",")[0]},"{ln.split(",")[1]}",{ln.split(",")[2]}\r\n'
                                         for ln in lines[1:])
    (tmp_path / "q.csv").write_text(quoted)
    for name in ("a.csv", "q.csv"):
        d = read_fer_csv(tmp_path / name)
        np.testing.assert_array_equal(d.images, images)
        np.testing.assert_array_equal(d.labels, labels)
        np.testing.assert_array_equal(d.usage, usage)


@pytest.mark.parametrize("name", ["excel.csv", "excel.csv.gz"])
def test_utf8_bom_before_the_header_is_read(tmp_path, name):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark."""
    images, labels, usage = _rows(5, seed=2)
    write_fer_csv(tmp_path / "a.csv", images, labels, usage)
    data = b"\xef\xbb\xbf" + (tmp_path / "a.csv").read_bytes()
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    d = read_fer_csv(tmp_path / name)
    np.testing.assert_array_equal(d.images, images)
    np.testing.assert_array_equal(d.labels, labels)


def test_two_column_csv_is_all_training(tmp_path):
    px = [5] * 2304
    (tmp_path / "t.csv").write_text("emotion,pixels\n" + f"3,{' '.join(map(str, px))}\n")
    d = read_fer_csv(tmp_path / "t.csv")
    assert d.labels.tolist() == [3] and d.usage.tolist() == [0] and int(d.images.sum()) == 5 * 2304


def _bad_cases():
    px = [i % 256 for i in range(2304)]
    good = _line(3, px)
    return [
        ("", r"x\.csv: empty file"),
        ("emotion,pixels,Usage\n", r"x\.csv: no data rows after the header"),
        (good, r"x\.csv:1: expected the header 'emotion,pixels,Usage', found '3,0 1 2"),
        ("emotion,image,Usage\n" + good, r"x\.csv:1: expected the header 'emotion,pixels,Usage', found 'emotion,image,Usage'"),
        (HEADER + good + _line(3, px[:-1]), r"x\.csv:3: expected 2304 pixels, found 2303"),
        (HEADER + good + good + _line(3, px + [1]), r"x\.csv:4: expected 2304 pixels, found 2305"),
        (HEADER + good + _line(3, px[:10] + ["1.5"] + px[11:]), r"x\.csv:3: pixel 11 is not an integer: '1\.5'"),
        (HEADER + good + _line(3, px[:10] + ["abc"] + px[11:]), r"x\.csv:3: pixel 11 is not an integer: 'abc'"),
        (HEADER + good + _line(3, px[:5] + [256] + px[6:]), r"x\.csv:3: pixel 6 is out of range 0\.\.255: 256"),
        (HEADER + good + _line(3, px[:5] + [-1] + px[6:]), r"x\.csv:3: pixel 6 is out of range 0\.\.255: -1"),
        (HEADER + good + _line(7, px), r"x\.csv:3: unknown emotion 7 \(expected 0\.\.6\)"),
        (HEADER + good + _line("happy", px), r"x\.csv:3: emotion 'happy' is not an integer"),
        (HEADER + good + _line(3, px, "Validation"), r"x\.csv:3: unknown Usage 'Validation' \(expected Training, "
                                                      r"PublicTest, PrivateTest\)"),
        (HEADER + good + "3,1 2 3\n", r"x\.csv:3: expected 3 comma-separated fields, found 2"),
    ]


BAD_IDS = ["empty", "header_only", "no_header", "wrong_header", "too_few_pixels", "too_many_pixels", "float_pixel",
           "word_pixel", "pixel_256", "pixel_negative", "emotion_7", "emotion_word", "unknown_usage", "two_fields"]


@pytest.mark.parametrize("content, message", _bad_cases(), ids=BAD_IDS)
def test_bad_csv_names_file_and_line(tmp_path, content, message):
    (tmp_path / "x.csv").write_text(content)
    with pytest.raises(CaffeError, match=message):
        read_fer_csv(tmp_path / "x.csv")


def test_bad_line_number_is_exact_in_later_blocks_of_a_gz(tmp_path, monkeypatch):
    monkeypatch.setattr(fer_csv, "_BLOCK", 30000)
    px = [i % 256 for i in range(2304)]
    text = HEADER + _line(1, px) * 20 + _line(1, px[:-2]) + _line(1, px) * 3
    (tmp_path / "x.csv.gz").write_bytes(gzip.compress(text.encode()))
    with pytest.raises(CaffeError, match=r"x\.csv\.gz:22: expected 2304 pixels, found 2302"):
        read_fer_csv(tmp_path / "x.csv.gz")


def test_corrupt_and_truncated_gz_are_named(tmp_path):
    px = [i % 256 for i in range(2304)]
    data = gzip.compress((HEADER + _line(1, px) * 5).encode())
    (tmp_path / "c.csv.gz").write_bytes(data[:20] + b"\x00garbage" * 50)
    with pytest.raises(CaffeError, match=r"c\.csv\.gz: corrupt gzip data"):
        read_fer_csv(tmp_path / "c.csv.gz")
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CaffeError, match=r"t\.csv\.gz: corrupt gzip data \(truncated gzip stream\)"):
        read_fer_csv(tmp_path / "t.csv.gz")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CaffeError, match=r"nope\.csv: cannot read"):
        read_fer_csv(tmp_path / "nope.csv")
