"""Shared test helpers. Tests never read ../shared: golden files live in tests/fixtures/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _quiet_glog():
    """Keep glog lines of the code under test off the terminal; tests that check logs use capsys/files."""
    from fer_caffe_compat import log

    old = log.quiet
    log.quiet = os.environ.get("FER_TEST_VERBOSE") is None
    yield
    log.quiet = old


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
