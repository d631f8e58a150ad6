"""tools/check_pretrained on a stand-in pretrained folder: the card's numbers are found again; a card that
claims other numbers, other weights or other rows is refused in one line."""
from __future__ import annotations

import json
import shutil

import pytest

from fer_caffe_compat.cli import check_pretrained
from fer_caffe_compat.errors import CaffeError

from ..eval.fake_pretrained import make_pretrained, write_csv


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return make_pretrained(tmp_path_factory.mktemp("check"))


@pytest.fixture
def copy(made, tmp_path):
    folder, _ = made
    shutil.copytree(folder, tmp_path / "pretrained")
    return tmp_path / "pretrained"


def _edit(folder, change) -> None:
    card = json.loads((folder / "model.json").read_text())
    change(card)
    (folder / "model.json").write_text(json.dumps(card))


def test_the_card_is_found_again(made, capsys):
    folder, csv = made
    assert check_pretrained.main(["--dir", str(folder), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("14 PublicTest rows, the card's very rows")
    assert [line.split()[1] for line in out[1:3]] == ["none", "flip"]
    assert all(line.endswith("ok") and "+0.00 points" in line for line in out[1:3])
    assert out[-1] == "check_pretrained: the model scores as its card says"


@pytest.mark.parametrize("points, fails", [(0.09, False), (0.2, True)])
def test_accuracy_tolerance_is_in_points(made, copy, points, fails):
    _, csv = made
    _edit(copy, lambda c: c["publictest"]["tta"]["flip"].update(
        accuracy=c["publictest"]["tta"]["flip"]["accuracy"] + points / 100))
    if not fails:
        assert check_pretrained.main(["--dir", str(copy), "--csv", str(csv)]) == 0
        return
    with pytest.raises(CaffeError, match=r"scores differently .*tta flip: accuracy -0\.20, macro F1 \+0\.00 points"):
        check_pretrained.main(["--dir", str(copy), "--csv", str(csv)])


def test_other_weights_are_refused_before_scoring(made, copy):
    _, csv = made
    _edit(copy, lambda c: c.update(weights_sha256="0" * 64))
    with pytest.raises(CaffeError, match="fer_cpu_hour.caffemodel: sha256 .* is not the card's 0000"):
        check_pretrained.main(["--dir", str(copy), "--csv", str(csv)])


def test_other_rows_are_named(made, tmp_path, capsys):
    folder, _ = made
    other = write_csv(tmp_path / "other.csv", seed=1)
    with pytest.raises(CaffeError):
        check_pretrained.main(["--dir", str(folder), "--csv", str(other)])
    assert "NOT the rows of the card's public.csv" in capsys.readouterr().out
    short = write_csv(tmp_path / "short.csv", n=5)
    with pytest.raises(CaffeError, match="5 PublicTest rows, the card scored 14"):
        check_pretrained.main(["--dir", str(folder), "--csv", str(short)])
