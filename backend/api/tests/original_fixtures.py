#!/usr/bin/env python3
"""Make deployments of the original EyeTagger as it stored them, for tests and benchmarks.

A deployment is what an operator hands over: ``data/dataset/`` (``images/`` and
``metadata.csv``) and a ``pg_dump`` backup of its database. Everything here follows
``shared/reference/original-eyetagger-data-format.md``:

- strokes go through fabric.js 3.6.3's PencilBrush: the pointer's first point twice, points
  within 0.4 px of the last kept one dropped, the last captured point always dropped, then
  ``M`` (nudged by width/1000), one ``Q`` per point to the midpoint of the next, ``L``;
- the PNG is what the browser's canvas exports: the image's size times devicePixelRatio,
  transparent, each stroke painted in #0f05 (#f005 before 2020-05-27) with round caps and
  joins and anti-aliased edges (coverage found by sampling 16 x 16 points per pixel), strokes
  composited source-over in 8 bits, a stroke never darkening where it crosses itself;
- the SVG is fabric's ``toSVG()`` with the group-centre bug in its transforms;
- ``annotation_times`` is the client's ``JSON.stringify`` of ``[{down, up}]``;
- the dump is what ``pg_dump`` (13 or newer) writes: Django 3.0.7's DDL, data as COPY blocks,
  or as INSERTs (``--inserts``, ``--column-inserts``, ``--rows-per-insert``), in the column
  order of the deployment's own migrations.

Deterministic: the same arguments make the same bytes. Run with ``--help`` to write one to disk.
"""

import argparse
import base64
import gzip
import hashlib
import io
import json
import math
import random
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from backend.api import strokes as strokes_mod  # noqa: E402  (after the path set-up above)

GREEN, RED = (0, 255, 0), (255, 0, 0)
LAYER_ALPHA = 85  # #0f05 / #f005
SUPERSAMPLE = 16
EPOCH_2024 = 1719252060000  # 2024-06-24, when the final schema's rows were drawn

# --- fabric.js 3.6.3's PencilBrush -------------------------------------------------------


def js_number(value: float) -> str:
    """Format a number as JavaScript's String(number) does, for the values a pointer gives."""
    value = float(value)
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def brush_points(pointer: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return the points PencilBrush keeps of a pointer's path (mouse-down position first)."""
    points = [pointer[0], pointer[0]]  # _prepareForDrawing adds it, then _captureDrawingPath again
    for p in pointer[1:]:
        if p != points[-1]:
            points.append(p)
    if len(points) <= 2:
        return points
    kept = [points[0]]
    for p in points[1:-1]:  # decimatePoints: never the last point
        if (kept[-1][0] - p[0]) ** 2 + (kept[-1][1] - p[1]) ** 2 >= 0.4**2:
            kept.append(p)
    if len(kept) == 1:
        kept.append(kept[0])
    return kept


@dataclass
class FabricPath:
    """A PencilBrush path: ``M start``, ``Q control end`` each, ``L stop``, and its width."""

    start: tuple[float, float]
    curves: list[tuple[tuple[float, float], tuple[float, float]]]
    stop: tuple[float, float]
    width: float

    @property
    def d(self) -> str:
        parts = [f"M {js_number(self.start[0])} {js_number(self.start[1])}"]
        for (cx, cy), (ex, ey) in self.curves:
            parts.append(f"Q {js_number(cx)} {js_number(cy)} {js_number(ex)} {js_number(ey)}")
        parts.append(f"L {js_number(self.stop[0])} {js_number(self.stop[1])}")
        return " ".join(parts)

    def polyline(self, per_curve: int = 64) -> np.ndarray:
        """Return the path flattened much finer than any importer needs (the browser's true curve)."""
        points = [self.start]
        current = self.start
        s = np.arange(1, per_curve + 1) / per_curve
        for (cx, cy), end in self.curves:
            xs = (1 - s) ** 2 * current[0] + 2 * (1 - s) * s * cx + s**2 * end[0]
            ys = (1 - s) ** 2 * current[1] + 2 * (1 - s) * s * cy + s**2 * end[1]
            points.extend(zip(xs.tolist(), ys.tolist(), strict=True))
            current = end
        points.append(self.stop)
        return np.asarray(points, dtype=np.float64)


def fabric_path(points: list[tuple[float, float]], width: float) -> FabricPath:
    """Return convertPointsToSVGPath of the kept points, as fabric 3.6.3 writes it."""
    nudge = width / 1000
    p1, p2 = points[0], points[1]
    many = len(points) > 2
    sign_x, sign_y = 1, 0
    if many:
        sign_x = -1 if points[2][0] < p2[0] else 0 if points[2][0] == p2[0] else 1
        sign_y = -1 if points[2][1] < p2[1] else 0 if points[2][1] == p2[1] else 1
    start = (p1[0] - sign_x * nudge, p1[1] - sign_y * nudge)
    curves = []
    i = 1
    for i in range(1, len(points)):
        if p1 != p2:
            curves.append((p1, ((p1[0] + p2[0]) / 2, (p1[1] + p2[1]) / 2)))
        p1 = points[i]
        if i + 1 < len(points):
            p2 = points[i + 1]
    i = len(points)
    if many:
        before = points[i - 2]
        sign_x = 1 if p1[0] > before[0] else 0 if p1[0] == before[0] else -1
        sign_y = 1 if p1[1] > before[1] else 0 if p1[1] == before[1] else -1
    stop = (p1[0] + sign_x * nudge, p1[1] + sign_y * nudge)
    return FabricPath(start=start, curves=curves, stop=stop, width=width)


def fabric_svg(paths: list[FabricPath], width: int, height: int, colour=GREEN) -> str:
    """Return fabric 3.6.3's toSVG() of the export canvas, transforms wrong by the group centre (reference §5.3)."""
    boxes = []
    for path in paths:
        line = path.polyline(8)
        boxes.append((line[:, 0].min(), line[:, 1].min(), line[:, 0].max(), line[:, 1].max()))
    grown = [
        (x0 - p.width / 2, y0 - p.width / 2, x1 + p.width / 2, y1 + p.width / 2)
        for p, (x0, y0, x1, y1) in zip(paths, boxes, strict=True)
    ]
    gx = (min(b[0] for b in grown) + max(b[2] for b in grown)) / 2 if grown else 0
    gy = (min(b[1] for b in grown) + max(b[3] for b in grown)) / 2 if grown else 0
    r, g, b = colour
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>',
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">',
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xml:space="preserve">',
        "<desc>Created with Fabric.js 3.6.3</desc>",
        "<defs>",
        "</defs>",
    ]
    for path, (x0, y0, x1, y1) in zip(paths, boxes, strict=True):
        ox, oy = round((x0 + x1) / 2, 2), round((y0 + y1) / 2, 2)
        tx, ty = round(ox - gx, 2), round(oy - gy, 2)
        style = (
            f"stroke: rgb({r},{g},{b}); stroke-opacity: 0.33; stroke-width: {js_number(path.width)}; "
            "stroke-dasharray: none; stroke-linecap: round; stroke-dashoffset: 0; stroke-linejoin: round; "
            "stroke-miterlimit: 10; fill: none; fill-rule: nonzero; opacity: 1;"
        )
        lines.append(f'<g transform="matrix(1 0 0 1 {js_number(tx)} {js_number(ty)})"  >')
        lines.append(
            f'<path style="{style}"  transform=" translate({js_number(-ox)}, {js_number(-oy)})" d="{path.d}" '
            'stroke-linecap="round" />'
        )
        lines.append("</g>")
    lines.append("</svg>")
    return "\n".join(lines)


def render_png(
    paths: list[FabricPath], width: int, height: int, dpr: float, colour=GREEN, supersample=SUPERSAMPLE
) -> bytes:
    """Return the export canvas as the browser's toBlob() gives it: RGBA, floor(size x dpr), strokes only.

    ``supersample``: samples per pixel side for the anti-aliased edges (fewer is faster, for benchmarks).
    """
    png_w, png_h = int(math.floor(width * dpr)), int(math.floor(height * dpr))
    alpha = np.zeros((png_h, png_w), dtype=np.float64)
    for path in paths:
        coverage = _coverage(path, png_w, png_h, dpr, supersample)
        if coverage is None:
            continue
        (x0, y0), layer = coverage
        stroke = np.floor(LAYER_ALPHA * layer + 0.5)  # each stroke painted in 8 bits, halves rounded up
        region = alpha[y0 : y0 + layer.shape[0], x0 : x0 + layer.shape[1]]
        region[...] = np.floor(stroke + region * (255 - stroke) / 255 + 0.5)  # source-over, 8 bits
    rgba = np.zeros((png_h, png_w, 4), dtype=np.uint8)
    painted = alpha > 0
    rgba[painted, :3] = colour
    rgba[..., 3] = alpha.astype(np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(rgba, mode="RGBA").save(out, format="PNG")
    return out.getvalue()


def _coverage(path: FabricPath, png_w: int, png_h: int, dpr: float, supersample: int):
    """Return ((x0, y0), coverage) of one stroke over the PNG pixels its bounding box touches, or None."""
    line = path.polyline(64 if supersample >= 16 else 8) * dpr  # finer than the samples can tell
    r = path.width * dpr / 2
    x0 = max(0, int(math.floor(line[:, 0].min() - r)) - 1)
    y0 = max(0, int(math.floor(line[:, 1].min() - r)) - 1)
    x1 = min(png_w, int(math.ceil(line[:, 0].max() + r)) + 1)
    y1 = min(png_h, int(math.ceil(line[:, 1].max() + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    s = supersample
    local = (line - [x0, y0]) * s
    stroke = {"tool": "brush", "width": 2 * r * s, "points": [[x, y, 0.0, 0.5] for x, y in local.tolist()]}
    samples = strokes_mod.rasterize([stroke], (x1 - x0) * s, (y1 - y0) * s)
    return (x0, y0), samples.reshape(y1 - y0, s, x1 - x0, s).mean(axis=(1, 3))


# --- What annotators did -------------------------------------------------------------------


@dataclass
class Stroke:
    """One mouse-down ... mouse-up: the pointer's positions, the brush size (1..6) and the times."""

    pointer: list[tuple[float, float]]
    size: int = 4
    down: int = 0
    up: int | None = 0

    @property
    def width(self) -> float:
        return 5.0 * self.size


@dataclass
class AnnotationSpec:
    id: int
    annotator: int
    image: str  # the image's file name in the deployment
    strokes: list[Stroke]
    dpr: float = 1.0
    text: str = "enter text here"
    real: bool = False
    fake: bool = False
    colour: tuple = GREEN
    png: str = "png"  # "png", or "omitted" (annotation '')
    svg: str = "svg"  # "svg", "empty" ('' from a stale client), "null" (saved before the column)
    times: str = "match"  # "match", "empty", "null", "drop-last", "extra", "up-null", "broken"
    ground_truth: str | None = None  # the row's copy of the image's ground truth


@dataclass
class ImageSpec:
    name: str  # the file in images/
    width: int = 96
    height: int = 72
    seed: int = 0
    csv_row: str | None = "same"  # the metadata.csv filename cell: "same" = stem, None = no row
    ground_truth: str | None = None
    db_row: bool = True  # registered in api_image
    img_path: str | None = None  # api_image.img_path when it differs from the file's name (renamed since)
    on_disk: str = "same"  # "same", "missing", "changed" (the bytes differ from the hash), "copy:<name>"
    iris: dict = field(default_factory=dict)
    sha256: str | None = None  # of a file written elsewhere (benchmarks); else of image_bytes()


@dataclass
class UserSpec:
    id: int
    username: str
    password: str  # in clear: hashed as Django 3.0 did
    email: str = ""
    is_staff: bool = False
    is_superuser: bool = False
    is_active: bool = True
    is_test: bool | None = False  # None: no api_profile row
    token: str | None = None
    unusable: bool = False
    first_name: str = ""
    last_name: str = ""


@dataclass
class Deployment:
    era: str
    users: list[UserSpec]
    images: list[ImageSpec]
    annotations: list[AnnotationSpec]


ERAS = ("iris", "text", "buttons", "ground_truth", "final")


def django_hash(password: str, salt: str, iterations: int = 1000) -> str:
    """Return Django's pbkdf2_sha256 hash (the original had 180,000 rounds; fewer here, for speed)."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def _line(rng: random.Random, start, steps: int, step: float, turn: float = 0.3, resolution: float = 0.5):
    """Return a smooth pointer path: positions on a 1/resolution grid, as a mouse at a scaled page gives them."""
    x, y = start
    angle = rng.uniform(0, 2 * math.pi)
    path = [(x, y)]
    for _ in range(steps):
        angle += rng.uniform(-turn, turn)
        x += step * math.cos(angle)
        y += step * math.sin(angle)
        path.append((round(x / resolution) * resolution, round(y / resolution) * resolution))
    return path


def corner_cases(era: str = "final") -> Deployment:
    """Return a small deployment holding every corner case the reference lists, as that era stored it."""
    rng = random.Random(14)
    users = [
        UserSpec(1, "admin", "admin-pass-1", "admin@example.org", is_staff=True, is_superuser=True, token="a" * 40),
        UserSpec(
            2,
            "alice",
            "alice-pass-1",
            "alice@example.org",
            first_name="Alice",
            token="0123456789abcdef" * 2 + "01234567",
        ),
        UserSpec(3, "bob", "bob-pass-1", is_test=True),
        UserSpec(5, "carol", "carol-pass-1", is_test=None),  # no profile row: inserted around the ORM
        UserSpec(6, "dave", "", unusable=True, is_active=False),
        UserSpec(7, "erin", "erin-pass-1", is_staff=True),
    ]
    images = [
        ImageSpec("img1.png", seed=1, ground_truth="real"),
        ImageSpec("img2.png", seed=2, ground_truth="spoof"),
        ImageSpec("img3.png", 120, 80, seed=3, ground_truth=None),  # an empty CSV cell: 'nan' in the database
        ImageSpec("img4.jpg", seed=4, ground_truth="real"),
        ImageSpec("scan.tiff", seed=5, ground_truth="spoof"),  # registered, never annotated
        ImageSpec("renamed_now.png", seed=6, ground_truth="real", img_path="renamed_then.png"),
        ImageSpec("changed.png", seed=7, ground_truth="real", on_disk="changed"),
        ImageSpec("gone.png", seed=8, ground_truth="spoof", on_disk="missing"),
        ImageSpec("stray.png", seed=9, db_row=False, csv_row=None),  # on disk, never registered
        ImageSpec("twin.png", seed=10, db_row=False, csv_row="same", on_disk="copy:img1.png"),  # img1's bytes again
    ]
    if era == "iris":
        for k, image in enumerate(images):
            image.iris = {
                "user_id": f"0423{k}",
                "sample_id": k + 1,
                "eye": "LR"[k % 2],
                "lens_type": "LFC"[k % 3],
                "nir_illumination": "CD"[k % 2],
                "lens_brand": ["Acuvue", "Air Optix", ""][k % 3],
                "is_regular": [True, False, None][k % 3],
            }
    t = EPOCH_2024
    a = []
    # alice on img1: two strokes and a click, dpr 1, times one per stroke; the placeholder text; "fake".
    strokes = [
        Stroke(_line(rng, (20, 20), 14, 3.2), 4, t, t + 820),
        Stroke(_line(rng, (60, 40), 10, 2.7), 2, t + 2100, t + 2900),
        Stroke([(70.5, 15.5)], 3, t + 4000, t + 4080),  # a click: the dot
    ]
    a.append(AnnotationSpec(7, 2, "img1.png", strokes, dpr=1, fake=True, ground_truth="real"))
    # alice on img2: overlapping strokes at dpr 2, a stroke's up missed (one time fewer); real; text with tabs.
    strokes = [
        Stroke(_line(rng, (30, 30), 16, 2.5), 4, t + 10000, t + 11000),
        Stroke(_line(rng, (34, 34), 16, 2.5), 5, t + 12000, t + 13300),
        Stroke(_line(rng, (50, 20), 8, 3.0), 3, t + 14000, t + 14500),
    ]
    text = "irregular texture\twith a tab, 'quotes', \"double\", a back\\slash and é ü 眼"
    a.append(
        AnnotationSpec(9, 2, "img2.png", strokes, dpr=2, real=True, text=text, times="drop-last", ground_truth="spoof")
    )
    # bob (a test user) on img1 at dpr 1.5: a stroke running off the image's edge; no decision.
    strokes = [
        Stroke(_line(rng, (80, 60), 12, 3.5, turn=0.1), 4, t + 20000, t + 20900),
        Stroke([(-30.0, 30.0), (-10.0, 31.0), (5.5, 33.0), (20.0, 35.5), (19.5, 36.0)], 6, t + 21000, None),
    ]
    a.append(AnnotationSpec(10, 3, "img1.png", strokes, dpr=1.5, times="up-null", ground_truth="real"))
    # carol on img2: a stale tab posted to the 2024 server: SVG and times '' ; the 2023-08 placeholder.
    strokes = [Stroke(_line(rng, (40, 50), 12, 3.0), 4)]
    a.append(
        AnnotationSpec(
            12, 5, "img2.png", strokes, dpr=1, svg="empty", times="empty", text="testing", ground_truth="spoof"
        )
    )
    # carol on img3 at dpr 1.25, saved before the SVG columns existed (NULL); both buttons somehow true.
    strokes = [Stroke(_line(rng, (60, 40), 20, 3.0), 4), Stroke(_line(rng, (20, 60), 10, 2.0), 6)]
    a.append(
        AnnotationSpec(
            13,
            5,
            "img3.png",
            strokes,
            dpr=1.25,
            svg="null",
            times="null",
            real=True,
            fake=True,
            text="  ",
            ground_truth="nan",
        )
    )
    # alice on img3: a client that omitted the PNG (annotation '').
    strokes = [Stroke(_line(rng, (50, 30), 8, 2.0), 4, t + 30000, t + 30400)]
    a.append(AnnotationSpec(15, 2, "img3.png", strokes, png="omitted", text="", ground_truth="nan"))
    # erin on img4 (a JPEG): a stroke entirely off the image, then one on it.
    strokes = [
        Stroke(_line(rng, (-60, -40), 6, 3.0), 4, t + 40000, t + 40300),
        Stroke(_line(rng, (48, 36), 10, 2.5), 3, t + 41000, t + 48000),
    ]
    a.append(AnnotationSpec(16, 7, "img4.jpg", strokes, dpr=2, times="match", text="blurry", ground_truth="real"))
    # admin on img1 drew in the red brush of 2020-05 (kept in every era's rows).
    strokes = [Stroke(_line(rng, (48, 36), 12, 3.0), 4, t + 50000, t + 50700)]
    a.append(AnnotationSpec(17, 1, "img1.png", strokes, colour=RED, ground_truth="real"))
    # alice on the renamed file (found by its hash), with one time too many.
    strokes = [Stroke(_line(rng, (30, 40), 12, 3.0), 5, t + 60000, t + 60600)]
    a.append(AnnotationSpec(20, 2, "renamed_now.png", strokes, times="extra", ground_truth="real"))
    # Rows on a file that changed since, and on one that is gone: not importable.
    a.append(
        AnnotationSpec(21, 2, "changed.png", [Stroke(_line(rng, (30, 30), 6, 3.0), 4, t, t + 1)], ground_truth="real")
    )
    a.append(
        AnnotationSpec(22, 7, "gone.png", [Stroke(_line(rng, (30, 30), 6, 3.0), 4, t, t + 1)], ground_truth="spoof")
    )
    return _for_era(Deployment(era, users, images, a))


def _for_era(deployment: Deployment) -> Deployment:
    """Drop what an era's client never stored."""
    era = ERAS.index(deployment.era)
    for spec in deployment.annotations:
        if era < ERAS.index("final"):
            spec.svg, spec.times = "absent", "absent"
        if era < ERAS.index("buttons"):
            spec.real = spec.fake = False
        if era < ERAS.index("text"):
            spec.text = None
    return deployment


def random_deployment(
    images: int, annotations: int, *, seed: int = 0, size=(640, 480), era: str = "final"
) -> Deployment:
    """Return a deployment of random annotations, as many as asked, spread over the images (for benchmarks)."""
    rng = random.Random(seed)
    width, height = size
    users = [UserSpec(1, "admin", "admin-pass", is_staff=True, is_superuser=True)]
    annotators = max(1, math.ceil(annotations / images))
    users += [UserSpec(2 + k, f"annotator{k}", f"pass-{k}") for k in range(annotators)]
    image_specs = [
        ImageSpec(f"{k:05d}_iris.png", width, height, seed=k, ground_truth=rng.choice(["real", "spoof"]))
        for k in range(images)
    ]
    specs = []
    t = EPOCH_2024
    for k in range(annotations):
        image = image_specs[k % images]
        annotator = 2 + k // images
        strokes = []
        for _ in range(rng.randint(1, 4)):
            start = (rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height)
            steps = rng.randint(10, 60)
            strokes.append(
                Stroke(
                    _line(rng, start, steps, rng.uniform(2.0, 5.0), resolution=1.0),
                    rng.choice([3, 4, 4, 5]),
                    t,
                    t + 16 * steps,
                )
            )
            t += 1000 * (steps // 10 + 1)
        specs.append(
            AnnotationSpec(
                k + 1,
                annotator,
                image.name,
                strokes,
                dpr=rng.choice([1, 1, 1, 2]),
                real=rng.random() < 0.5,
                fake=rng.random() < 0.4,
                text=rng.choice(["enter text here", "texture", "contact lens edge"]),
                ground_truth=image.ground_truth,
            )
        )
    return _for_era(Deployment(era, users, image_specs, specs))


# --- Writing it out ------------------------------------------------------------------------


def image_bytes(spec: ImageSpec) -> bytes:
    """Return the image file's bytes: random grey pixels, distinct per seed."""
    pixels = np.random.default_rng(spec.seed).integers(0, 256, size=(spec.height, spec.width), dtype=np.uint8)
    out = io.BytesIO()
    fmt = {"jpg": "JPEG", "tiff": "TIFF"}.get(spec.name.rsplit(".", 1)[-1], "PNG")
    PILImage.fromarray(pixels).save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


_RENDERED: dict[str, dict] = {}


def annotation_columns(spec: AnnotationSpec, image: ImageSpec, *, supersample: int = SUPERSAMPLE) -> dict:
    """Return what the original stored for an annotation: the PNG data URL, the SVG and the times."""
    if supersample != SUPERSAMPLE:
        return _annotation_columns(spec, image, supersample)
    key = repr((spec, image.width, image.height))
    if key not in _RENDERED:  # rendering is the slow part; tests write the same deployment in many styles
        _RENDERED[key] = _annotation_columns(spec, image, supersample)
    return dict(_RENDERED[key])


def data_url(png: bytes) -> str:
    """Return the PNG as the client's FileReader.readAsDataURL gives it."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _annotation_columns(spec: AnnotationSpec, image: ImageSpec, supersample: int) -> dict:
    paths = [fabric_path(brush_points(s.pointer), s.width) for s in spec.strokes]
    png = render_png(paths, image.width, image.height, spec.dpr, spec.colour, supersample)
    columns = {"annotation": data_url(png) if spec.png == "png" else ""}
    columns["annotation_svg"] = {
        "svg": fabric_svg(paths, image.width, image.height, spec.colour),
        "empty": "",
        "null": None,
    }.get(spec.svg)
    times = [{"down": s.down, "up": s.up} for s in spec.strokes]
    if spec.times == "drop-last":
        times = times[:-1]  # a missed mouse-up suppressed the next down
    elif spec.times == "extra":
        times.append({"down": times[-1]["up"] + 500, "up": times[-1]["up"] + 600})
    elif spec.times == "broken":
        times = "[{down:"
    columns["annotation_times"] = (
        {"empty": "", "null": None, "absent": None}.get(spec.times)
        if spec.times in ("empty", "null", "absent")
        else times
        if isinstance(times, str)
        else json.dumps(times, separators=(",", ":"))
    )
    return columns


# Django 3.0.7's DDL for the tables an import reads (and api_message, as every deployment has it).
_ANNOTATION_FIELDS = {
    "text": "text NOT NULL",
    "real_button": "boolean NOT NULL",
    "fake_button": "boolean NOT NULL",
    "ground_truth": "text",
    "annotation_svg": "text",
    "annotation_times": "text",
}
_ERA_FIELDS = {
    "iris": [],
    "text": ["text"],
    "buttons": ["text", "real_button", "fake_button"],
    "ground_truth": ["text", "real_button", "fake_button", "ground_truth"],
    "final": ["text", "real_button", "fake_button", "ground_truth", "annotation_svg", "annotation_times"],
}
_IRIS_COLUMNS = [
    ("user_id", "character varying(100) NOT NULL"),
    ("sample_id", "integer NOT NULL"),
    ("eye", "character varying(1) NOT NULL"),
    ("lens_type", "character varying(1) NOT NULL"),
    ("nir_illumination", "character varying(1) NOT NULL"),
    ("lens_brand", "character varying(100) NOT NULL"),
    ("is_regular", "boolean"),
]


def render_rows(jobs: Iterable[tuple[AnnotationSpec, ImageSpec]]) -> Iterator[dict]:
    """Yield annotation_columns of each (annotation, image), in order (a benchmark passes a process pool's)."""
    return (annotation_columns(spec, image) for spec, image in jobs)


def _tables(deployment: Deployment, *, column_order: str, render=render_rows) -> dict[str, tuple[list, Iterable, int]]:
    """Return {table: (columns with their types, rows, largest id)} as the deployment's database holds them.

    The annotations' rows are rendered as they are read, so a large deployment streams.
    """
    era = deployment.era
    by_name = {image.name: image for image in deployment.images}
    sha = {image.name: image.sha256 or hashlib.sha256(image_bytes(image)).hexdigest() for image in deployment.images}
    image_columns = [
        ("id", "integer NOT NULL"),
        ("img_id", "character varying(100) NOT NULL"),
        ("extension", "character varying(15) NOT NULL"),
        ("img_path", "character varying(200) NOT NULL"),
    ]
    image_columns += _IRIS_COLUMNS if era == "iris" else []
    image_columns += [("ground_truth", "text")] if ERAS.index(era) >= ERAS.index("ground_truth") else []
    image_rows = []
    for k, image in enumerate((i for i in deployment.images if i.db_row), start=1):
        row = {
            "id": k,
            "img_id": sha[image.name],
            "extension": (image.img_path or image.name).rsplit(".", 1)[-1],
            "img_path": image.img_path or image.name,
            "ground_truth": image.ground_truth if image.ground_truth is not None else "nan",
            **image.iris,
        }
        image_rows.append([row[name] for name, _ in image_columns])
    extra = list(_ERA_FIELDS[era])
    if column_order == "alphabetical":
        extra.sort()
    annotation_columns_ = [
        ("id", "integer NOT NULL"),
        ("annotation", "text NOT NULL"),
        ("annotator_id", "integer NOT NULL"),
        ("image_id", "character varying(100) NOT NULL"),
    ] + [(name, _ANNOTATION_FIELDS[name]) for name in extra]
    columns_of = annotation_columns_

    def annotation_rows():
        jobs = ((spec, by_name[spec.image]) for spec in deployment.annotations)
        for spec, rendered in zip(deployment.annotations, render(jobs), strict=True):
            row = {
                "id": spec.id,
                "annotator_id": spec.annotator,
                "image_id": sha[spec.image],
                "text": spec.text,
                "real_button": spec.real,
                "fake_button": spec.fake,
                "ground_truth": spec.ground_truth,
                **rendered,
            }
            yield [row[name] for name, _ in columns_of]

    user_columns = [
        ("id", "integer NOT NULL"),
        ("password", "character varying(128) NOT NULL"),
        ("last_login", "timestamp with time zone"),
        ("is_superuser", "boolean NOT NULL"),
        ("username", "character varying(150) NOT NULL"),
        ("first_name", "character varying(30) NOT NULL"),
        ("last_name", "character varying(150) NOT NULL"),
        ("email", "character varying(254) NOT NULL"),
        ("is_staff", "boolean NOT NULL"),
        ("is_active", "boolean NOT NULL"),
        ("date_joined", "timestamp with time zone NOT NULL"),
    ]
    user_rows = []
    for user in deployment.users:
        password = (
            "!" + hashlib.sha1(user.username.encode()).hexdigest()[:40]
            if user.unusable
            else django_hash(user.password, f"salt{user.id:08d}")
        )
        summer = user.id % 2 == 0  # Indianapolis: -04 in summer, -05 in winter
        user_rows.append(
            [
                user.id,
                password,
                f"2024-06-2{user.id % 10} 14:0{user.id % 10}:00.{user.id:06d}-04" if user.token else None,
                user.is_superuser,
                user.username,
                user.first_name,
                user.last_name,
                user.email,
                user.is_staff,
                user.is_active,
                "2020-07-11 10:00:00-04" if summer else "2020-01-15 09:30:00.5-05",
            ]
        )
    profile_rows = [
        [k, u.is_test, u.id] for k, u in enumerate((u for u in deployment.users if u.is_test is not None), start=1)
    ]
    token_rows = [[u.token, "2024-06-24 10:00:00.123456-04", u.id] for u in deployment.users if u.token]
    migrations = [("contenttypes", "0001_initial"), ("auth", "0011_update_proxy_permissions"), ("api", "0001_initial")]
    if era != "iris":
        migrations.append(("api", "0003_profile"))
    if ERAS.index(era) >= ERAS.index("text"):
        migrations.append(("api", "0004_auto_20230803_1012"))
    if ERAS.index(era) >= ERAS.index("final"):
        migrations.append(("api", "0006_auto_20240620_1655"))
    largest = max((spec.id for spec in deployment.annotations), default=1)
    tables = {
        "api_annotation": (annotation_columns_, annotation_rows(), largest),
        "api_image": (image_columns, image_rows),
        "api_message": (
            [("id", "integer NOT NULL"), ("subject", "character varying(200) NOT NULL"), ("body", "text NOT NULL")],
            [],
        ),
        "api_profile": (
            [("id", "integer NOT NULL"), ("is_test", "boolean NOT NULL"), ("user_id", "integer NOT NULL")],
            profile_rows,
        ),
        "auth_user": (user_columns, user_rows),
        "authtoken_token": (
            [
                ("key", "character varying(40) NOT NULL"),
                ("created", "timestamp with time zone NOT NULL"),
                ("user_id", "integer NOT NULL"),
            ],
            token_rows,
        ),
        "django_migrations": (
            [
                ("id", "integer NOT NULL"),
                ("app", "character varying(255) NOT NULL"),
                ("name", "character varying(255) NOT NULL"),
                ("applied", "timestamp with time zone NOT NULL"),
            ],
            [[k, app, name, "2020-07-11 10:00:00.5-04"] for k, (app, name) in enumerate(migrations, start=1)],
        ),
    }
    return {
        name: table if len(table) == 3 else (*table, max((r[0] for r in table[1] if isinstance(r[0], int)), default=1))
        for name, table in tables.items()
    }


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _sql_value(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


_KEYS = {"api_image": "img_id", "authtoken_token": "key"}


def dump_text(deployment: Deployment, **options) -> str:
    """Return the deployment's database as ``pg_dump`` writes it in plain format (see dump_lines)."""
    return "\n".join(dump_lines(deployment, **options))


def dump_lines(
    deployment: Deployment,
    *,
    style: str = "copy",
    pg_version: str = "13.4",
    column_order: str = "chronological",
    rows_per_insert: int = 3,
    render=render_rows,
) -> Iterator[str]:
    """Yield the deployment's database as ``pg_dump`` writes it in plain format, a line (or statement) at a time.

    ``style``: "copy" (the default of pg_dump and of the original's backups), "inserts",
    "column-inserts" or "rows-per-insert". ``pg_version``: 13.x writes no ``\\restrict`` lines,
    17.6 and later releases do (as 13.22, 15.14 and 16.10 do).
    """
    tables = _tables(deployment, column_order=column_order, render=render)
    version = f"{pg_version} (Debian {pg_version}-1.pgdg110+1)"
    major, minor = (int(p) for p in pg_version.split(".")[:2])
    restrict = (major, minor) >= (17, 6) or (major, minor) in ((13, 22), (15, 14), (16, 10))
    key = hashlib.sha256(f"{deployment.era}{style}".encode()).hexdigest()[:40]
    out = ["--", "-- PostgreSQL database dump", "--", ""]
    if restrict:
        out += [f"\\restrict {key}", ""]
    out += [f"-- Dumped from database version {version}", f"-- Dumped by pg_dump version {version}", ""]
    out += [
        "SET statement_timeout = 0;",
        "SET lock_timeout = 0;",
        "SET idle_in_transaction_session_timeout = 0;",
    ]
    if major >= 17:
        out.append("SET transaction_timeout = 0;")
    out += [
        "SET client_encoding = 'UTF8';",
        "SET standard_conforming_strings = on;",
        "SELECT pg_catalog.set_config('search_path', '', false);",
        "SET check_function_bodies = false;",
        "SET xmloption = content;",
        "SET client_min_messages = warning;",
        "SET row_security = off;",
        "",
        "SET default_tablespace = '';",
        "",
        "SET default_table_access_method = heap;",
        "",
    ]
    for name, (columns, _, _) in tables.items():
        out += ["--", f"-- Name: {name}; Type: TABLE; Schema: public; Owner: eyetagger_admin", "--", ""]
        out.append(f"CREATE TABLE public.{name} (")
        out.append(",\n".join(f"    {column} {kind}" for column, kind in columns))
        out += [");", "", "", f"ALTER TABLE public.{name} OWNER TO eyetagger_admin;", ""]
        if name != "authtoken_token":
            out += [
                "--",
                f"-- Name: {name}_id_seq; Type: SEQUENCE; Schema: public; Owner: eyetagger_admin",
                "--",
                "",
                f"CREATE SEQUENCE public.{name}_id_seq\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n"
                "    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;",
                "",
                "",
                f"ALTER TABLE public.{name}_id_seq OWNER TO eyetagger_admin;",
                "",
                f"ALTER SEQUENCE public.{name}_id_seq OWNED BY public.{name}.id;",
                "",
                "",
            ]
    for name in tables:
        if name != "authtoken_token":
            out += [
                f"ALTER TABLE ONLY public.{name} ALTER COLUMN id SET DEFAULT "
                f"nextval('public.{name}_id_seq'::regclass);",
                "",
                "",
            ]
    yield from out
    out = []
    for name, (columns, rows, _) in tables.items():
        yield from [
            "--",
            f"-- Data for Name: {name}; Type: TABLE DATA; Schema: public; Owner: eyetagger_admin",
            "--",
            "",
        ]
        names = ", ".join(column for column, _ in columns)
        if style == "copy":
            yield f"COPY public.{name} ({names}) FROM stdin;"
            yield from ("\t".join(_copy_value(v) for v in row) for row in rows)
            yield from ["\\.", "", ""]
            continue
        target = f"public.{name} ({names})" if style == "column-inserts" else f"public.{name}"
        if style == "rows-per-insert":
            rows = iter(rows)
            while chunk := list(islice(rows, rows_per_insert)):
                body = ",\n".join("\t(" + ", ".join(_sql_value(v) for v in row) + ")" for row in chunk)
                yield f"INSERT INTO {target} VALUES\n{body};"
        else:
            yield from (f"INSERT INTO {target} VALUES (" + ", ".join(_sql_value(v) for v in row) + ");" for row in rows)
        yield from ["", ""]
    for name, (_, _, largest) in tables.items():
        if name != "authtoken_token":
            out += [
                "--",
                f"-- Name: {name}_id_seq; Type: SEQUENCE SET; Schema: public; Owner: eyetagger_admin",
                "--",
                "",
                f"SELECT pg_catalog.setval('public.{name}_id_seq', {largest + 2}, true);",
                "",
                "",
            ]
    for name in tables:
        key_column = "key" if name == "authtoken_token" else "id"
        out += [f"ALTER TABLE ONLY public.{name}\n    ADD CONSTRAINT {name}_pkey PRIMARY KEY ({key_column});", "", ""]
    out += [
        "ALTER TABLE ONLY public.api_image\n    ADD CONSTRAINT api_image_img_id_key UNIQUE (img_id);",
        "",
        "ALTER TABLE ONLY public.api_annotation\n    ADD CONSTRAINT api_annotation_annotator_id_image_id_b28fb766_uniq "
        "UNIQUE (annotator_id, image_id);",
        "",
        "ALTER TABLE ONLY public.auth_user\n    ADD CONSTRAINT auth_user_username_key UNIQUE (username);",
        "",
        "CREATE INDEX api_annotation_image_id_cd751507 ON public.api_annotation USING btree (image_id);",
        "",
        "ALTER TABLE ONLY public.api_annotation\n    ADD CONSTRAINT "
        "api_annotation_image_id_cd751507_fk_api_image_img_id FOREIGN KEY (image_id) "
        "REFERENCES public.api_image(img_id) DEFERRABLE INITIALLY DEFERRED;",
        "",
        "ALTER TABLE ONLY public.api_annotation\n    ADD CONSTRAINT "
        "api_annotation_annotator_id_7197d745_fk_auth_user_id FOREIGN KEY (annotator_id) "
        "REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;",
        "",
        "",
        "--",
        "-- PostgreSQL database dump complete",
        "--",
        "",
    ]
    if restrict:
        out += [f"\\unrestrict {key}", ""]
    yield from out


def write_dataset(deployment: Deployment, folder: Path) -> Path:
    """Write data/dataset/ (images/ and metadata.csv, by the original's conventions) below folder; return it."""
    dataset = folder / "dataset"
    images = dataset / "images"
    images.mkdir(parents=True, exist_ok=True)
    by_name = {image.name: image for image in deployment.images}
    lines = ["filename,ground_truth" + (",sensor" if deployment.era != "iris" else "")]
    for image in deployment.images:
        if image.on_disk == "missing":
            pass
        elif image.on_disk == "changed":
            (images / image.name).write_bytes(image_bytes(image) + b"\x00edited")
        elif image.on_disk.startswith("copy:"):
            (images / image.name).write_bytes(image_bytes(by_name[image.on_disk[5:]]))
        else:
            (images / image.name).write_bytes(image_bytes(image))
        if image.csv_row is not None:
            stem = image.name.split(".")[0]  # the original matched the name cut at its first dot
            cells = [stem, image.ground_truth or ""] + (["LG4000"] if deployment.era != "iris" else [])
            lines.append(",".join(cells))
    (dataset / "metadata.csv").write_text("\n".join(lines) + "\n")
    return dataset


def write_deployment(
    deployment: Deployment,
    folder: Path,
    *,
    style="copy",
    compress=True,
    pg_version="13.4",
    column_order="chronological",
) -> tuple[Path, Path]:
    """Write the deployment below folder: ``dataset/`` and its backup; return (dataset folder, dump path)."""
    folder.mkdir(parents=True, exist_ok=True)
    dataset = write_dataset(deployment, folder)
    return dataset, write_dump(
        deployment, folder, style=style, compress=compress, pg_version=pg_version, column_order=column_order
    )


def write_dump(deployment: Deployment, folder: Path, *, compress=True, render=render_rows, **options) -> Path:
    """Write the deployment's backup into folder, as the original's backups.sh names it, streaming; return its path."""
    name = "eyetagger_bkp_2024_06_24_06_00_PM.sql" + (".gz" if compress else "")
    dump = folder / name
    with open(dump, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if compress else raw as out:
        for k, line in enumerate(dump_lines(deployment, render=render, **options)):
            out.write((("\n" if k else "") + line).encode())
    return dump


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="Where to write dataset/ and the backup.")
    parser.add_argument("--era", choices=ERAS, default="final", help="The original's schema era (default: final).")
    parser.add_argument("--style", choices=["copy", "inserts", "column-inserts", "rows-per-insert"], default="copy")
    parser.add_argument("--plain", action="store_true", help="Write the dump uncompressed.")
    parser.add_argument("--pg-version", default="13.4", help="The pg_dump version to imitate (13.4, 17.6...).")
    parser.add_argument(
        "--random",
        nargs=2,
        type=int,
        metavar=("IMAGES", "ANNOTATIONS"),
        help="Random annotations instead of the corner cases.",
    )
    args = parser.parse_args(argv)
    deployment = random_deployment(*args.random, era=args.era) if args.random else corner_cases(args.era)
    dataset, dump = write_deployment(
        deployment, args.folder, style=args.style, compress=not args.plain, pg_version=args.pg_version
    )
    counts = (
        f"{len(deployment.users)} users, {len(deployment.images)} images, {len(deployment.annotations)} annotations"
    )
    print(f"wrote {dataset} and {dump}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
