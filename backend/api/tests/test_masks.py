"""Mask files: RLE round trips, PNG in both depths, and the SVG drawing the same mask as the rasterizer."""

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image as PILImage
from pycocotools import mask as coco_mask

from backend.api import masks
from backend.api.strokes import rasterize

W, H = 64, 48
SVG = "{http://www.w3.org/2000/svg}"


def stroke(points, width=4.0, tool="brush"):
    return {
        "tool": tool,
        "width": width,
        "points": [[float(x), float(y), 10.0 * i, 0.5] for i, (x, y) in enumerate(points)],
    }


def random_mask(seed=0):
    return np.random.default_rng(seed).random((H, W)) > 0.6


def test_rle_round_trips_a_mask_exactly():
    mask = random_mask()
    assert (masks.rle_decode(masks.rle_encode(mask), W, H) == mask).all()


def test_rle_is_what_pycocotools_reads():
    mask = random_mask(1)
    decoded = coco_mask.decode({"size": [H, W], "counts": masks.rle_encode(mask)})
    assert (decoded.astype(bool) == mask).all()
    assert masks.rle_area(masks.rle_object(masks.rle_encode(mask), W, H)) == mask.sum()


def test_the_stored_rle_is_used_and_the_strokes_only_when_it_is_missing():
    strokes = [stroke([(10, 10)], width=6)]
    other = np.zeros((H, W), dtype=bool)
    assert not masks.annotation_mask(mask_rle=masks.rle_encode(other), strokes=strokes, width=W, height=H).any()
    assert (masks.annotation_mask(mask_rle="", strokes=strokes, width=W, height=H) == rasterize(strokes, W, H)).all()


@pytest.mark.parametrize("depth, mode, values", [(1, "1", {0, 255}), (8, "L", {0, 255})])
def test_a_png_mask_has_the_image_size_and_two_values(depth, mode, values):
    mask = random_mask(2)
    picture = PILImage.open(io.BytesIO(masks.mask_png(mask, depth=depth)))
    assert (picture.size, picture.mode) == ((W, H), mode)
    pixels = np.asarray(picture.convert("L"))
    assert set(np.unique(pixels)) == values
    assert ((pixels == 255) == mask).all()


def test_a_png_depth_other_than_1_or_8_is_refused():
    with pytest.raises(ValueError, match="depth must be 1 or 8"):
        masks.mask_png(random_mask(), depth=4)


# --- SVG -----------------------------------------------------------------------------

STROKES = [
    stroke([(5, 5), (50, 30), (20, 40)], width=8),
    stroke([(30, 0), (30, 48)], width=6, tool="eraser"),
    stroke([(40, 5), (60, 5), (60, 20), (40, 20)], tool="lasso"),
    stroke([(45, 8), (55, 8), (50, 16)], tool="lasso-eraser"),
    stroke([(10, 40)], width=5),
    stroke([(-5, 44), (70, 44)], width=3),  # runs off both edges
]


def test_the_svg_has_an_image_sized_viewbox():
    root = ET.fromstring(masks.strokes_svg(STROKES, W, H))
    assert (root.get("viewBox"), root.get("width"), root.get("height")) == ("0 0 64 48", "64", "48")


def test_brushes_are_round_paths_of_their_width_and_one_point_a_circle():
    root = ET.fromstring(masks.strokes_svg(STROKES, W, H))
    first = root.find(f".//{SVG}path[@data-index='0']")
    assert first.get("d") == "M5 5 L50 30 L20 40"
    assert (first.get("stroke-width"), first.get("stroke-linecap"), first.get("stroke-linejoin")) == (
        "8",
        "round",
        "round",
    )
    dot = root.find(f".//{SVG}circle[@data-index='4']")
    assert (dot.get("cx"), dot.get("cy"), dot.get("r")) == ("10", "40", "2.5")


def test_lassos_are_closed_even_odd_paths():
    root = ET.fromstring(masks.strokes_svg(STROKES, W, H))
    lasso = root.find(f".//{SVG}path[@data-index='2']")
    assert lasso.get("d").endswith("Z") and lasso.get("fill-rule") == "evenodd"


def test_each_eraser_masks_only_what_was_painted_before_it():
    root = ET.fromstring(masks.strokes_svg(STROKES, W, H))
    eraser_mask = root.find(f".//{SVG}mask[@id='erase0']")
    assert eraser_mask.find(f"{SVG}path").get("data-tool") == "eraser"
    masked = root.find(f".//{SVG}g[@mask='url(#erase0)']")
    assert [e.get("data-index") for e in masked.iter() if e.get("data-index")] == ["0"]
    outer = root.find(f".//{SVG}g[@mask='url(#erase1)']")
    assert [e.get("data-index") for e in outer.iter() if e.get("data-index")] == ["0", "2"]


def test_points_keep_their_exact_coordinates_and_times():
    svg = masks.strokes_svg([stroke([(0.1, 2.25), (1e-7, 3.5)])], W, H)
    path = ET.fromstring(svg).find(f".//{SVG}path")
    assert path.get("d") == "M0.1 2.25 L1e-07 3.5"
    assert (path.get("data-t0"), path.get("data-t1")) == ("0", "10")


def test_without_background_the_svg_is_transparent_around_the_strokes():
    root = ET.fromstring(masks.strokes_svg(STROKES, W, H, background=False))
    assert root.findall(f"{SVG}rect") == []
    assert len(ET.fromstring(masks.strokes_svg(STROKES, W, H)).findall(f"{SVG}rect")) == 1


def test_the_title_is_escaped():
    root = ET.fromstring(masks.strokes_svg([], W, H, title="<a & b>"))
    assert root.find(f"{SVG}title").text == "<a & b>"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_chromium_renders_the_svg_as_the_rasterizers_mask(tmp_path):
    svg = tmp_path / "strokes.svg"
    svg.write_text(masks.strokes_svg(STROKES, W, H))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={W},{H}",
            f"--screenshot={shot}",
            svg.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    rendered = np.asarray(PILImage.open(shot).convert("L"))[:H, :W] > 127
    expected = rasterize(STROKES, W, H)
    iou = (rendered & expected).sum() / (rendered | expected).sum()
    assert iou >= 0.99, f"IoU {iou:.4f}"
