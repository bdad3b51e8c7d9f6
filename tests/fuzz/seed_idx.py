"""Seeds the corpus of the `idx` fuzz target with valid inputs: the first MNIST test digits as a
pair of IDX files, plain and gzipped (the target's input is the images file's length as a
little-endian u16, the images file, then the labels file). Without the gzipped files that
`make data` fetches it does nothing, and the fuzzer starts from an empty corpus.

Usage: python3 tests/fuzz/seed_idx.py DATA_DIR CORPUS_DIR
"""

import gzip
import struct
import sys
from pathlib import Path


def main(data: Path, corpus: Path) -> None:
    images_gz = data / "t10k-images-idx3-ubyte.gz"
    labels_gz = data / "t10k-labels-idx1-ubyte.gz"
    if not (images_gz.exists() and labels_gz.exists()):
        print(f"no MNIST files in {data}/: the idx corpus starts empty")
        return
    corpus.mkdir(parents=True, exist_ok=True)
    with gzip.open(images_gz) as f:
        images_header, pixels = f.read(16), f.read(3 * 784)
    with gzip.open(labels_gz) as f:
        labels_header, labels = f.read(8), f.read(3)
    for count in (1, 3):
        # The same headers with the image count cut to `count`, and that many digits.
        images = images_header[:4] + struct.pack(">I", count) + images_header[8:]
        images += pixels[: count * 784]
        labels_file = labels_header[:4] + struct.pack(">I", count) + labels[:count]
        seed = struct.pack("<H", len(images)) + images + labels_file
        (corpus / f"mnist-{count}").write_bytes(seed)
        # The same pair gzipped, as MNIST is published (for `MnistDataset::from_files`).
        images, labels_file = gzip.compress(images), gzip.compress(labels_file)
        seed = struct.pack("<H", len(images)) + images + labels_file
        (corpus / f"mnist-{count}.gz").write_bytes(seed)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
