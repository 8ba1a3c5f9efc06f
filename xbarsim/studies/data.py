"""The datasets of the accuracy studies; all work offline.

* ``fashion-mnist``: Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017; MIT licence), 60,000 training
  and 10,000 test images of 28x28 grey levels scaled to [0, 1], read from the files of Debian's
  ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz``, the
  original IDX files). Without them the loader fails with a one-line install hint; the folder can
  be overridden with the environment variable ``XBARSIM_FASHION_MNIST``.
* ``digits``: scikit-learn's bundled handwritten digits, 1,797 images of 8x8 pixels (values
  0-16, scaled to [0, 1]); a stratified 80/20 split with a fixed seed gives 1,437 training and
  360 test images.
* ``mnist1d``: MNIST-1D (Greydanus, 2020) generated locally with the ``mnist1d`` package's
  procedural generator and its default arguments (seed 42): 4,000 training and 1,000 test
  signals of 40 samples, standardized with the training mean and standard deviation. Nothing
  is downloaded (``make_dataset``, never ``get_dataset``).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from ..errors import ArgumentError

from ..errors import DataError

__all__ = ["Dataset", "load_dataset", "DATASETS", "FASHION_MNIST_DIR", "fashion_mnist_dir"]

DATASETS = ("fashion-mnist", "digits", "mnist1d")

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the Fashion-MNIST files."""

_FASHION_FILES = {"x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
                  "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}


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


def fashion_mnist_dir() -> Path:
    """The Fashion-MNIST folder: ``$XBARSIM_FASHION_MNIST`` if set, else :data:`FASHION_MNIST_DIR`."""
    return Path(os.environ.get("XBARSIM_FASHION_MNIST") or FASHION_MNIST_DIR)


def _idx(path: Path, dims: int) -> np.ndarray:
    """An IDX file of unsigned bytes (LeCun's MNIST format): magic 0x0000080N, N big-endian sizes."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x800 + dims:
        raise DataError(f"{path}: expected an IDX file of {dims}-D unsigned bytes, got magic number {magic:#x}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{path}: expected {int(np.prod(shape))} values for shape {shape}, got {body.size}")
    return body.reshape(shape)


def _fashion_mnist() -> Dataset:
    folder = fashion_mnist_dir()
    missing = [name for name in _FASHION_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise DataError(f"fashion-mnist: expected the Fashion-MNIST files in {folder}, got none of {missing[0]}"
                        + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                        + " (install them with: apt-get install dataset-fashion-mnist)")
    try:
        arrays = {key: _idx(folder / name, 3 if key.startswith("x") else 1) for key, name in _FASHION_FILES.items()}
    except (OSError, EOFError) as exc:  # a truncated or damaged gzip file
        raise DataError(f"fashion-mnist: cannot read {folder}: {exc}") from None
    images = {key: (arrays[key].astype(np.float32) / np.float32(255.0))[:, None] for key in ("x_train", "x_test")}
    return Dataset("fashion-mnist", images["x_train"], arrays["y_train"].astype(np.int64),
                   images["x_test"], arrays["y_test"].astype(np.int64), 10)


@lru_cache(maxsize=None)
def load_dataset(name: str) -> Dataset:
    """One of :data:`DATASETS` (generated or loaded once per process)."""
    if name == "fashion-mnist":
        return _fashion_mnist()
    if name == "digits":
        return _digits()
    if name == "mnist1d":
        return _mnist1d()
    raise ArgumentError(f"dataset: expected one of {', '.join(DATASETS)}, got {name!r}")
