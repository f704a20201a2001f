"""Write a 4096x4096 greyscale test image (an eye-like pattern with noise) into a dataset folder.

Usage: .venv/bin/python bench/make_bench_image.py data/bench-4096
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="dataset folder to write (images/ and metadata.csv)")
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    size = args.size
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot(x - size / 2, y - size / 2) / (size / 2)
    angle = np.arctan2(y - size / 2, x - size / 2)
    iris = 150 + 40 * np.sin(angle * 48) * (r < 0.6) * (r > 0.2)
    pixels = np.where(r < 0.2, 20, np.where(r < 0.6, iris, 200)) + np.random.default_rng(1).normal(0, 12, (size, size))
    (args.folder / "images").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(args.folder / "images" / "big.png")
    (args.folder / "metadata.csv").write_text("filename,ground_truth\nbig.png,real\n")
    print(f"wrote {args.folder}/images/big.png ({size}x{size})")


if __name__ == "__main__":
    main()
