"""Content checksums of a trace: damage is detected where it is read, whatever the schema.

When a trace is committed, the writer reads back every object of the file and stores, in the
root attribute ``checksums`` (JSON), a BLAKE2b digest of each object's attributes and of each
dataset's values: ``{"/": {"attrs": hex}, "/stream/ops": {"attrs": hex, "data": hex}, ...}``.
The reader checks the attributes and the list of objects when it opens a trace, and each
dataset's values when it first reads them whole. A flipped byte, a truncated chunk, an edited
attribute or a removed dataset therefore surfaces as one :class:`~xbarsim.errors.TraceError`
naming the part, instead of as a wrong number or a crash deep inside a replay.

Digests are over values, not bytes on disk: ``h5repack`` or another compression keeps a
trace valid. A value is hashed as its dtype and shape, then its elements in C order
(fixed-size types as little-endian bytes; variable-length strings as an 8-byte length and
the UTF-8 bytes), so reading a dataset in slices gives the same digest as reading it whole.
"""

from __future__ import annotations

import hashlib
import json
from typing import Dict, Iterator

import h5py
import numpy as np

__all__ = ["ATTRIBUTE", "DataDigest", "attrs_digest", "compute", "dataset_slices"]

ATTRIBUTE = "checksums"
"""Root attribute holding the digests (JSON); itself not covered."""
_SLICE_BYTES = 16 << 20


def _hasher():
    return hashlib.blake2b(digest_size=16)


def _value_bytes(value) -> bytes:
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes):
        return b"b" + value
    array = np.asarray(value)
    if array.dtype.kind in "OU":
        return b"o" + repr(array.tolist()).encode("utf-8", "surrogatepass")
    return b"n" + repr((str(array.dtype.descr), array.shape)).encode() + np.ascontiguousarray(array).tobytes()


def attrs_digest(obj) -> str:
    """Digest of an object's attributes (names sorted; the root's ``checksums`` left out)."""
    h = _hasher()
    for name in sorted(obj.attrs.keys()):
        if name == ATTRIBUTE and obj.name == "/":
            continue
        encoded = name.encode("utf-8", "surrogatepass")
        h.update(len(encoded).to_bytes(8, "little") + encoded)
        data = _value_bytes(obj.attrs[name])
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


class DataDigest:
    """Incremental digest of a dataset's values, fed slice by slice in order."""

    def __init__(self, dataset: h5py.Dataset):
        self._h = _hasher()
        self._h.update(repr((str(dataset.dtype.descr), dataset.shape)).encode())

    def update(self, values) -> None:
        array = np.asarray(values)
        if array.dtype.kind == "O":
            for item in array.reshape(-1):
                data = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else bytes(item)
                self._h.update(len(data).to_bytes(8, "little") + data)
        elif isinstance(values, bytes):  # a scalar variable-length string read with [()]
            self._h.update(len(values).to_bytes(8, "little") + values)
        else:
            self._h.update(np.ascontiguousarray(array).tobytes())

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def dataset_slices(dataset: h5py.Dataset) -> Iterator:
    """The values of ``dataset`` in consecutive row slices of about 16 MB (whole if scalar)."""
    if dataset.shape is None:  # an empty (null) dataspace
        return
    if dataset.shape == ():
        yield dataset[()]
        return
    rows = dataset.shape[0]
    row_bytes = max(1, dataset.dtype.itemsize * int(np.prod(dataset.shape[1:], dtype=np.int64)))
    step = max(1, _SLICE_BYTES // row_bytes)
    for start in range(0, rows, step):
        yield dataset[start:start + step]


def compute(file: h5py.File) -> Dict[str, Dict[str, str]]:
    """Digests of every object in an open file (what the writer stores and the reader checks)."""
    digests = {"/": {"attrs": attrs_digest(file)}}
    objects = []
    file.visititems(lambda name, obj: objects.append(obj))
    for obj in objects:
        entry = {"attrs": attrs_digest(obj)}
        if isinstance(obj, h5py.Dataset):
            digest = DataDigest(obj)
            for values in dataset_slices(obj):
                digest.update(values)
            entry["data"] = digest.hexdigest()
        digests[obj.name] = entry
    return digests


def encode(digests: Dict[str, Dict[str, str]]) -> str:
    return json.dumps(digests, sort_keys=True, separators=(",", ":"))
