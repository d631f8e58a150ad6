"""Classic baselines of the FER write-ups: PCA, LBP or HOG features into an SVC, a Random Forest or gradient
boosting (scikit-image features, scikit-learn models), trained on Training and scored on PublicTest.

Features, each from the 48x48 uint8 faces:
  pca  the pixels projected on the Training set's first ``pca_components`` principal components
  lbp  skimage's uniform LBP (P=8, R=1) codes, histogrammed over a 6x6 grid of 8x8 cells (10 bins each)
  hog  skimage's HOG: 9 orientations, 8x8-pixel cells, 2x2-cell blocks (L2-Hys)
Models: svc (RBF kernel; its one-vs-rest decision values are the scores), rf (RandomForestClassifier), gbm
(HistGradientBoostingClassifier); rf and gbm give class probabilities. Features are standardised for the SVC
(StandardScaler on Training) unless ``scale`` is False.

The SVC's fit grows with the square of the sample count, so it trains on a stratified subsample of Training
(``DEFAULT_TRAIN_SAMPLES``) to stay within 10 minutes on 2 cores; the trees use every row.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..errors import CaffeError

FEATURES = ("pca", "lbp", "hog")
MODELS = ("svc", "rf", "gbm")
DEFAULT_TRAIN_SAMPLES = {"svc": 10_000, "rf": None, "gbm": None}  # None: all Training rows
LBP_P, LBP_R, LBP_CELL = 8, 1, 8
HOG_ORIENTATIONS, HOG_CELL, HOG_BLOCK = 9, 8, 2


@dataclass
class BaselineConfig:
    features: str
    model: str
    train_samples: int | None = None  # None: the model's default (DEFAULT_TRAIN_SAMPLES)
    pca_components: int = 100
    svc_c: float = 1.0
    svc_gamma: str | float = "scale"  # "scale", "auto" (1 / n_features) or a number
    scale: bool = True  # standardise the features before the SVC
    trees: int = 200
    gbm_iters: int = 100  # boosting rounds (HistGradientBoostingClassifier's max_iter)
    seed: int = 0
    jobs: int = 2

    def __post_init__(self):
        if self.features not in FEATURES:
            raise CaffeError(f"unknown features {self.features!r} (known: {', '.join(FEATURES)})")
        if self.model not in MODELS:
            raise CaffeError(f"unknown model {self.model!r} (known: {', '.join(MODELS)})")
        if self.train_samples is not None and self.train_samples < 2:
            raise CaffeError(f"train_samples {self.train_samples}: need at least 2")
        for what in ("pca_components", "trees", "gbm_iters", "jobs"):
            if getattr(self, what) < 1:
                raise CaffeError(f"{what} {getattr(self, what)}: need at least 1")
        if self.svc_c <= 0:
            raise CaffeError(f"svc_c {self.svc_c}: must be positive")

    @property
    def samples(self) -> int | None:
        return self.train_samples if self.train_samples is not None else DEFAULT_TRAIN_SAMPLES[self.model]


@dataclass
class BaselineResult:
    scores: np.ndarray  # (N, K): probabilities (rf, gbm) or decision values (svc)
    train_rows: int
    seconds: dict[str, float] = field(default_factory=dict)


def lbp_histograms(images: np.ndarray, progress: bool = True) -> np.ndarray:
    """(N, cells * (P + 2)) float32: per cell, the normalised histogram of the uniform LBP codes."""
    from skimage.feature import local_binary_pattern

    n, h, w = images.shape
    gh, gw = h // LBP_CELL, w // LBP_CELL
    bins = LBP_P + 2
    out = np.empty((n, gh * gw * bins), np.float32)
    for i in tqdm(range(n), desc="lbp", unit="img", disable=not progress, leave=False):
        codes = local_binary_pattern(images[i], LBP_P, LBP_R, method="uniform").astype(np.int64)
        cells = codes[:gh * LBP_CELL, :gw * LBP_CELL].reshape(gh, LBP_CELL, gw, LBP_CELL).transpose(0, 2, 1, 3)
        cells = cells.reshape(gh * gw, -1)
        counts = np.zeros((gh * gw, bins), np.float32)
        np.add.at(counts, (np.repeat(np.arange(gh * gw), cells.shape[1]), cells.ravel()), 1)
        out[i] = (counts / cells.shape[1]).ravel()
    return out


def hog_features(images: np.ndarray, progress: bool = True) -> np.ndarray:
    """(N, D) float32 HOG descriptors (D = 900 for 48x48 faces)."""
    from skimage.feature import hog

    rows = [hog(img, orientations=HOG_ORIENTATIONS, pixels_per_cell=(HOG_CELL, HOG_CELL),
                cells_per_block=(HOG_BLOCK, HOG_BLOCK), block_norm="L2-Hys", feature_vector=True)
            for img in tqdm(images, desc="hog", unit="img", disable=not progress, leave=False)]
    return np.asarray(rows, np.float32)


def subsample(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Row indices: all, or a stratified random ``n`` of them (each class keeps its share)."""
    if n is None or n >= labels.size:
        return np.arange(labels.size)
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(labels.size), train_size=n, stratify=labels, random_state=seed)
    return np.sort(idx)


def _model(cfg: BaselineConfig):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if cfg.model == "svc":
        gamma = cfg.svc_gamma if cfg.svc_gamma in ("scale", "auto") else float(cfg.svc_gamma)
        svc = SVC(kernel="rbf", C=cfg.svc_c, gamma=gamma, decision_function_shape="ovr", random_state=cfg.seed)
        return make_pipeline(StandardScaler(), svc) if cfg.scale else svc
    if cfg.model == "rf":
        return RandomForestClassifier(n_estimators=cfg.trees, n_jobs=cfg.jobs, random_state=cfg.seed)
    return HistGradientBoostingClassifier(max_iter=cfg.gbm_iters, random_state=cfg.seed)


def features(cfg: BaselineConfig, train: np.ndarray, test: np.ndarray, progress: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
    """(train features, test features); PCA is fitted on the training images only."""
    if cfg.features == "pca":
        from sklearn.decomposition import PCA

        k = min(cfg.pca_components, *train.reshape(len(train), -1).shape)
        pca = PCA(n_components=k, svd_solver="randomized", random_state=cfg.seed)
        a = pca.fit_transform(train.reshape(len(train), -1).astype(np.float32))
        return a, pca.transform(test.reshape(len(test), -1).astype(np.float32))
    fn = lbp_histograms if cfg.features == "lbp" else hog_features
    return fn(train, progress), fn(test, progress)


def run_baseline(cfg: BaselineConfig, train_images: np.ndarray, train_labels: np.ndarray,
                 test_images: np.ndarray, num_classes: int, progress: bool = True) -> BaselineResult:
    """Fit on (a subsample of) the training faces; scores (N_test, num_classes) of the test faces."""
    t0 = time.perf_counter()
    rows = subsample(train_labels, cfg.samples, cfg.seed)
    x_train, x_test = features(cfg, train_images[rows], test_images, progress)
    y = train_labels[rows]
    t1 = time.perf_counter()
    model = _model(cfg)
    model.fit(x_train, y)
    t2 = time.perf_counter()
    if cfg.model == "svc":
        raw = model.decision_function(x_test)
        seen = model.classes_ if hasattr(model, "classes_") else model[-1].classes_
    else:
        raw = model.predict_proba(x_test)
        seen = model.classes_
    if raw.ndim == 1:  # two classes: sklearn gives one column, the second class's score or decision
        raw = np.stack([1.0 - raw, raw] if cfg.model != "svc" else [-raw, raw], axis=1)
    fill = raw.min() - 1.0 if cfg.model == "svc" else 0.0  # a class absent from training never wins
    scores = np.full((len(test_images), num_classes), fill, dtype=np.float64)
    scores[:, np.asarray(seen, dtype=np.int64)] = raw.reshape(len(test_images), -1)
    t3 = time.perf_counter()
    return BaselineResult(scores, int(rows.size),
                          {"features": t1 - t0, "fit": t2 - t1, "predict": t3 - t2, "total": t3 - t0})
