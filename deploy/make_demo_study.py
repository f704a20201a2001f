#!/usr/bin/env python
"""Generate the demo study's datasets: images with an AI's decisions and saliency maps, practice and catch images.

Writes three dataset folders below data/demo-study/ (synthetic eyes drawn as for data/demo,
with other seeds, so no picture repeats across them):

- ``main/``: 16 images; metadata.csv has ground_truth, attack_type and the AI's guidance,
  ``ai_label``, ``ai_confidence`` and ``ai_saliency`` (a map per image in ``ai_saliency/``:
  bright where the imitated AI looked; it decides wrongly on a quarter of the images);
- ``practice/``: 3 images with ground_truth and a ``reference_mask`` (the iris, in ``masks/``);
- ``catch/``: 4 images with ground_truth, a reference mask and the AI's guidance too, so a
  catch image looks like any other under every condition.

docs/examples/iris-saliency-study.yaml runs a study on them. Deterministic: the same files every run.

    python deploy/make_demo_study.py [--out data/demo-study]
"""

import argparse
import csv
from pathlib import Path

import numpy as np
from make_demo_dataset import HEIGHT, WIDTH, _contact_lens, _eye, _printed
from PIL import Image, ImageFilter

KINDS = ["none", "print", "none", "contact-lens"]


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path, optimize=True)


def _saliency(iris: np.ndarray, attack: str, rng: np.random.Generator) -> np.ndarray:
    """Return an imitation AI saliency map: a blurred blob over where a model would look, 0..1."""
    ys, xs = np.nonzero(iris)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    heat = 0.35 * iris if attack == "none" else np.zeros((HEIGHT, WIDTH))  # a real eye: the whole iris, faintly
    for _ in range(1 if attack == "none" else 3):
        k = rng.integers(len(xs))
        heat = np.maximum(heat, np.hypot(xx - xs[k], yy - ys[k]) < rng.uniform(10, 22))
    blurred = Image.fromarray((heat * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(10))
    heat = np.asarray(blurred, dtype=np.float64)
    return heat / heat.max() if heat.max() else heat


def _dataset(folder: Path, *, count: int, seed: int, ai: bool, masks: bool) -> None:
    rows = []
    for number in range(1, count + 1):
        rng = np.random.default_rng(seed + number)
        attack = KINDS[(number - 1) % len(KINDS)]
        eye, iris = _eye(rng)
        if attack == "print":
            eye = _printed(eye)
        elif attack == "contact-lens":
            eye = _contact_lens(eye, iris, rng)
        name = f"eye_{number:02d}.png"
        _save(eye, folder / "images" / name)
        truth = "real" if attack == "none" else "fake"
        row = {"filename": name, "ground_truth": truth, "attack_type": attack}
        if ai:
            wrong = number % 4 == 0
            row["ai_label"] = ("fake" if truth == "real" else "real") if wrong else truth
            row["ai_confidence"] = f"{rng.uniform(0.55, 0.75) if wrong else rng.uniform(0.8, 0.99):.2f}"
            row["ai_saliency"] = f"ai_saliency/{name}"
            _save(_saliency(iris, attack, rng), folder / "ai_saliency" / name)
        if masks:
            row["reference_mask"] = f"masks/{name}"
            _save(iris.astype(np.float64), folder / "masks" / name)
        rows.append(row)
    with open(folder / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {folder} ({len(rows)} images)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "demo-study")
    args = parser.parse_args()
    _dataset(args.out / "main", count=16, seed=2000, ai=True, masks=False)
    _dataset(args.out / "practice", count=3, seed=3000, ai=False, masks=True)
    _dataset(args.out / "catch", count=4, seed=4000, ai=True, masks=True)


if __name__ == "__main__":
    main()
