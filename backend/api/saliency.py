"""Saliency heat maps: where annotators drew on an image, averaged over annotators.

Pure: no ORM, no HTTP. The heat map of an image is the mean of its annotators' masks,
so a pixel's value is the fraction of annotators whose mask covers it (0 to 1); it may
then be smoothed by a Gaussian of standard deviation ``sigma`` pixels.
"""

import io
from collections.abc import Iterable

import numpy as np
from PIL import Image as PILImage
from scipy.ndimage import gaussian_filter

MAX_SIGMA = 256.0


class HeatMap:
    """Accumulate masks one at a time (memory: one float array) and return their mean."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.total = np.zeros((height, width), dtype=np.uint32)
        self.count = 0

    def add(self, mask: np.ndarray) -> None:
        if mask.shape != self.total.shape:
            raise ValueError(f"mask of shape {mask.shape} added to a heat map of shape {self.total.shape}")
        self.total += mask
        self.count += 1

    def mean(self, *, sigma: float = 0.0) -> np.ndarray:
        """Return the mean of the masks as float32 in [0, 1] (zeros when none), smoothed when sigma > 0."""
        if self.count == 0:
            heat = np.zeros(self.total.shape, dtype=np.float64)
        else:
            heat = self.total / self.count
        return smooth(heat, sigma).astype(np.float32)


def heat_map(masks: Iterable[np.ndarray], width: int, height: int, *, sigma: float = 0.0) -> np.ndarray:
    """Return the mean of the masks, shape (height, width), float32 in [0, 1]."""
    accumulator = HeatMap(width, height)
    for mask in masks:
        accumulator.add(mask)
    return accumulator.mean(sigma=sigma)


def smooth(heat: np.ndarray, sigma: float) -> np.ndarray:
    """Return the heat map blurred by a Gaussian of ``sigma`` pixels (unchanged when sigma is 0).

    Edges are extended by reflection, so a mask covering the whole image stays 1 everywhere
    instead of darkening at the border.
    """
    if not 0 <= sigma <= MAX_SIGMA:
        raise ValueError(f"sigma must be between 0 and {MAX_SIGMA:g}; got {sigma!r}")
    if sigma == 0:
        return heat
    return gaussian_filter(heat.astype(np.float64), sigma=sigma, mode="reflect", truncate=4.0)


def to_uint8(heat: np.ndarray) -> np.ndarray:
    """Return the heat map scaled to 0..255 and rounded to the nearest integer."""
    return np.rint(np.clip(heat, 0.0, 1.0) * 255.0).astype(np.uint8)


def heat_png(heat: np.ndarray) -> bytes:
    """Return the heat map as an 8-bit greyscale PNG: 0 nobody drew here, 255 everyone did."""
    out = io.BytesIO()
    PILImage.fromarray(to_uint8(heat)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def heat_npy(heat: np.ndarray) -> bytes:
    """Return the heat map as a NumPy .npy file (float32, shape (height, width)), for ``numpy.load``."""
    out = io.BytesIO()
    np.save(out, np.asarray(heat, dtype=np.float32), allow_pickle=False)
    return out.getvalue()


# Viridis (matplotlib's default colour map: perceptually uniform, readable in grey and by
# colour-blind readers) at nine evenly spaced stops, interpolated linearly between them. The
# Review page's legend uses the same stops (src/review/palette.js, VIRIDIS).
VIRIDIS = np.array(
    [
        [68, 1, 84],
        [71, 45, 123],
        [59, 82, 139],
        [44, 114, 142],
        [33, 145, 140],
        [40, 174, 128],
        [94, 201, 98],
        [173, 220, 48],
        [253, 231, 37],
    ],
    dtype=np.float64,
)

# How bright the image stays under an overlay: dimmed and grey, so that no part of the image
# (the white of an eye) can pass for the map's full agreement.
DIM = 0.5


def viridis_colours(heat: np.ndarray) -> np.ndarray:
    """Return RGB colours (uint8, shape (h, w, 3)) on the viridis scale: dark purple at 0, yellow at 1."""
    x = np.clip(heat, 0.0, 1.0) * (len(VIRIDIS) - 1)
    stops = np.arange(len(VIRIDIS))
    channels = [np.interp(x, stops, VIRIDIS[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def overlay_png(picture: PILImage.Image, heat: np.ndarray, *, opacity: float = 0.6) -> bytes:
    """Return the image, dimmed to grey, with the heat map laid over it in viridis colours, as PNG.

    Each pixel's colour is blended in with weight ``opacity * sqrt(heat)`` (faint agreement
    still shows), so where nobody drew the dimmed image shows unchanged and where everyone
    drew the colour (yellow) covers it at ``opacity``.
    """
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be between 0 and 1; got {opacity!r}")
    base = np.asarray(picture.convert("L"), dtype=np.float64)[..., None] * DIM
    if base.shape[:2] != heat.shape:
        raise ValueError(f"image of size {base.shape[1]}x{base.shape[0]} does not match the heat map {heat.shape}")
    alpha = (opacity * np.sqrt(np.clip(heat, 0.0, 1.0)))[..., None]
    blended = base * (1.0 - alpha) + viridis_colours(heat) * alpha
    out = io.BytesIO()
    PILImage.fromarray(np.rint(blended).astype(np.uint8)).save(out, format="PNG", compress_level=3)
    return out.getvalue()


# --- Comparing maps: what a saliency paper reports beside IoU and Dice ---------------------------------

EPSILON = 1e-12  # keeps KL finite where a map is zero, as the MIT saliency benchmark does


def correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Return Pearson's linear correlation coefficient (CC) of two maps; None if either is constant."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"maps of {x.size} and {y.size} pixels cannot be compared")
    x = x - x.mean()
    y = y - y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    # Clipped: rounding can take a perfect correlation a hair past 1.
    return float(np.clip((x * y).sum() / denominator, -1.0, 1.0)) if denominator > 0 else None


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float | None:
    """Return KL(P || Q) in nats, each map made a distribution (divided by its sum); None if either is empty.

    P is the reference (e.g. one condition's map, or the humans'), Q the map judged against it;
    0 when they are the same distribution, larger the more Q misses where P is.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"maps of shapes {p.shape} and {q.shape} cannot be compared")
    if p.sum() <= 0 or q.sum() <= 0:
        return None
    p = p / p.sum()
    q = q / q.sum()
    # Never below 0 (Gibbs' inequality): rounding can leave -1e-9 for two equal maps.
    return max(0.0, float((p * np.log(EPSILON + p / (q + EPSILON))).sum()))


def split_half(
    masks: list[np.ndarray], width: int, height: int, *, seed: int, splits: int = 10, sigma: float = 0.0
) -> dict | None:
    """Return the split-half reliability of an image's map: how alike two random halves of its annotators' maps are.

    For each of ``splits`` random splits (seeded, so it is recomputed the same), the CC of the
    two halves' mean maps; their mean ``r``, and the Spearman-Brown prediction for the whole
    group, ``2r / (1 + r)``. None with fewer than two masks, or when every split had a constant half.
    """
    if len(masks) < 2:
        return None
    generator = np.random.default_rng(seed)
    values = []
    for _ in range(splits):
        order = generator.permutation(len(masks))
        half = len(masks) // 2
        first = heat_map((masks[i] for i in order[:half]), width, height, sigma=sigma)
        second = heat_map((masks[i] for i in order[half:]), width, height, sigma=sigma)
        r = correlation(first, second)
        if r is not None:
            values.append(r)
    if not values:
        return None
    r = float(np.mean(values))
    return {"r": r, "spearman_brown": 2 * r / (1 + r) if r > -1 else None, "splits": len(values), "masks": len(masks)}


def difference_colours(difference: np.ndarray) -> np.ndarray:
    """Return RGB colours of a difference of two maps (-1..1): blue where the first is less, red where more."""
    d = np.clip(difference, -1.0, 1.0)[..., None]
    white = np.array([255.0, 255.0, 255.0])
    red = np.array([178.0, 24.0, 43.0])
    blue = np.array([33.0, 102.0, 172.0])
    colours = np.where(d >= 0, white + (red - white) * d, white + (blue - white) * -d)
    return np.rint(colours).astype(np.uint8)


def difference_png(difference: np.ndarray) -> bytes:
    """Return a difference of two maps as a PNG on a diverging scale (white where they agree)."""
    out = io.BytesIO()
    PILImage.fromarray(difference_colours(difference)).save(out, format="PNG", compress_level=1)
    return out.getvalue()
