#!/usr/bin/env python
"""Generate the bundled demo dataset: a dozen synthetic near-infrared iris pictures.

Writes data/demo/images/*.png and data/demo/metadata.csv (filename, ground_truth,
attack_type). Half the images are "real" eyes; the others imitate presentation
attacks: a printed eye (halftone dots, flat contrast) or a textured contact lens (a
regular dot pattern over the iris). Deterministic: the same files every run.

    python deploy/make_demo_dataset.py [--out data/demo]
"""

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

WIDTH, HEIGHT = 320, 240


def _eye(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return a grey eye as floats in 0..1 (skin, sclera, a textured iris, the pupil and a glint) and its iris mask."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    cx = WIDTH / 2 + rng.uniform(-20, 20)
    cy = HEIGHT / 2 + rng.uniform(-10, 10)
    iris_r = rng.uniform(62, 78)
    pupil_r = iris_r * rng.uniform(0.28, 0.45)
    r = np.hypot(xx - cx, yy - cy)
    theta = np.arctan2(yy - cy, xx - cx)

    skin = 0.55 + 0.08 * rng.standard_normal((HEIGHT, WIDTH))
    image = Image.fromarray((np.clip(skin, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(3))
    out = np.asarray(image, dtype=np.float64) / 255

    # The eye opening: the region between two parabolic eyelids.
    half_width = iris_r * 2.1
    opening = iris_r * rng.uniform(0.85, 1.05)
    u = np.clip((xx - cx) / half_width, -1, 1)
    upper = cy - opening * (1 - u**2) - 4
    lower = cy + opening * 0.9 * (1 - u**2)
    inside = (np.abs(xx - cx) < half_width) & (yy > upper) & (yy < lower)
    out = np.where(inside, 0.78 + 0.03 * rng.standard_normal(out.shape), out)

    # Iris: radial fibres (a sum of angular waves) darkening towards the pupil.
    fibres = sum(
        rng.uniform(0.02, 0.06) * np.sin(k * theta + rng.uniform(0, 2 * np.pi) + 0.04 * k * r / iris_r)
        for k in rng.integers(20, 90, size=10)
    )
    crypts = 0.05 * np.sin(r / rng.uniform(2.5, 4.5))
    iris = 0.42 + fibres + crypts - 0.12 * (1 - (r - pupil_r) / (iris_r - pupil_r))
    in_iris = inside & (r < iris_r)
    out = np.where(in_iris, iris, out)
    out = np.where(inside & (r < iris_r) & (r > iris_r - 3), 0.25, out)  # the limbus, a dark ring
    out = np.where(inside & (r < pupil_r), 0.06, out)

    # The sensor's illuminator reflected in the pupil.
    gx, gy = cx + pupil_r * 0.3, cy - pupil_r * 0.3
    out = np.where(np.hypot(xx - gx, yy - gy) < 5, 0.98, out)

    # Eyelashes along the upper lid.
    for _ in range(40):
        x0 = cx + rng.uniform(-half_width * 0.9, half_width * 0.9)
        y0 = cy - opening * (1 - ((x0 - cx) / half_width) ** 2) - 4
        length, angle = rng.uniform(8, 20), rng.uniform(-2.2, -0.9)
        for t in np.linspace(0, 1, 30):
            px, py = int(x0 + t * length * np.cos(angle)), int(y0 + t * length * np.sin(angle))
            if 0 <= px < WIDTH and 0 <= py < HEIGHT:
                out[py, px] = 0.1
    blurred = Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    noisy = np.asarray(blurred, dtype=np.float64) / 255 + 0.015 * rng.standard_normal((HEIGHT, WIDTH))
    return noisy, in_iris & (r > pupil_r)


def _printed(eye: np.ndarray) -> np.ndarray:
    """Imitate a printout: flattened contrast and a halftone dot screen."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    screen = 0.5 + 0.5 * np.sin(xx * 1.3) * np.sin(yy * 1.3)
    flat = 0.3 + 0.5 * eye
    return np.where(screen < flat, flat + 0.08, flat - 0.08)


def _contact_lens(eye: np.ndarray, iris: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Imitate a textured contact lens: a regular pattern of dots printed over the iris."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    dots = (np.sin(xx * 0.9) * np.sin(yy * 0.9)) > 0.55
    return np.where(iris & dots, eye * 0.45 + 0.05 * rng.standard_normal(eye.shape), eye)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "demo")
    args = parser.parse_args()
    images_dir = args.out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    kinds = ["none", "print", "none", "contact-lens"] * 3
    rows = []
    for number, attack in enumerate(kinds, start=1):
        rng = np.random.default_rng(1000 + number)
        eye, iris = _eye(rng)
        if attack == "print":
            eye = _printed(eye)
        elif attack == "contact-lens":
            eye = _contact_lens(eye, iris, rng)
        name = f"iris_{number:02d}.png"
        Image.fromarray((np.clip(eye, 0, 1) * 255).astype(np.uint8)).save(images_dir / name, optimize=True)
        rows.append({"filename": name, "ground_truth": "real" if attack == "none" else "fake", "attack_type": attack})
        print(f"wrote {images_dir / name}")
    with open(args.out / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["filename", "ground_truth", "attack_type"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out / 'metadata.csv'} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
