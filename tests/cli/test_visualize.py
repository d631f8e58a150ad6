from __future__ import annotations

import cv2
import pytest
from PIL import Image
from skimage import data

from fer_caffe_compat.cli import visualize
from fer_caffe_compat.errors import CaffeError

from ..eval.tiny import DEPLOY, MEAN, SCALE, save_weights


@pytest.fixture(scope="module")
def w48(tmp_path_factory):
    return save_weights(tmp_path_factory.mktemp("w") / "tiny48.caffemodel", 48)


def test_filter_grid_png_of_conv1(w48, tmp_path):
    out = tmp_path / "filters.png"
    assert visualize.main(["--model", str(DEPLOY), "--weights", str(w48), "--layer", "conv1", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (106, 106)  # 4 filters of 5x5 -> 2x2 tiles of 50 px, 2 px separators


def test_feature_maps_png_of_a_blob(w48, tmp_path):
    img = tmp_path / "face.png"
    cv2.imwrite(str(img), cv2.cvtColor(data.astronaut()[67:160, 177:270], cv2.COLOR_RGB2GRAY))
    out = tmp_path / "maps.png"
    assert visualize.main(["--model", str(DEPLOY), "--weights", str(w48), "--mean", str(MEAN), "--scale",
                           str(SCALE), "--blob", "conv1", "--image", str(img), "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (138, 138)  # 4 maps of 22x22 -> 2x2 tiles of 66 px


def test_unknown_layer_or_blob_lists_the_known_ones(w48, tmp_path):
    with pytest.raises(CaffeError, match="no convolution layer named 'ip1' \\(convolution layers: conv1\\)"):
        visualize.main(["--model", str(DEPLOY), "--weights", str(w48), "--layer", "ip1", "--out",
                        str(tmp_path / "x.png")])
    img = tmp_path / "g.png"
    cv2.imwrite(str(img), data.camera())
    with pytest.raises(CaffeError, match="no blob named 'conv9' \\(blobs: data, conv1, pool1, ip1, prob\\)"):
        visualize.main(["--model", str(DEPLOY), "--weights", str(w48), "--blob", "conv9", "--image", str(img),
                        "--out", str(tmp_path / "x.png")])
    assert not (tmp_path / "x.png").exists()
