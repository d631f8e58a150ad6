"""Batched augmentation (extension): geometry against OpenCV, statistics of the draws, determinism."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from fer_caffe_compat.data.augment import Augmenter, build_augmenter
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt

N, H, W = 512, 44, 44


def _tp(text: str, scale: float = 1.0) -> caffe_pb2.TransformationParameter:
    tp = parse_prototxt(f"augment {{ {text} }}", caffe_pb2.TransformationParameter())
    tp.scale = scale
    return tp


def _aug(text: str, seed: int = 7, scale: float = 1.0) -> Augmenter:
    aug = build_augmenter(_tp(text, scale), caffe_pb2.TRAIN, "layer data", seed)
    assert aug is not None
    return aug


def _batch(n: int = N, seed: int = 0) -> torch.Tensor:
    g = np.random.default_rng(seed)
    imgs = [cv2.GaussianBlur(g.uniform(-100, 100, (H, W)).astype(np.float32), (0, 0), 3) for _ in range(n)]
    return torch.from_numpy(np.stack(imgs)[:, None])


def test_nothing_to_do_gives_no_augmenter():
    assert build_augmenter(caffe_pb2.TransformationParameter(), caffe_pb2.TRAIN, "l", 1) is None
    assert build_augmenter(_tp(""), caffe_pb2.TRAIN, "l", 1) is None
    assert build_augmenter(_tp("rotate_degrees: 10"), caffe_pb2.TEST, "l", 1) is None  # TRAIN only


@pytest.mark.parametrize("padding, border", [("ZERO", cv2.BORDER_CONSTANT), ("REFLECT", cv2.BORDER_REFLECT),
                                             ("BORDER", cv2.BORDER_REPLICATE)])
def test_warp_equals_opencv_warp_affine(padding, border):
    aug = _aug(f"rotate_degrees: 30 scale_min: 0.6 aspect_min: 0.75 aspect_max: 1.33 translate_pixels: 5 "
               f"padding: {padding}")
    x = _batch(6)
    gen_state = aug.gen.get_state()
    out, _ = aug(x)
    aug.gen.set_state(gen_state)
    d = aug.draw(6, H, W)
    for k in range(6):
        hw, hh = math.sqrt(d.area[k] * d.aspect[k]), math.sqrt(d.area[k] / d.aspect[k])
        c, s = math.cos(d.angle[k]), math.sin(d.angle[k])
        a = np.array([[c * min(hw, 1), -s * min(hh, 1)], [s * min(hw, 1), c * min(hh, 1)]])
        b = np.array([d.centre[k, 0] + 2 * d.shift[k, 0] / W, d.centre[k, 1] + 2 * d.shift[k, 1] / H])
        # pixel <-> normalised coordinates of align_corners=False: u = S x + t
        S, t = np.diag([2 / W, 2 / H]), np.array([1 / W - 1, 1 / H - 1])
        m = np.hstack([np.linalg.inv(S) @ a @ S, (np.linalg.inv(S) @ (a @ t + b - t))[:, None]])
        ref = cv2.warpAffine(x[k, 0].numpy(), m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=border, borderValue=0)
        # OpenCV interpolates with 1/32-pixel weights; the images are smooth
        assert np.abs(out[k, 0].numpy() - ref).max() < 1.0, f"image {k}: {np.abs(out[k, 0].numpy() - ref).max()}"


def test_identity_parameters_leave_the_batch_unchanged():
    aug = _aug("translate_pixels: 0.000001")
    x = _batch(4)
    assert torch.allclose(aug(x)[0], x, atol=1e-3)


def test_draw_statistics():
    aug = _aug("rotate_degrees: 15 scale_min: 0.5 scale_max: 0.9 aspect_min: 0.5 aspect_max: 2 "
               "translate_pixels: 4 brightness: 0.1 contrast: 0.3 erase_prob: 0.25")
    d = aug.draw(20000, H, W)
    deg = d.angle * 180 / math.pi
    assert -15 <= deg.min() and deg.max() <= 15
    assert abs(float(deg.mean())) < 0.3 and float(deg.std()) == pytest.approx(15 / math.sqrt(3), rel=0.03)
    assert 0.5 <= d.area.min() and d.area.max() <= 0.9 and float(d.area.mean()) == pytest.approx(0.7, abs=0.01)
    assert float(torch.log(d.aspect).mean()) == pytest.approx(0, abs=0.02)  # log-uniform about 1
    assert d.shift.abs().max() <= 4 and float(d.shift.mean()) == pytest.approx(0, abs=0.05)
    assert float(d.brightness.abs().max()) <= 0.1
    assert 0.7 <= d.contrast.min() and d.contrast.max() <= 1.3
    assert float(d.erase.double().mean()) == pytest.approx(0.25, abs=0.015)  # 5 sigma of a binomial
    # the crop window stays inside the image
    half = torch.stack([torch.sqrt(d.area * d.aspect).clamp(max=1), torch.sqrt(d.area / d.aspect).clamp(max=1)], 1)
    assert bool(((d.centre.abs() + half) <= 1 + 1e-12).all())


def test_brightness_and_contrast_act_per_image():
    x = _batch(256)
    b, _ = _aug("brightness: 0.1", scale=1 / 255)(x * (1 / 255))
    shift = (b - x / 255).mean(dim=(1, 2, 3))
    assert float(shift.abs().max()) <= 0.1 + 1e-6  # b is a fraction of the 8-bit range (255 * scale)
    assert float(shift.std()) == pytest.approx(0.1 / math.sqrt(3), rel=0.15)
    c, _ = _aug("contrast: 0.4")(x)
    ratio = (c - c.mean(dim=(1, 2, 3), keepdim=True)).std(dim=(1, 2, 3)) / \
        (x - x.mean(dim=(1, 2, 3), keepdim=True)).std(dim=(1, 2, 3))
    assert 0.6 - 1e-4 <= float(ratio.min()) and float(ratio.max()) <= 1.4 + 1e-4
    assert torch.allclose(c.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-3)  # about the image mean


def test_erasing_sets_rectangles_to_the_mean():
    x = _batch(N) + 1000  # no pixel is 0 before
    out, _ = _aug("erase_prob: 0.5 erase_area_min: 0.05 erase_area_max: 0.2")(x)
    zero = (out == 0).reshape(N, -1)
    erased = zero.any(1)
    assert float(erased.double().mean()) == pytest.approx(0.5, abs=0.1)
    frac = zero[erased].double().mean(1)
    assert 0.03 <= float(frac.min()) and float(frac.max()) <= 0.23  # area bounds, up to rounding of h, w
    assert torch.equal(out[~erased], x[~erased])


def test_same_seed_same_batch_other_seed_other_batch():
    text = "rotate_degrees: 10 scale_min: 0.8 erase_prob: 0.5 brightness: 0.1"
    x = _batch(32)
    a1, a2, b = _aug(text, seed=3), _aug(text, seed=3), _aug(text, seed=4)
    for _ in range(3):
        o1, o2, o3 = a1(x)[0], a2(x)[0], b(x)[0]
        assert torch.equal(o1, o2)
        assert not torch.equal(o1, o3)


def test_labels_pass_through_and_float64_batches_work():
    x, y = _batch(8).double(), torch.arange(8.0)
    out, lab = _aug("rotate_degrees: 10")(x, y)
    assert out.dtype == torch.float64 and out.shape == x.shape and lab is y


K = 7


def _flat(n: int = K) -> tuple[torch.Tensor, torch.Tensor]:
    """Image i is the constant 10 + i and has label i % K: every pixel tells where it came from."""
    x = (10 + torch.arange(n, dtype=torch.float32)).view(n, 1, 1, 1).expand(n, 1, H, W).contiguous()
    return x, torch.arange(n, dtype=torch.float32) % K


@pytest.mark.parametrize("text", [f"mixup_alpha: 0.4 num_classes: {K}", f"cutmix_alpha: 1 num_classes: {K}"])
def test_mixing_takes_pixels_and_labels_in_the_same_proportions(text):
    aug = _aug(text)
    x, y = _flat()
    for _ in range(20):
        state = aug.gen.get_state()
        out, rows = aug(x, y)
        aug.gen.set_state(state)
        aug.draw(K, H, W)
        m = aug.draw_mix(K, H, W)
        assert rows.shape == (K, K) and rows.dtype == torch.float32
        assert torch.allclose(rows.sum(1), torch.ones(K))
        for i in range(K):
            j = int(m.perm[i])
            if m.box is None:  # mixup: every pixel is the blend
                assert torch.allclose(out[i], torch.full_like(out[i], m.lam * (10 + i) + (1 - m.lam) * (10 + j)))
            else:  # cutmix: the partner's share of the pixels is its label weight
                own = float((out[i] == 10 + i).double().mean()) if i != j else 1.0
                assert own == pytest.approx(m.lam if i != j else 1.0, abs=1e-9)
            if i != j:
                assert float(rows[i, i]) == pytest.approx(m.lam) and float(rows[i, j]) == pytest.approx(1 - m.lam)


def test_mixing_draw_statistics():
    """l ~ Beta(a, a) (a Kolmogorov-Smirnov test against scipy's), a cutmix box has area fraction about
    1 - l and lies inside the image, and with both alphas each kind takes about half of the batches."""
    from scipy import stats

    aug = _aug(f"mixup_alpha: 0.2 num_classes: {K}")
    lams = [aug.draw_mix(8, H, W).lam for _ in range(2000)]
    assert stats.kstest(lams, stats.beta(0.2, 0.2).cdf).pvalue > 1e-3
    aug = _aug(f"cutmix_alpha: 1 num_classes: {K}")
    for _ in range(500):
        m = aug.draw_mix(8, H, W)
        y0, x0, y1, x1 = m.box
        assert 0 <= y0 <= y1 <= H and 0 <= x0 <= x1 <= W
        assert m.lam == pytest.approx(1 - (y1 - y0) * (x1 - x0) / (H * W))
    aug = _aug(f"mixup_alpha: 0.2 cutmix_alpha: 1 num_classes: {K}")
    cut = sum(aug.draw_mix(8, H, W).box is not None for _ in range(2000))
    assert cut == pytest.approx(1000, abs=5 * math.sqrt(500))  # 5 sigma of a binomial


def test_mixing_comes_last_and_is_seeded():
    """A batch is the batch without mixing, then mixed; the same seed gives the same batches."""
    x, y = _batch(16), torch.arange(16.0) % K
    text = "rotate_degrees: 10 erase_prob: 0.5"
    plain, mixed = _aug(text), _aug(f"{text} mixup_alpha: 0.3 num_classes: {K}")
    out, _ = mixed(x, y)
    mixed.gen.manual_seed(7)
    mixed.draw(16, H, W)
    m = mixed.draw_mix(16, H, W)
    p, _ = plain(x, y)
    assert torch.allclose(out, m.lam * p + (1 - m.lam) * p[m.perm], atol=1e-4)
    a1, a2, b = (_aug(f"{text} cutmix_alpha: 1 num_classes: {K}", seed=s) for s in (3, 3, 4))
    for _ in range(3):
        (o1, r1), (o2, r2), (o3, r3) = a1(x, y), a2(x, y), b(x, y)
        assert torch.equal(o1, o2) and torch.equal(r1, r2)
        assert not torch.equal(o1, o3)


def test_mixing_needs_labels_of_its_classes():
    aug = _aug(f"mixup_alpha: 0.2 num_classes: {K}")
    with pytest.raises(CaffeError, match="^layer data: mixup_alpha / cutmix_alpha mix the labels: "
                                         "the layer needs a label top$"):
        aug(_batch(4))
    with pytest.raises(CaffeError, match="^layer data: label 7 is not a class of transform_param.augment "
                                         "num_classes 7$"):
        aug(_batch(4), torch.tensor([0.0, 1.0, 7.0, 2.0]))


@pytest.mark.parametrize("text, msg", [
    ("scale_min: 0.9 scale_max: 0.5", "need 0 < scale_min <= scale_max <= 1, found 0.9, 0.5"),
    ("aspect_min: 0", "need 0 < aspect_min <= aspect_max"),
    ("rotate_degrees: -1", r"rotate_degrees must be in \[0, 180\]"),
    ("contrast: 2", r"contrast must be in \[0, 1\]"),
    ("erase_prob: 1.5", r"erase_prob must be in \[0, 1\]"),
    ("mixup_alpha: -1 num_classes: 7", "mixup_alpha must be >= 0, found -1"),
    ("cutmix_alpha: 1", "mixup_alpha and cutmix_alpha need num_classes"),
])
def test_bad_parameters_are_one_line_errors(text, msg):
    with pytest.raises(CaffeError, match=rf"^layer data: transform_param.augment: {msg}"):
        build_augmenter(_tp(text), caffe_pb2.TRAIN, "layer data", 1)
    with pytest.raises(CaffeError):  # checked in TEST too, where nothing is applied
        build_augmenter(_tp(text), caffe_pb2.TEST, "layer data", 1)
