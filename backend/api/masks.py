"""Masks as files: COCO RLE in and out, PNG, and the strokes drawn as SVG.

Pure: no ORM, no HTTP. The mask itself is defined by ``strokes.rasterize``; this module
only changes its representation, never its pixels.
"""

import io
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image as PILImage
from pycocotools import mask as coco_mask

from . import strokes as strokes_mod


def rle_encode(mask: np.ndarray) -> str:
    """Return the COCO compressed RLE counts of a boolean mask (column-major, as COCO defines it)."""
    rle = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return rle["counts"].decode("ascii")


def rle_object(counts: str, width: int, height: int) -> dict:
    """Return the COCO RLE object ``{"size": [h, w], "counts": ...}`` that pycocotools reads."""
    return {"size": [height, width], "counts": counts.encode("ascii")}


def rle_area(rle: dict) -> int:
    """Return the number of pixels set in a COCO RLE object."""
    return int(coco_mask.area(rle))


def rle_decode(counts: str, width: int, height: int) -> np.ndarray:
    """Return the boolean mask, shape (height, width), of COCO compressed RLE counts."""
    # pycocotools decodes column-major; one row-major copy here saves a strided pass in
    # every later use (PNG encoding, heat-map sums), and viewing 0/1 bytes as bool is free.
    return np.ascontiguousarray(coco_mask.decode(rle_object(counts, width, height))).view(bool)


def annotation_mask(*, mask_rle: str, strokes: list | None, width: int, height: int) -> np.ndarray:
    """Return an annotation's mask: its stored RLE, or the strokes rasterized when none is stored.

    Every save stores the RLE; only rows written around the services (fixtures, raw SQL) lack it.
    """
    if mask_rle:
        return rle_decode(mask_rle, width, height)
    return strokes_mod.rasterize(strokes or [], width, height)


def mask_from_picture(data: bytes, width: int, height: int) -> np.ndarray:
    """Return the boolean mask of a reference mask's file: set where it is light (over half grey), at the image's size.

    A file of another size (a map made at a lower resolution) is scaled to the image's, nearest
    pixel; one with transparency counts transparent pixels as unset. ValueError if unreadable.
    """
    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            picture = picture.convert("LA")
            if picture.size != (width, height):
                picture = picture.resize((width, height), PILImage.Resampling.NEAREST)
            grey, alpha = (np.asarray(band) for band in picture.split())
    except (OSError, SyntaxError, PILImage.DecompressionBombError) as error:  # Pillow's ways of saying unreadable
        raise ValueError(str(error) or type(error).__name__) from None
    return (grey > 127) & (alpha > 127)


def mask_png(mask: np.ndarray, *, depth: int = 1) -> bytes:
    """Return the mask as PNG bytes: 1-bit (depth 1), or 8-bit greyscale with 0 and 255 (depth 8)."""
    if depth == 1:
        picture = PILImage.fromarray(np.ascontiguousarray(mask, dtype=bool))  # mode "1"
    elif depth == 8:
        picture = PILImage.fromarray(np.where(mask, 255, 0).astype(np.uint8))  # mode "L"
    else:
        raise ValueError(f"depth must be 1 or 8; got {depth!r}")
    out = io.BytesIO()
    # Level 1: masks are long runs, so the fastest level is nearly as small as the best.
    picture.save(out, format="PNG", compress_level=1)
    return out.getvalue()


# --- SVG -------------------------------------------------------------------------

_PAINT = "#fff"


def _number(value: float) -> str:
    """Format a coordinate exactly and briefly: the shortest text that reads back as the same float."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _path_data(points, *, closed: bool) -> str:
    parts = [f"M{_number(points[0][0])} {_number(points[0][1])}"]
    parts += [f"L{_number(x)} {_number(y)}" for x, y, *_ in points[1:]]
    if closed:
        parts.append("Z")
    return " ".join(parts)


def _shape(stroke: dict, index: int, paint: str) -> str:
    """Return the SVG element drawing one stroke in ``paint``, with its tool and times as data attributes."""
    points = stroke["points"]
    data = (
        f'data-index="{index}" data-tool="{stroke["tool"]}" '
        f'data-t0="{_number(points[0][2])}" data-t1="{_number(points[-1][2])}"'
    )
    if stroke["tool"] in ("lasso", "lasso-eraser"):
        return f'<path {data} d="{_path_data(points, closed=True)}" fill="{paint}" fill-rule="evenodd"/>'
    width = _number(stroke["width"])
    if len(points) == 1:
        x, y = _number(points[0][0]), _number(points[0][1])
        return f'<circle {data} cx="{x}" cy="{y}" r="{_number(stroke["width"] / 2)}" fill="{paint}"/>'
    return (
        f'<path {data} d="{_path_data(points, closed=False)}" fill="none" stroke="{paint}" '
        f'stroke-width="{width}" stroke-linecap="round" stroke-linejoin="round"/>'
    )


def strokes_svg(strokes: list[dict], width: int, height: int, *, background: bool = True, title: str = "") -> str:
    """Return the strokes as an SVG document whose painted area is the mask, in image coordinates.

    Brushes are paths of their width with round caps and joins (a one-point stroke is a
    circle); lassos are closed paths filled by the even-odd rule. Each run of erasers is an
    SVG ``<mask>`` applied to everything painted before it, so later strokes paint over the
    erased area just as in the mask definition. The painted area is white; with
    ``background`` it lies on a black rectangle (the SVG then looks like the PNG mask),
    without it on transparency, ready to lay over the image.

    Browsers anti-alias edges, so the rendering matches the mask up to its boundary pixels;
    the PNG is the exact mask.
    """
    defs: list[str] = []
    content: list[str] = []  # everything painted so far, as SVG elements
    erasers: list[str] = []

    def close_eraser_run():
        mask_id = f"erase{len(defs)}"
        defs.append(
            f'<mask id="{mask_id}" maskUnits="userSpaceOnUse" x="0" y="0" width="{width}" height="{height}">'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>{"".join(erasers)}</mask>'
        )
        wrapped = f'<g mask="url(#{mask_id})">{"".join(content)}</g>'
        content.clear()
        content.append(wrapped)
        erasers.clear()

    for index, stroke in enumerate(strokes):
        if stroke["tool"] in ("eraser", "lasso-eraser"):
            erasers.append(_shape(stroke, index, "#000"))
        else:
            if erasers:
                close_eraser_run()
            content.append(_shape(stroke, index, _PAINT))
    if erasers:
        close_eraser_run()
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    parts = [head]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    if defs:
        parts.append(f"<defs>{''.join(defs)}</defs>")
    if background:
        parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#000"/>')
    parts.append(f"<g>{''.join(content)}</g>")
    parts.append("</svg>\n")
    return "\n".join(parts)
