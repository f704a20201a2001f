"""The original's PNG, SVG and stroke times turned into masks and strokes: pure, no database."""

import base64
import io
import math
import zlib
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image as PILImage

from backend.api import strokes as strokes_mod
from backend.api.original import drawing

from . import original_fixtures as fx

# --- The fixtures follow fabric.js 3.6.3 (the reference's worked example, §5.6) ----------------


def test_the_brush_path_is_fabrics_for_the_references_example():
    pointer = [(100, 100), (110, 102), (120, 106), (130, 112)]
    path = fx.fabric_path(fx.brush_points(pointer), 20)
    # The last captured point is dropped, the ends are nudged by width/1000.
    assert path.d == "M 99.98 99.98 Q 100 100 105 101 Q 110 102 115 104 L 120.02 106.02"


def test_a_click_is_fabrics_dot():
    path = fx.fabric_path(fx.brush_points([(300, 200)]), 20)
    assert path.d == "M 299.98 200 L 300.02 200"


def test_the_svg_has_fabrics_wrong_transforms_for_the_references_example():
    paths = [
        fx.fabric_path(fx.brush_points([(100, 100), (110, 102), (120, 106), (130, 112)]), 20),
        fx.fabric_path(fx.brush_points([(300, 200)]), 20),
    ]
    svg = fx.fabric_svg(paths, 640, 480)
    assert '<g transform="matrix(1 0 0 1 -90 -46.99)"  >' in svg
    assert 'transform=" translate(-110, -103)"' in svg
    assert '<g transform="matrix(1 0 0 1 100 50.01)"  >' in svg
    assert 'transform=" translate(-300, -200)" d="M 299.98 200 L 300.02 200"' in svg
    assert svg.endswith("</svg>") and "Created with Fabric.js 3.6.3" in svg


def test_the_svgs_paths_are_read_in_image_pixels_ignoring_the_transforms():
    paths = [
        fx.fabric_path(fx.brush_points([(100, 100), (110, 102), (120, 106), (130, 112)]), 20),
        fx.fabric_path(fx.brush_points([(300, 200)]), 15),
    ]
    drawing_ = drawing.parse_svg(fx.fabric_svg(paths, 640, 480))
    assert (drawing_.width, drawing_.height) == (640, 480)
    first, dot = drawing_.paths
    assert first.width == 20 and dot.width == 15
    (line,) = first.polylines
    assert line[0].tolist() == [99.98, 99.98] and line[-1].tolist() == [120.02, 106.02]
    assert dot.polylines[0].tolist() == [[299.985, 200.0], [300.015, 200.0]]


# --- Paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d, expected",
    [
        ("M 0 0 L 10 0", [[0, 0], [10, 0]]),
        ("M0,0 10,0 10,5", [[0, 0], [10, 0], [10, 5]]),  # numbers after M are line-tos
        ("m 1 1 l 2 0 h 3 v -1 z", [[1, 1], [3, 1], [6, 1], [6, 0], [1, 1]]),
        ("M 0 0 H 4 V 4 Z", [[0, 0], [4, 0], [4, 4], [0, 0]]),
        ("M1e1 -.5L2E1-.5", [[10, -0.5], [20, -0.5]]),
    ],
)
def test_path_data_is_read_with_every_line_command(d, expected):
    (line,) = drawing.flatten_path(d)
    assert line.tolist() == expected


def test_fabrics_brush_paths_are_read_fast_and_bit_for_bit_as_the_general_reader_reads_them(monkeypatch):
    rng = __import__("random").Random(3)
    paths = [fx.fabric_path(fx.brush_points(fx._line(rng, (40, 40), 30, 4.0)), 12) for _ in range(20)]
    paths.append(fx.fabric_path(fx.brush_points([(5.5, 7.25)]), 9))  # a click: M and L
    fast = [drawing._brush_polyline(path.d) for path in paths]
    assert all(line is not None for line in fast)  # the fast path reads all of fabric's brush paths
    monkeypatch.setattr(drawing, "_brush_polyline", lambda d: None)
    for path, line in zip(paths, fast, strict=True):
        (general,) = drawing.flatten_path(path.d)
        assert general.shape == line.shape and (general == line).all()
    # Anything else goes to the general reader: another command, commas, a number that is no number.
    for d in (
        "M 0 0 L 10 0",
        "M 0 0 Q 1 1 2 2 Z",
        "M 0,0 Q 1 1 2 2 L 3 3",
        "M 0 0 Q 1 1 2 2e L 3 3",
        "M 1e999 0 Q 1 1 2 2",
    ):
        assert drawing._brush_polyline(d) is None


def test_curves_are_flattened_close_to_the_true_curve():
    (line,) = drawing.flatten_path("M 0 0 Q 50 100 100 0")
    s = np.linspace(0, 1, 2001)
    curve = np.column_stack([100 * s, 200 * s * (1 - s)])
    # Every point of the true curve lies within FLATNESS of the polyline.
    a, b = line[:-1], line[1:]
    ab = b - a
    t = np.clip(((curve[:, None] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    distance = np.linalg.norm(curve[:, None] - (a + t[..., None] * ab), axis=-1).min(axis=1)
    assert distance.max() <= drawing.FLATNESS + 1e-9
    (cubic,) = drawing.flatten_path("M 0 0 C 0 100 100 100 100 0 S 200 -100 200 0")
    assert cubic[-1].tolist() == [200, 0] and len(cubic) > 10
    (smooth,) = drawing.flatten_path("M 0 0 Q 10 10 20 0 T 40 0")
    assert smooth[-1].tolist() == [40, 0]


@pytest.mark.parametrize(
    "d, message",
    [
        ("M 0 0 A 5 5 0 0 1 10 0", "arc command A"),
        ("L 5 5", "before any M"),
        ("M 0 0 Q 1 2", "needs 4 numbers"),
        ("M 0 0 L 1 x", "cannot be read at character"),
        ("10 10", "no command before it"),
    ],
)
def test_broken_path_data_is_a_clear_error(d, message):
    with pytest.raises(ValueError, match=message):
        drawing.flatten_path(d)


def test_a_polyline_is_cut_where_it_leaves_the_box():
    line = np.array([[0.0, 0.0], [20.0, 0.0], [20.0, 30.0], [0.0, 5.0]])
    pieces = drawing.clip_polyline(line, (-5.0, -5.0, 10.0, 10.0))
    assert [p.tolist() for p in pieces] == [[[0, 0], [10, 0]], [[4, 10], [0, 5]]]
    assert drawing.clip_polyline(np.array([[50.0, 50.0]]), (0, 0, 10, 10)) == []


# --- PNG -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "png_size, image_size, ratio",
    [
        ((640, 480), (640, 480), 1),
        ((1280, 960), (640, 480), 2),
        ((961, 721), (641, 481), Fraction(3, 2)),  # floor(641 x 1.5)
        ((800, 600), (640, 480), Fraction(5, 4)),
        ((426, 320), (640, 480), Fraction(2, 3)),  # browser zoom 67%
        ((1152, 864), (640, 480), Fraction(9, 5)),
        ((700, 480), (640, 480), None),  # no one ratio fits both sides
        ((480, 640), (640, 480), None),  # turned a quarter (EXIF)
    ],
)
def test_the_device_pixel_ratio_is_the_simplest_that_fits_the_pngs_size(png_size, image_size, ratio):
    assert drawing.device_pixel_ratio(*png_size, *image_size) == ratio


def reference_mask(png: bytes, width: int, height: int) -> np.ndarray:
    """Decode the original's PNG as the reference's recipe says, by brute force: the area average of the
    alpha over each image pixel (dpr = png width / image width), set from half a stroke layer (42.5)."""
    alpha = np.asarray(PILImage.open(io.BytesIO(png)).convert("RGBA"))[..., 3].astype(float)
    if alpha.shape == (height, width):
        return alpha >= 43
    ratio = alpha.shape[1] / width
    mask = np.zeros((height, width), dtype=bool)
    for j in range(height):
        y0, y1 = j * ratio, (j + 1) * ratio
        for i in range(width):
            x0, x1 = i * ratio, (i + 1) * ratio
            total = 0.0
            for y in range(int(y0), min(alpha.shape[0], math.ceil(y1))):
                wy = min(y1, y + 1) - max(y0, y)
                for x in range(int(x0), min(alpha.shape[1], math.ceil(x1))):
                    total += wy * (min(x1, x + 1) - max(x0, x)) * alpha[y, x]
            mask[j, i] = total / (ratio * ratio) >= 42.5 - 1e-9
    return mask


@pytest.mark.parametrize("dpr", [1, 2, 1.5, 1.25])
def test_the_pngs_mask_is_its_alpha_averaged_over_each_image_pixel(dpr):
    paths = [
        fx.fabric_path(
            fx.brush_points(fx._line(__import__("random").Random(k), (20 + 10 * k, 30), 12, 3.0)), 5 * (k + 2)
        )
        for k in range(3)
    ]
    png = fx.render_png(paths, 48, 40, dpr)
    alpha = drawing.png_alpha(png, max_pixels=10**6)
    ratio = drawing.device_pixel_ratio(alpha.shape[1], alpha.shape[0], 48, 40)
    mask = drawing.png_mask(alpha, 48, 40, ratio)
    assert ratio == Fraction(dpr).limit_denominator(8)
    assert mask.any() and (mask == reference_mask(png, 48, 40)).all()


def _png(mode: str, size=(8, 6), **info) -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, size).save(out, format="PNG", **info)
    return out.getvalue()


def _garbled_idat(png: bytes) -> bytes:
    """Return the PNG with its IDAT's bytes reversed and the chunk's CRC made right again."""
    at = png.index(b"IDAT") - 4
    length = int.from_bytes(png[at : at + 4], "big")
    body = png[at + 8 : at + 8 + length][::-1]
    crc = zlib.crc32(b"IDAT" + body).to_bytes(4, "big")
    return png[: at + 8] + body + crc + png[at + 12 + length :]


def test_a_canvas_png_is_decoded_by_libspng_and_gives_pillows_alpha():
    paths = [fx.fabric_path(fx.brush_points(fx._line(__import__("random").Random(5), (20, 30), 12, 3.0)), 9)]
    for dpr in (1, 2):
        png = fx.render_png(paths, 48, 40, dpr)
        fast = drawing._rgba8_alpha(png, 10**6)
        assert fast is not None and fast.any()  # the fast path was taken
        assert (fast == np.asarray(PILImage.open(io.BytesIO(png)).getchannel("A"))).all()
    # What it does not take goes to Pillow: a palette, a PNG cut short, one larger than allowed.
    assert drawing._rgba8_alpha(_png("P", transparency=0), 10**6) is None
    assert drawing._rgba8_alpha(png[:-12], 10**6) is None
    assert drawing._rgba8_alpha(png, 10) is None


@pytest.mark.parametrize(
    "data_url, message",
    [
        ("not a url", "not a data URL"),
        ("data:image/jpeg;base64,AAAA", "of 'image/jpeg', not of a base64 PNG"),
        ("data:image/png;base64,%%%", "its base64 is broken"),
        ("data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode(), "does not decode"),
        ("data:image/png;base64," + base64.b64encode(_png("RGBA")[:60]).decode(), "does not decode"),
        # Whole pixels but no IEND (libspng would decode it), and an IDAT whose CRC holds but that does not inflate.
        ("data:image/png;base64," + base64.b64encode(_png("RGBA")[:-12]).decode(), "does not decode"),
        ("data:image/png;base64," + base64.b64encode(_garbled_idat(_png("RGBA"))).decode(), "does not decode"),
        ("data:image/png;base64," + base64.b64encode(_png("RGB")).decode(), "has no transparency"),
        ("data:image/png;base64," + base64.b64encode(_png("RGBA", (12, 6))).decode(), "is 12x6, which is no"),
        ("data:image/png;base64," + base64.b64encode(_png("RGBA", (6, 8))).decode(), "turned a quarter"),
    ],
)
def test_a_png_that_cannot_be_the_originals_is_a_clear_error_naming_the_row(data_url, message):
    with pytest.raises(drawing.RowInvalid, match=message) as caught:
        drawing.recover(
            row_id=41, where="api_annotation id 41", png_data_url=data_url, svg=None, times=None, width=8, height=6
        )
    assert str(caught.value).startswith("api_annotation id 41:") and caught.value.row_id == 41


def test_a_palette_png_with_transparency_is_read():
    png = _png("P", (8, 6), transparency=0)
    recovery = drawing.recover(
        row_id=1, where="r", png_data_url=fx.data_url(png), svg=None, times=None, width=8, height=6
    )
    assert not recovery.mask.any() and recovery.strokes == []


@pytest.mark.parametrize(
    "svg, message",
    [
        ("<svg><path d='M 0 0 L 1 1'></svg>", "does not parse as XML"),
        ("<html/>", "root element is <html>"),
        ("<svg xmlns='http://www.w3.org/2000/svg'><path d='M 0 0 A 1 1 0 0 1 2 2'/></svg>", "path 1: it uses the arc"),
        ("<svg xmlns='http://www.w3.org/2000/svg'><path style='stroke-width: x' d='M 0 0'/></svg>", "stroke-width"),
    ],
)
def test_an_svg_that_does_not_parse_is_a_clear_error_naming_the_row(svg, message):
    with pytest.raises(drawing.RowInvalid, match=message):
        drawing.recover(row_id=3, where="api_annotation id 3", png_data_url="", svg=svg, times=None, width=8, height=6)


# --- Times ---------------------------------------------------------------------------------


def test_times_are_read_with_a_missing_up():
    assert drawing.parse_times('[{"down":1719252060000,"up":1719252060820},{"down":1719252062570,"up":null}]') == [
        (1719252060000, 1719252060820),
        (1719252062570, None),
    ]
    assert drawing.parse_times("") is None and drawing.parse_times(None) is None


@pytest.mark.parametrize("text", ["[{down:", '{"down": 1}', '[{"down": "x", "up": 1}]', "[1, 2]"])
def test_unreadable_times_are_an_error_the_import_notes(text):
    with pytest.raises(ValueError, match="annotation_times"):
        drawing.parse_times(text)


# --- Whole rows: the corner cases of every era ----------------------------------------------


def _rows(era: str):
    deployment = fx.corner_cases(era)
    images = {image.name: image for image in deployment.images}
    for spec in deployment.annotations:
        image = images[spec.image]
        yield spec, image, fx.annotation_columns(spec, image)


@pytest.mark.parametrize("era", ["final", "iris"])
def test_every_rows_mask_is_its_pngs_pixel_for_pixel_and_its_strokes_give_that_mask(era):
    for spec, image, columns in _rows(era):
        recovery = drawing.recover(
            row_id=spec.id,
            where=f"row {spec.id}",
            png_data_url=columns["annotation"],
            svg=columns["annotation_svg"],
            times=columns["annotation_times"],
            width=image.width,
            height=image.height,
        )
        if columns["annotation"]:
            expected = reference_mask(recovery.png, image.width, image.height)
            assert (recovery.mask == expected).all(), spec.id
        assert (strokes_mod.rasterize(recovery.strokes, image.width, image.height) == recovery.mask).all(), spec.id
        strokes_mod.validate_strokes(recovery.strokes, width=image.width, height=image.height)
        brushes = [s for s in recovery.strokes if s["tool"] == "brush"]
        if columns["annotation_svg"] and columns["annotation"]:
            assert recovery.strokes_from == "svg" and len(brushes) >= len(spec.strokes)
            painted = strokes_mod.rasterize(brushes, image.width, image.height)
            union = (painted | recovery.mask).sum()
            iou = (painted & recovery.mask).sum() / union if union else 1.0
            assert iou >= 0.99, (spec.id, iou)
            assert recovery.svg_iou == pytest.approx(iou)
        elif columns["annotation"]:
            assert recovery.strokes_from in ("png", "none") and not brushes


def test_stroke_times_go_with_their_strokes_when_they_match_one_to_one():
    spec, image, columns = next((s, i, c) for s, i, c in _rows("final") if s.id == 7)
    recovery = drawing.recover(
        row_id=7,
        where="r",
        png_data_url=columns["annotation"],
        svg=columns["annotation_svg"],
        times=columns["annotation_times"],
        width=image.width,
        height=image.height,
    )
    brushes = [s for s in recovery.strokes if s["tool"] == "brush"]
    assert recovery.times_matched and recovery.started_ms == fx.EPOCH_2024
    assert [(b["points"][0][2], b["points"][-1][2]) for b in brushes] == [(0, 820), (2100, 2900), (4000, 4080)]
    assert recovery.active_ms == 4080
    corrections = recovery.strokes[len(brushes) :]
    assert all(s["tool"] in ("lasso", "lasso-eraser") and s["points"][0][2] == 4080 for s in corrections)


def test_drifted_times_keep_the_span_but_not_the_strokes_times():
    spec, image, columns = next((s, i, c) for s, i, c in _rows("final") if s.id == 9)  # a time short
    recovery = drawing.recover(
        row_id=9,
        where="r",
        png_data_url=columns["annotation"],
        svg=columns["annotation_svg"],
        times=columns["annotation_times"],
        width=image.width,
        height=image.height,
    )
    assert not recovery.times_matched and recovery.active_ms == 3300  # 10,000 .. 13,300 ms after the first
    assert all(p[2] == 0 for s in recovery.strokes for p in s["points"])
    assert any("2 stroke times for 3 SVG paths" in note for note in recovery.notes)


def test_svg_strokes_far_from_the_png_are_not_used():
    image = fx.ImageSpec("x.png", 64, 48)
    left = fx.fabric_path(fx.brush_points([(10, 10), (12, 20), (14, 30)]), 10)
    right = fx.fabric_path(fx.brush_points([(50, 10), (52, 20), (54, 30)]), 10)
    recovery = drawing.recover(
        row_id=5,
        where="r",
        png_data_url=fx.data_url(fx.render_png([left], image.width, image.height, 1)),
        svg=fx.fabric_svg([right], image.width, image.height),
        times=None,
        width=image.width,
        height=image.height,
    )
    assert recovery.strokes_from == "png" and recovery.svg_iou < 0.1
    assert (strokes_mod.rasterize(recovery.strokes, 64, 48) == recovery.mask).all()
