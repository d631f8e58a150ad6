from __future__ import annotations

import pytest
from PIL import Image

from fer_caffe_compat.cli import draw_net
from fer_caffe_compat.errors import CaffeError

from ..eval.tiny import DEPLOY, TRAIN_VAL


def test_draw_net_writes_a_png_top_to_bottom(tmp_path):
    out = tmp_path / "net.png"
    assert draw_net.main([str(DEPLOY), str(out), "--rankdir", "TB"]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[1] > im.size[0]  # 6 layers stacked vertically


def test_draw_net_phase_and_svg(tmp_path):
    out = tmp_path / "net.svg"
    assert draw_net.main([str(TRAIN_VAL), str(out), "--phase", "TRAIN"]) == 0
    svg = out.read_text()
    assert "Batch 8" in svg and "Accuracy" not in svg


def test_draw_net_syntax_error_names_file_line_column(tmp_path):
    bad = tmp_path / "bad.prototxt"
    bad.write_text('name: "x"\nlayer { name: "a" type: "Input" top: "data" oops }\n')
    with pytest.raises(CaffeError, match=r"bad\.prototxt:2:\d+: "):
        draw_net.main([str(bad), str(tmp_path / "x.png")])
    with pytest.raises(SystemExit):
        draw_net.main([str(DEPLOY), str(tmp_path / "x.png"), "--rankdir", "XY"])
    assert not (tmp_path / "x.png").exists()
