"""Turn an original annotation row's PNG, SVG and stroke times into a mask and a strokes document.

Over 500 lines on purpose: the PNG, SVG and times readers exist only to fill one ``Recovery``, and
``recover`` weighs each against the others, so they are read together here.

The original stored (reference §5):

- ``annotation``: a PNG data URL of the strokes alone, semi-transparent (alpha 85 a layer) on
  transparency, at the image's size times the annotator's devicePixelRatio. It is the
  original's mask in every era. Its mask here: the alpha, area-averaged down to the image's
  pixels when the ratio is not 1, and a pixel is set when that mean is at least half of one
  stroke layer (42.5 of 255).
- ``annotation_svg`` (2024-06 on): fabric.js 3.6.3's SVG of the strokes. Each ``<path d>`` is
  in image pixels; the ``transform`` attributes are wrong by the strokes' group centre (a
  client bug) and are ignored.
- ``annotation_times`` (2024-06 on): ``[{"down": ms, "up": ms}, ...]``, one per stroke when
  nothing drifted.

``recover`` makes the strokes document. The PNG's mask always wins: with an SVG, the strokes
are its paths as brush strokes (with their times, for replay), followed by lasso corrections
along pixel edges where the PNG differs (``strokes.mask_lassos``), so the document's mask is
the PNG's exactly; without one, the document is lassos tracing the PNG's mask exactly.

One module, over 500 lines, because the PNG's mask, the SVG's paths and the stroke times are
reconciled against one another in ``recover``: each reader's output is only meaningful to it.
"""

import base64
import binascii
import io
import json
import math
import re
import struct
import warnings
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pyspng
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from scipy import sparse

from .. import strokes as strokes_mod
from .rows import OriginalInvalid

PNG_PREFIX = "data:image/png;base64,"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A pixel is in the mask when its mean alpha is at least half of one stroke layer (#0f05: alpha 85).
LAYER_ALPHA = 85
# SVG strokes that agree with the PNG less than this are not used (the PNG's trace stands alone).
SVG_TRUST_IOU = 0.9
# Curves are flattened into segments this close to the true curve, in image pixels.
FLATNESS = 0.1
# The brush's pressure is unknown (fabric drew with a mouse); the app records 0.5 for a mouse.
MOUSE_PRESSURE = 0.5
# Stroke times are client clocks: outside these years they are a broken clock, not a time.
_EARLIEST_MS, _LATEST_MS = 1577836800000, 4102444800000  # 2020-01-01 .. 2100-01-01
_MAX_PNG_RATIO = 8  # devicePixelRatio above this is no screen: a PNG that large is refused


class RowInvalid(OriginalInvalid):
    """An annotation row that cannot be imported as it is; ``row_id`` names it."""

    def __init__(self, row_id: int, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.row_id = row_id


# --- PNG ----------------------------------------------------------------------------------


def png_bytes(data_url: str) -> bytes:
    """Return the PNG bytes of the original's data URL (``b""`` when the row holds none)."""
    if not data_url:
        return b""
    head, comma, payload = data_url.partition(",")
    if not comma or not head.startswith("data:"):
        raise ValueError(f"it is not a data URL (it starts {data_url[:30]!r})")
    if head.lower() not in ("data:image/png;base64",):
        raise ValueError(f"it is a data URL of {head[5:].split(';')[0]!r}, not of a base64 PNG")
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"its base64 is broken ({error})") from None


def png_alpha(data: bytes, *, max_pixels: int) -> np.ndarray:
    """Return the PNG's alpha channel as uint8, shape (height, width); raise ValueError if it is no such PNG."""
    alpha = _rgba8_alpha(data, max_pixels)
    if alpha is not None:
        return alpha
    # Any other kind of PNG (palette, grey, 16 bits, interlaced), and every broken one, goes
    # through Pillow, which reads them all and says what is wrong.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as picture:
                # Every chunk's CRC, up to IEND: a PNG cut short is refused even when its pixels are whole.
                picture.verify()
            with PILImage.open(io.BytesIO(data)) as picture:
                if picture.format != "PNG":
                    raise ValueError(f"it is a {picture.format} image, not a PNG")
                if picture.width * picture.height > max_pixels:
                    raise ValueError(f"it is {picture.width}x{picture.height}, far larger than the image")
                if "A" in picture.getbands():
                    alpha = picture.getchannel("A")
                elif "transparency" in picture.info:
                    alpha = picture.convert("RGBA").getchannel("A")
                else:
                    raise ValueError(f"it has no transparency (mode {picture.mode}), so it cannot hold strokes")
                return np.asarray(alpha, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, PILImage.DecompressionBombWarning) as error:
        # Pillow reports a truncated or corrupt PNG with any of these.
        raise ValueError(f"it does not decode as a PNG ({error or type(error).__name__})") from None


def _rgba8_alpha(data: bytes, max_pixels: int) -> np.ndarray | None:
    """Return the alpha of a whole, 8-bit RGBA, non-interlaced PNG (what a canvas exports), or None for any other.

    Decoded by libspng (pyspng), 2-3x faster than Pillow here; only once every chunk's CRC has
    been checked up to IEND, which libspng does not require, so a PNG cut short still goes to
    Pillow and is refused there.
    """
    if not data.startswith(_PNG_SIGNATURE):
        return None
    pos, size, header = len(_PNG_SIGNATURE), len(data), None
    while True:
        if pos + 12 > size:
            return None
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 8 + length
        if end + 4 > size or zlib.crc32(data[pos + 4 : end]) != struct.unpack_from(">I", data, end)[0]:
            return None
        if header is None:
            if kind != b"IHDR" or length != 13:
                return None
            header = struct.unpack_from(">IIBBBBB", data, pos + 8)
        if kind == b"IEND":
            break
        pos = end + 4
    width, height, depth, colour, _, _, interlace = header
    if (depth, colour, interlace) != (8, 6, 0) or not 0 < width * height <= max_pixels:
        return None
    try:
        pixels = pyspng.load(data, format="RGBA")
    except RuntimeError:  # pyspng's only error: a stream that does not inflate (Pillow says which way)
        return None
    return pixels[:, :, 3]


def device_pixel_ratio(png_width: int, png_height: int, width: int, height: int) -> Fraction | None:
    """Return the devicePixelRatio a PNG of this size was drawn at, or None if no ratio fits.

    The PNG is floor(width x dpr) by floor(height x dpr), so dpr lies in
    [png/size, (png+1)/size) on both axes; the simplest fraction there is the ratio a screen
    or browser zoom gives (2, 3/2, 5/4, 2/3...).
    """
    low = max(Fraction(png_width, width), Fraction(png_height, height))
    high = min(Fraction(png_width + 1, width), Fraction(png_height + 1, height))
    if low >= high:
        return None
    # The simplest fraction in [low, high): the first denominator with a numerator inside. The
    # interval is at least 1/size wide, so a denominator of at most the size always fits.
    for denominator in range(1, max(width, height) + 1):
        numerator = math.ceil(low * denominator)
        if Fraction(numerator, denominator) < high:
            return Fraction(numerator, denominator)
    return low


def png_mask(alpha: np.ndarray, width: int, height: int, ratio: Fraction) -> np.ndarray:
    """Return the image-sized mask of a PNG's alpha drawn at this devicePixelRatio."""
    if ratio == 1 and alpha.shape == (height, width):
        return alpha >= math.ceil(LAYER_ALPHA / 2)
    if ratio.denominator == 1:
        k = ratio.numerator
        block = alpha[: height * k, : width * k]
        # Rows summed first, then columns, in 16 bits while k x k x 255 fits: strided views, faster
        # than a reshape and a sum over axes.
        dtype = np.uint16 if k * k * 255 < 2**16 else np.uint32
        rows = block[0::k].astype(dtype)
        for dy in range(1, k):
            rows += block[dy::k]
        sums = rows[:, 0::k].copy()
        for dx in range(1, k):
            sums += rows[:, dx::k]
        return sums >= math.ceil(LAYER_ALPHA * k * k / 2)  # mean >= 42.5, in whole numbers
    # A fractional ratio: the exact area average over each image pixel's footprint in the PNG,
    # [i x ratio, (i + 1) x ratio) on each axis, as sparse weights (Pillow's box filter weighs whole
    # pixels by their centres, which shifts edges by up to half a PNG pixel).
    rows = _area_weights(height, alpha.shape[0], ratio)
    columns = _area_weights(width, alpha.shape[1], ratio)
    mean = rows @ (columns @ alpha.T.astype(np.float64)).T
    return mean >= LAYER_ALPHA / 2 - 1e-9


def _area_weights(size: int, png_size: int, ratio: Fraction) -> sparse.csr_matrix:
    """Return the (size, png_size) matrix averaging PNG pixels over each image pixel's footprint."""
    r = float(ratio)
    starts = np.arange(size) * r
    first = np.floor(starts).astype(np.int64)
    span = int(math.ceil(r)) + 1  # PNG pixels one image pixel may touch
    columns = first[:, None] + np.arange(span)[None, :]
    overlap = np.minimum(starts[:, None] + r, columns + 1.0) - np.maximum(starts[:, None], columns)
    keep = (overlap > 0) & (columns < png_size)  # past the PNG's edge: transparency, cut off by floor()
    rows = np.broadcast_to(np.arange(size)[:, None], columns.shape)
    return sparse.csr_matrix((overlap[keep] / r, (rows[keep], columns[keep])), shape=(size, png_size))


# --- SVG ----------------------------------------------------------------------------------

_SVG = "{http://www.w3.org/2000/svg}"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATH_TOKEN = re.compile(rf"\s*,?\s*(?:([MmLlHhVvQqTtCcSsZzAa])|({_NUMBER}))")
_PATH_TOKENS = re.compile(rf"([MmLlHhVvQqTtCcSsZzAa])|({_NUMBER})")
_SEPARATORS = " \t\n\r\f,"
_STROKE_WIDTH = re.compile(r"(?:^|;)\s*stroke-width\s*:\s*([^;]*)")
_BRUSH_CHARACTERS = re.compile(r"[MQL0-9eE.+\- ]*")  # all fabric's brush writes: see _brush_polyline
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "Q": 4, "T": 2, "C": 6, "S": 4, "Z": 0, "A": 7}


@dataclass
class SvgPath:
    """One ``<path>`` of the original's SVG: its subpaths flattened to polylines, in image pixels."""

    width: float
    polylines: list[np.ndarray]  # each (n, 2)


@dataclass
class SvgDrawing:
    width: float | None
    height: float | None
    paths: list[SvgPath]


def parse_svg(text: str) -> SvgDrawing:
    """Return the paths of the original's SVG, ignoring their transforms; raise ValueError if it does not parse."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as error:
        raise ValueError(f"it does not parse as XML ({error})") from None
    if root.tag not in (f"{_SVG}svg", "svg"):
        raise ValueError(f"its root element is <{root.tag}>, not <svg>")
    paths = []
    for k, element in enumerate(e for e in root.iter() if e.tag in (f"{_SVG}path", "path")):
        width = _stroke_width(element)
        try:
            polylines = flatten_path(element.get("d") or "")
        except ValueError as error:
            raise ValueError(f"path {k + 1}: {error}") from None
        paths.append(SvgPath(width=width, polylines=polylines))
    return SvgDrawing(width=_length(root.get("width")), height=_length(root.get("height")), paths=paths)


def _stroke_width(element) -> float:
    match = _STROKE_WIDTH.search(element.get("style") or "")
    value = match.group(1).strip() if match else element.get("stroke-width")
    if value is None:
        return 1.0  # SVG's default
    try:
        width = float(value.removesuffix("px"))
    except ValueError:
        raise ValueError(f"a path's stroke-width is not a number: {value!r:.30}") from None
    if not math.isfinite(width) or width < 0:
        raise ValueError(f"a path's stroke-width is {value!r:.30}")
    return width


def _length(value: str | None) -> float | None:
    if value is None:
        return None
    match = re.match(rf"\s*({_NUMBER})\s*(px)?\s*$", value)
    return float(match.group(1)) if match else None


def flatten_path(d: str) -> list[np.ndarray]:
    """Return the subpaths of SVG path data as polylines, curves flattened within FLATNESS pixels.

    Reads every command SVG paths have but arcs (fabric's brush writes only M, Q and L).
    """
    brush = _brush_polyline(d)
    if brush is not None:
        return [brush]
    tokens = _tokens(d)
    polylines: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] | None = None
    x = y = start_x = start_y = 0.0
    last_control: tuple[float, float] | None = None
    last_command = ""
    k = 0
    command = ""
    while k < len(tokens):
        token = tokens[k]
        if isinstance(token, str):
            command = token
            k += 1
            if command in "Zz":
                if current is not None:
                    current.append((start_x, start_y))
                x, y, last_control, last_command = start_x, start_y, None, "Z"
                continue
        elif not command or command in "Zz":
            raise ValueError(f"a number ({token:g}) with no command before it")
        args = _command_args(tokens, k, command)
        k += len(args)
        upper, relative = command.upper(), command.islower()
        if upper == "M":
            px, py = (x + args[0], y + args[1]) if relative else (args[0], args[1])
            current = [(px, py)]
            polylines.append(current)
            x, y, start_x, start_y = px, py, px, py
            command = "l" if relative else "L"  # numbers after M are line-tos
            last_control = None
            last_command = "M"
            continue
        if current is None:
            raise ValueError(f"it draws ({command}) before any M")
        points, x, y, last_control = _segment(upper, args, relative, x, y, last_control, last_command)
        current.extend(points)
        last_command = command
    return [np.asarray(line, dtype=np.float64) for line in polylines if line]


def _command_args(tokens: list, k: int, command: str) -> list[float]:
    """Return the numbers of the command at tokens[k:]; raise ValueError for an arc or too few numbers."""
    upper = command.upper()
    if upper == "A":
        raise ValueError("it uses the arc command A, which fabric's brush never writes")
    count = _ARGS[upper]
    args = tokens[k : k + count]
    if len(args) < count or any(isinstance(a, str) for a in args):
        raise ValueError(f"the command {command} needs {count} numbers")
    return args


def _segment(upper: str, args, relative: bool, x: float, y: float, last_control, last_command: str):
    """Return the points an L, H, V, Q, T, C or S command draws from (x, y), its end x, y and its last control point."""
    if upper in ("L", "H", "V"):
        if upper == "H":
            px, py = (x + args[0] if relative else args[0]), y
        elif upper == "V":
            px, py = x, (y + args[0] if relative else args[0])
        else:
            px, py = (x + args[0], y + args[1]) if relative else (args[0], args[1])
        return [(px, py)], px, py, None
    if upper in ("Q", "T"):
        if upper == "Q":
            cx, cy, px, py = _absolute(args, x, y, relative)
        else:
            cx, cy = _reflect(last_control, x, y) if last_command in "QqTt" else (x, y)
            px, py = _absolute(args, x, y, relative)
        return _quadratic((x, y), (cx, cy), (px, py)), px, py, (cx, cy)
    # C, S
    if upper == "C":
        c1x, c1y, c2x, c2y, px, py = _absolute(args, x, y, relative)
    else:
        c1x, c1y = _reflect(last_control, x, y) if last_command in "CcSs" else (x, y)
        c2x, c2y, px, py = _absolute(args, x, y, relative)
    return _cubic((x, y), (c1x, c1y), (c2x, c2y), (px, py)), px, py, (c2x, c2y)


def _brush_polyline(d: str) -> np.ndarray | None:
    """Return the polyline of path data as fabric's brush writes it (``M x y``, ``Q`` a point, ``L x y``), or None.

    The same points as the general reader, computed by the same formulas in the same order
    (so bit for bit), a curve at a time in NumPy rather than a point at a time: most of an
    import's SVG time. Anything else, or anything odd, is None and goes to the general reader.
    """
    if not _BRUSH_CHARACTERS.fullmatch(d):
        return None
    tokens = d.split()
    count = len(tokens)
    ends_with_line = count >= 6 and tokens[-3] == "L"
    curves = (count - 3 - 3 * ends_with_line) // 5
    if count != 3 + 5 * curves + 3 * ends_with_line or tokens[0] != "M" or not (curves or ends_with_line):
        return None
    if any(tokens[3 + 5 * k] != "Q" for k in range(curves)):
        return None
    numbers = tokens[1:3] + [t for k in range(curves) for t in tokens[4 + 5 * k : 8 + 5 * k]] + tokens[-2:]
    try:
        values = [float(t) for t in numbers]
    except ValueError:  # "1-2", "1.2.3": the general reader says what is wrong, or reads it
        return None
    if not all(map(math.isfinite, values)):
        return None
    start = values[:2]
    if not curves:  # a click: M and L
        return np.asarray([start, values[-2:]], dtype=np.float64)
    curve = np.asarray(values[2 : 2 + 4 * curves], dtype=np.float64).reshape(curves, 4)
    cx, cy, px, py = curve.T
    ox = np.concatenate([[start[0]], px[:-1]])  # each curve starts where the one before ended
    oy = np.concatenate([[start[1]], py[:-1]])
    # Chords per curve with Python's math, exactly as _quadratic counts them.
    chords = np.asarray(
        [
            _segments(2 * math.hypot(x0 - 2 * c0 + x1, y0 - 2 * c1 + y1))
            for x0, y0, c0, c1, x1, y1 in zip(
                ox.tolist(), oy.tolist(), cx.tolist(), cy.tolist(), px.tolist(), py.tolist(), strict=True
            )
        ]
    )
    which = np.repeat(np.arange(curves), chords)
    k = np.arange(which.size) - np.repeat(np.cumsum(chords) - chords, chords) + 1  # 1..n within each curve
    n = chords[which]
    s = k / n
    u = 1 - s
    p0x, p0y, c0, c1, p1x, p1y = ox[which], oy[which], cx[which], cy[which], px[which], py[which]
    xs = np.where(k == n, p1x, u * u * p0x + 2 * u * s * c0 + s * s * p1x)
    ys = np.where(k == n, p1y, u * u * p0y + 2 * u * s * c1 + s * s * p1y)
    points = [np.asarray([start]), np.column_stack([xs, ys])]
    if ends_with_line:
        points.append(np.asarray([values[-2:]]))
    return np.concatenate(points)


def _tokens(d: str) -> list:
    """Return the path data's commands (str) and numbers (float); raise ValueError naming what cannot be read."""
    tokens = [command or float(number) for command, number in _PATH_TOKENS.findall(d)]
    if _PATH_TOKENS.sub("", d).strip(_SEPARATORS):
        # Something is neither a command, a number nor a separator: go token by token to say where.
        pos, d = 0, d.rstrip()
        while pos < len(d):
            match = _PATH_TOKEN.match(d, pos)
            if not match or match.end() == pos:
                raise ValueError(f"its path data cannot be read at character {pos}: {d[pos : pos + 20]!r}")
            pos = match.end()
    if not all(map(math.isfinite, (t for t in tokens if not isinstance(t, str)))):
        raise ValueError("its path data holds a number too large for a double")
    return tokens


def _absolute(args, x, y, relative):
    if not relative:
        return tuple(args)
    return tuple(a + (x if i % 2 == 0 else y) for i, a in enumerate(args))


def _reflect(control, x, y):
    return (2 * x - control[0], 2 * y - control[1]) if control else (x, y)


def _segments(bend: float) -> int:
    """Return how many chords keep a curve within FLATNESS, ``bend`` bounding its second derivative.

    A chord over a parameter step h strays at most bend x h^2 / 8 from the curve.
    """
    return max(1, math.ceil(math.sqrt(bend / (8 * FLATNESS))))


def _quadratic(p0, c, p1) -> list[tuple[float, float]]:
    # Plain floats: fabric's curves are gentle, one to three chords each, too few to pay NumPy's cost.
    n = _segments(2 * math.hypot(p0[0] - 2 * c[0] + p1[0], p0[1] - 2 * c[1] + p1[1]))
    points = []
    for k in range(1, n):
        s = k / n
        u = 1 - s
        points.append(
            (u * u * p0[0] + 2 * u * s * c[0] + s * s * p1[0], u * u * p0[1] + 2 * u * s * c[1] + s * s * p1[1])
        )
    points.append((p1[0], p1[1]))
    return points


def _cubic(p0, c1, c2, p1) -> list[tuple[float, float]]:
    n = _segments(
        6
        * max(
            math.hypot(p0[0] - 2 * c1[0] + c2[0], p0[1] - 2 * c1[1] + c2[1]),
            math.hypot(c1[0] - 2 * c2[0] + p1[0], c1[1] - 2 * c2[1] + p1[1]),
        )
    )
    s = np.arange(1, n + 1) / n
    u = 1 - s
    xs = u**3 * p0[0] + 3 * u * u * s * c1[0] + 3 * u * s * s * c2[0] + s**3 * p1[0]
    ys = u**3 * p0[1] + 3 * u * u * s * c1[1] + 3 * u * s * s * c2[1] + s**3 * p1[1]
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def clip_polyline(points: np.ndarray, box: tuple[float, float, float, float]) -> list[np.ndarray]:
    """Return the parts of a polyline inside the box (x0, y0, x1, y1), cut where it leaves it."""
    x0, y0, x1, y1 = box
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    if inside.all():
        return [points]
    if len(points) == 1:
        return []
    pieces: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] | None = None
    for (ax, ay), (bx, by) in zip(points[:-1].tolist(), points[1:].tolist(), strict=True):
        clipped = _clip_segment(ax, ay, bx, by, box)
        if clipped is None:
            current = None
            continue
        (cx, cy), (dx, dy), starts_inside, ends_inside = clipped
        if current is None or not starts_inside:
            current = [(cx, cy)]
            pieces.append(current)
        current.append((dx, dy))
        if not ends_inside:
            current = None
    return [np.asarray(piece, dtype=np.float64) for piece in pieces]


def _clip_segment(ax, ay, bx, by, box):
    """Liang-Barsky: return the segment's part inside the box and whether it keeps each end, or None."""
    x0, y0, x1, y1 = box
    dx, dy = bx - ax, by - ay
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0:
            if q < 0:
                return None
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return None
    start = (ax + t0 * dx, ay + t0 * dy) if t0 > 0 else (ax, ay)
    end = (ax + t1 * dx, ay + t1 * dy) if t1 < 1 else (bx, by)
    return start, end, t0 == 0, t1 == 1


# --- Times --------------------------------------------------------------------------------


def parse_times(text: str | None) -> list[tuple[float, float | None]] | None:
    """Return [(down, up or None), ...] in epoch ms, or None when the row has none; raise ValueError if unreadable."""
    if text is None or not text.strip():
        return None
    try:
        entries = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"annotation_times is not JSON ({error})") from None
    if not isinstance(entries, list):
        raise ValueError("annotation_times is not a list")
    times = []
    for k, entry in enumerate(entries):
        down = entry.get("down") if isinstance(entry, dict) else None
        up = entry.get("up") if isinstance(entry, dict) else None
        if not _is_ms(down) or not (up is None or _is_ms(up)):
            raise ValueError(f"annotation_times[{k}] is not {{down: ms, up: ms}}: {json.dumps(entry)[:60]}")
        times.append((float(down), float(up) if up is not None else None))
    return times


def _is_ms(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- The document ---------------------------------------------------------------------------


@dataclass
class Recovery:
    """What an annotation row becomes: its mask (the reference), its strokes, and how they were found."""

    mask: np.ndarray
    strokes: list[dict]
    png: bytes
    device_pixel_ratio: float | None
    strokes_from: str  # "svg" (brushes, corrected to the PNG), "png" (traced), "svg only" (no PNG), "none"
    svg_paths: int = 0
    svg_iou: float | None = None  # of the SVG strokes' mask with the PNG's
    svg_pixels_differing: int | None = None
    started_ms: float | None = None  # the first stroke's down, epoch ms (client clock)
    ended_ms: float | None = None  # the last stroke's up
    times_matched: bool = False  # per-stroke times given to the SVG's strokes
    notes: list[str] = field(default_factory=list)

    @property
    def active_ms(self) -> int:
        """Return the time from the first stroke's start to the last one's end (0 when unknown)."""
        if self.started_ms is None or self.ended_ms is None:
            return 0
        return int(max(0.0, self.ended_ms - self.started_ms))


def recover(*, row_id: int, where: str, png_data_url: str, svg: str | None, times: str | None, width: int, height: int):
    """Return the Recovery of one annotation row on an image of width x height; raise RowInvalid if it is unreadable."""
    notes: list[str] = []
    try:
        png = png_bytes(png_data_url)
    except ValueError as error:
        raise RowInvalid(row_id, where, f"the annotation column is no PNG: {error}.") from None
    mask, ratio = _png_mask_and_ratio(png, row_id, where, width, height) if png else (None, None)
    drawing = None
    if svg is not None and svg.strip():
        try:
            drawing = parse_svg(svg)
        except ValueError as error:
            raise RowInvalid(row_id, where, f"annotation_svg: {error}.") from None
    try:
        stroke_times = parse_times(times)
    except ValueError as error:
        notes.append(f"{error}; the stroke times are left out")
        stroke_times = None
    recovery = Recovery(
        mask=mask if mask is not None else np.zeros((height, width), dtype=bool),
        strokes=[],
        png=png,
        device_pixel_ratio=float(ratio) if ratio is not None else None,
        strokes_from="none",
        notes=notes,
    )
    _apply_times(recovery, stroke_times, drawing)
    brushes = _usable_brushes(drawing, recovery, stroke_times, width, height)
    if mask is None:
        if brushes:
            recovery.mask = strokes_mod.rasterize(brushes, width, height)
            recovery.strokes, recovery.strokes_from = brushes, "svg only"
            notes.append("the row has no PNG: its mask is its SVG strokes'")
        return recovery
    _choose_strokes(recovery, brushes, mask, width, height)
    return recovery


def _png_mask_and_ratio(png: bytes, row_id: int, where: str, width: int, height: int) -> tuple[np.ndarray, Fraction]:
    """Return the PNG's mask in image pixels and its devicePixelRatio; raise RowInvalid if it fits no ratio."""
    try:
        alpha = png_alpha(png, max_pixels=width * height * _MAX_PNG_RATIO**2)
    except ValueError as error:
        raise RowInvalid(row_id, where, f"the annotation's PNG: {error}.") from None
    ratio = device_pixel_ratio(alpha.shape[1], alpha.shape[0], width, height)
    if ratio is None:
        rotated = device_pixel_ratio(alpha.shape[1], alpha.shape[0], height, width) is not None
        raise RowInvalid(
            row_id,
            where,
            f"its PNG is {alpha.shape[1]}x{alpha.shape[0]}, which is no devicePixelRatio times the image's "
            f"{width}x{height}"
            + (" (it fits the image turned a quarter: an EXIF orientation the browser applied)" if rotated else "")
            + ": is this the right image file?",
        )
    return png_mask(alpha, width, height, ratio), ratio


def _usable_brushes(
    drawing: SvgDrawing | None, recovery: Recovery, stroke_times, width: int, height: int
) -> list[dict]:
    """Return the SVG's brush strokes, or none (noted) when the SVG is drawn at another size than the image."""
    brushes = _brushes(drawing, recovery, stroke_times, width, height) if drawing else []
    if drawing is not None and drawing.width and drawing.height and (drawing.width, drawing.height) != (width, height):
        recovery.notes.append(
            f"its SVG is {drawing.width:g}x{drawing.height:g} for a {width}x{height} image; its strokes are not used"
        )
        brushes = []
    return brushes


def _choose_strokes(recovery: Recovery, brushes: list[dict], mask: np.ndarray, width: int, height: int) -> None:
    """Set the strokes: the SVG's brushes corrected to the PNG's mask when they agree closely, else the mask traced."""
    if brushes:
        painted = strokes_mod.rasterize(brushes, width, height)
        extra, missing = painted & ~mask, mask & ~painted
        union = np.count_nonzero(painted | mask)
        differing = np.count_nonzero(extra) + np.count_nonzero(missing)
        recovery.svg_iou = 1.0 if union == 0 else 1.0 - differing / union
        recovery.svg_pixels_differing = differing
        if recovery.svg_iou >= SVG_TRUST_IOU:
            end = max((p[2] for s in brushes for p in s["points"]), default=0.0)
            recovery.strokes = (
                brushes
                + strokes_mod.mask_lassos(extra, tool="lasso-eraser", t=end)
                + strokes_mod.mask_lassos(missing, tool="lasso", t=end)
            )
            recovery.strokes_from = "svg"
            return
        recovery.notes.append(
            f"its SVG strokes agree with its PNG only to IoU {recovery.svg_iou:.3f}; the PNG is traced instead"
        )
    recovery.strokes = strokes_mod.mask_lassos(mask)
    recovery.strokes_from = "png" if recovery.strokes else "none"


def _apply_times(recovery: Recovery, stroke_times, drawing: SvgDrawing | None) -> None:
    """Set the row's first and last stroke times, when it has some a real clock could have made."""
    if not stroke_times:
        return
    downs = [down for down, _ in stroke_times]
    ends = [up if up is not None else down for down, up in stroke_times]
    if min(downs) < _EARLIEST_MS or max(ends) > _LATEST_MS:
        recovery.notes.append("its stroke times are not dates a clock could give (before 2020 or past 2100); left out")
        return
    recovery.started_ms, recovery.ended_ms = min(downs), max(max(ends), min(downs))
    paths = len(drawing.paths) if drawing else 0
    if drawing is not None and paths != len(stroke_times):
        recovery.notes.append(
            f"it has {len(stroke_times)} stroke times for {paths} SVG paths (the original's known drift): "
            "the strokes keep no times"
        )


def _brushes(drawing: SvgDrawing, recovery: Recovery, stroke_times, width: int, height: int) -> list[dict]:
    """Return the SVG's paths as brush strokes in image pixels, with times when they match the paths one to one."""
    limits = strokes_mod.DEFAULT_LIMITS
    box = (-float(width), -float(height), 2.0 * width, 2.0 * height)  # as far off the image as a point may be
    recovery.svg_paths = len(drawing.paths)
    timed = recovery.started_ms is not None and stroke_times is not None and len(stroke_times) == len(drawing.paths)
    recovery.times_matched = timed and bool(drawing.paths)
    brushes = []
    clipped = 0
    for k, path in enumerate(drawing.paths):
        stroke_width = min(max(path.width, limits.min_width), limits.max_width)
        if stroke_width != path.width:
            recovery.notes.append(f"SVG path {k + 1} has stroke-width {path.width:g}; drawn {stroke_width:g} wide")
        if timed:
            down, up = stroke_times[k]
            t0 = down - recovery.started_ms
            t1 = (max(up, down) if up is not None else down) - recovery.started_ms
        else:
            t0 = t1 = 0.0
        for polyline in path.polylines:
            pieces = clip_polyline(polyline, box)
            clipped += len(pieces) != 1 or len(pieces[0]) != len(polyline)
            for piece in pieces:
                brushes.extend(_timed_strokes(piece, stroke_width, t0, t1, limits.max_points_per_stroke))
    if clipped:
        recovery.notes.append(f"{clipped} SVG path(s) ran further off the image than a stroke may; cut at that edge")
    return brushes


def _timed_strokes(points: np.ndarray, width: float, t0: float, t1: float, max_points: int) -> list[dict]:
    """Return one brush stroke of these points (more past max_points), times spread along its length."""
    lengths = np.hypot(*np.diff(points, axis=0).T) if len(points) > 1 else np.zeros(0)
    along = np.concatenate([[0.0], np.cumsum(lengths)])
    share = along / along[-1] if along[-1] > 0 else np.zeros(len(points))
    t = t0 + (t1 - t0) * share
    rows = np.column_stack([points, t, np.full(len(points), MOUSE_PRESSURE)]).tolist()
    strokes = []
    for begin in range(0, len(rows), max_points - 1):
        # Each next stroke starts at the previous one's last point, so no gap opens between them.
        part = rows[begin : begin + max_points]
        if strokes and len(part) == 1:
            break
        strokes.append({"tool": "brush", "width": float(width), "points": part})
    return strokes
