"""The two datasets of the accuracy studies; both work offline.

* ``digits``: scikit-learn's bundled handwritten digits, 1,797 images of 8x8 pixels (values
  0-16, scaled to [0, 1]); a stratified 80/20 split with a fixed seed gives 1,437 training and
  360 test images.
* ``mnist1d``: MNIST-1D (Greydanus, 2020) generated locally with the ``mnist1d`` package's
  procedural generator and its default arguments (seed 42): 4,000 training and 1,000 test
  signals of 40 samples, standardized with the training mean and standard deviation. Nothing
  is downloaded (``make_dataset``, never ``get_dataset``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ..errors import ArgumentError

__all__ = ["Dataset", "load_dataset", "DATASETS"]

DATASETS = ("digits", "mnist1d")


@dataclass(frozen=True)
class Dataset:
    """Images as (N, C, H, W) float arrays (1-D signals with H = 1) and integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def shape(self):
        """(C, H, W) of one example."""
        return self.x_train.shape[1:]

    def calibration(self, count: int = 256) -> np.ndarray:
        """A fixed slice of training examples for calibrating quantization."""
        return self.x_train[:count]


def _digits() -> Dataset:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise ImportError("the digits dataset needs scikit-learn: pip install scikit-learn") from None
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    return Dataset("digits", x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), 10)


def _mnist1d() -> Dataset:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:  # pragma: no cover - mnist1d is a dependency
        raise ImportError("the MNIST-1D dataset needs the mnist1d package: pip install mnist1d") from None
    data = make_dataset(get_dataset_args())
    mean, std = float(data["x"].mean()), float(data["x"].std())
    x_train = ((data["x"] - mean) / std).reshape(-1, 1, 1, 40)
    x_test = ((data["x_test"] - mean) / std).reshape(-1, 1, 1, 40)
    return Dataset("mnist1d", x_train, np.asarray(data["y"], dtype=np.int64), x_test,
                   np.asarray(data["y_test"], dtype=np.int64), 10)


@lru_cache(maxsize=None)
def load_dataset(name: str) -> Dataset:
    """One of :data:`DATASETS` (generated or loaded once per process)."""
    if name == "digits":
        return _digits()
    if name == "mnist1d":
        return _mnist1d()
    raise ArgumentError(f"dataset: expected one of {', '.join(DATASETS)}, got {name!r}")
