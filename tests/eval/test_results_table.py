"""Markdown tables and the generated blocks of a file."""
from __future__ import annotations

import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval.results_table import markdown_table, replace_block


def test_markdown_table_right_aligns_the_given_columns():
    assert markdown_table(["a", "b"], [[1, "x"], [22, "y"]], right=(0,)) == (
        "| a | b |\n| ---: | --- |\n| 1 | x |\n| 22 | y |\n")


def test_replace_block_swaps_only_the_text_between_the_markers(tmp_path):
    f = tmp_path / "README.md"
    f.write_text("head\n<!-- t: begin (generated) -->\nold\nrows\n<!-- t: end -->\ntail\n")
    replace_block(f, "t", "| new |\n")
    assert f.read_text() == "head\n<!-- t: begin (generated) -->\n| new |\n<!-- t: end -->\ntail\n"
    with pytest.raises(CaffeError, match="README.md: no '<!-- u: begin"):
        replace_block(f, "u", "x")
