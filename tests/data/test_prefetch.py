"""The prefetch thread: batches in order, a rewind puts the reader back where the consumer is, errors in order."""
from __future__ import annotations

import pytest

from fer_caffe_compat.data.prefetch import Prefetcher
from fer_caffe_compat.errors import CaffeError


class Counter:
    """A reader whose state is the next number; it fails on ``bad``."""

    def __init__(self, bad: int | None = None):
        self.n, self.bad = 0, bad

    def produce(self) -> int:
        v, self.n = self.n, self.n + 1
        if v == self.bad:
            raise CaffeError(f"record {v}: not a serialized Datum")
        return v

    def state(self) -> int:
        return self.n

    def restore(self, s: int) -> None:
        self.n = s


def prefetcher(reader: Counter, depth: int) -> Prefetcher:
    return Prefetcher(reader.produce, reader.state, reader.restore, depth)


@pytest.mark.parametrize("depth", [0, 1, 4])
def test_batches_come_in_order(depth):
    p = prefetcher(Counter(), depth)
    assert [p.next() for _ in range(10)] == list(range(10))
    p.close()


@pytest.mark.parametrize("depth", [0, 1, 4])
def test_rewind_leaves_the_reader_after_the_consumed_batches(depth):
    r = Counter()
    p = prefetcher(r, depth)
    assert [p.next() for _ in range(3)] == [0, 1, 2]
    p.rewind()
    assert r.n == 3  # batches read ahead are given back
    r.n += 5  # a move from outside (Solver.skip_data_to_iteration)
    assert [p.next() for _ in range(2)] == [8, 9]
    p.close()


@pytest.mark.parametrize("depth", [0, 4])
def test_an_error_comes_with_the_batch_that_fails_and_again_on_retry(depth):
    r = Counter(bad=2)
    p = prefetcher(r, depth)
    assert [p.next(), p.next()] == [0, 1]
    for _ in range(2):
        with pytest.raises(CaffeError, match="record 2: not a serialized Datum"):
            p.next()
        assert r.n == 2
    p.close()
