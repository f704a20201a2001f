"""Validate and rasterize strokes: the canonical content of an annotation.

A stroke is ``{"tool": ..., "width": w, "points": [[x, y, t, p], ...]}`` in image
pixel coordinates. The mask is made by painting the strokes in order:

- ``brush`` sets every pixel whose centre lies within ``width / 2`` of the stroke's
  polyline (round caps and joins; a one-point stroke is a disc); ``eraser`` clears them.
- ``lasso`` sets every pixel whose centre lies inside the closed polygon through the
  points (even-odd rule); ``lasso-eraser`` clears them.

The reference algorithm works row by row on pixel centres ``(i + 0.5, j + 0.5)``: it
computes, for each row, the exact interval of x where a segment's capsule (or the
polygon) covers the row, and sets the pixels whose centres fall in it. The browser
(``src/canvas/geometry/rasterize.js``) runs the same arithmetic in the same order, in
IEEE double precision, so both produce the same mask bit for bit.
"""

import math
import sys
from dataclasses import dataclass
from itertools import chain

import numpy as np

from .tracing import traced

TOOLS = ("brush", "eraser", "lasso", "lasso-eraser")
_SETS = {"brush": True, "eraser": False, "lasso": True, "lasso-eraser": False}
_LASSOS = {"lasso", "lasso-eraser"}
_MAX_ERRORS = 20


@dataclass(frozen=True)
class Limits:
    """What one annotation may hold. Documented in docs/strokes.md, "Limits"."""

    max_strokes: int = 5_000
    max_points_per_stroke: int = 20_000
    max_points: int = 250_000
    min_width: float = 0.5
    max_width: float = 512.0
    max_t_ms: float = 10 * 365 * 24 * 3600 * 1000.0  # ten years: anything later is a clock bug
    # Per incremental save: the ink (see ``ink``) its new strokes may hold, so that painting them
    # holds a worker for well under a second (about 2 microseconds a span on a loaded 2-core machine).
    max_ink: int = 400_000


DEFAULT_LIMITS = Limits()


class StrokesInvalid(ValueError):
    """The strokes break the rules; ``errors`` lists (field path, code, message)."""

    def __init__(self, errors: list[tuple[str, str, str]]):
        super().__init__(errors[0][2] if errors else "invalid strokes")
        self.errors = errors


def _is_number(value) -> bool:
    """Return True for an int or float a double can hold (JSON integers may have any number of digits)."""
    # bool is an int subclass, but true/false are not coordinates.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    # Comparing an int with a float is exact in Python, where float(value) would overflow.
    return not isinstance(value, int) or -sys.float_info.max <= value <= sys.float_info.max


@traced("strokes: validate")
def validate_strokes(strokes, *, width: int, height: int, limits: Limits = DEFAULT_LIMITS) -> list[dict]:
    """Return the strokes normalized (floats, known keys only), or raise StrokesInvalid naming each problem.

    Points may run off the image (a stroke can leave the edge) but no further than one
    image width or height beyond it.
    """
    errors: list[tuple[str, str, str]] = []

    def fail(field: str, code: str, message: str) -> bool:
        errors.append((field, code, message))
        return len(errors) >= _MAX_ERRORS

    if not isinstance(strokes, list):
        raise StrokesInvalid([("strokes", "not_a_list", "strokes must be a list of stroke objects.")])
    if len(strokes) > limits.max_strokes:
        raise StrokesInvalid(
            [("strokes", "too_many_strokes", f"at most {limits.max_strokes} strokes are allowed; got {len(strokes)}.")]
        )
    x_lo, x_hi = -float(width), 2.0 * width
    y_lo, y_hi = -float(height), 2.0 * height
    total_points = 0
    normalized = []
    for s, stroke in enumerate(strokes):
        here = f"strokes[{s}]"
        problem = _stroke_problem(stroke, here, limits)
        if problem is not None:
            if fail(*problem):
                break
            continue
        tool, stroke_width, points = stroke["tool"], stroke["width"], stroke["points"]
        total_points += len(points)
        if total_points > limits.max_points:
            message = f"an annotation may hold at most {limits.max_points} points in all; got more at {here}."
            raise StrokesInvalid([("strokes", "too_many_points", message)])
        clean_points = _validate_points(points, here, (x_lo, x_hi, y_lo, y_hi), limits, fail)
        if clean_points is None:
            if len(errors) >= _MAX_ERRORS:
                break
            continue
        normalized.append({"tool": tool, "width": float(stroke_width), "points": clean_points})
    if errors:
        raise StrokesInvalid(errors)
    return normalized


def _stroke_problem(stroke, here: str, limits: Limits) -> tuple[str, str, str] | None:
    """Return the first problem of a stroke's keys, tool, width or number of points (field, code, message), or None.

    Too many points in one stroke raises StrokesInvalid at once: nothing more is worth reading.
    """
    if not isinstance(stroke, dict):
        return here, "not_an_object", f"{here} must be an object with tool, width and points."
    unknown = set(stroke) - {"tool", "width", "points"}
    if unknown:
        return here, "unknown_key", f"{here} has unknown keys {sorted(unknown)}; allowed: tool, width, points."
    tool = stroke.get("tool")
    if tool not in TOOLS:
        return f"{here}.tool", "unknown_tool", f"{here}.tool must be one of {', '.join(TOOLS)}; got {tool!r}."
    stroke_width = stroke.get("width")
    if not _is_number(stroke_width) or not math.isfinite(stroke_width):
        return f"{here}.width", "invalid_width", f"{here}.width must be a finite number; got {stroke_width!r:.80}."
    if not limits.min_width <= stroke_width <= limits.max_width:
        message = (
            f"{here}.width must be between {limits.min_width:g} and {limits.max_width:g} image pixels; "
            f"got {stroke_width:g}."
        )
        return f"{here}.width", "width_out_of_range", message
    points = stroke.get("points")
    if not isinstance(points, list):
        return f"{here}.points", "not_a_list", f"{here}.points must be a list of [x, y, t, p] points."
    minimum = 3 if tool in _LASSOS else 1
    if len(points) < minimum:
        message = f"{here}.points needs at least {minimum} point{'s' if minimum > 1 else ''} for a {tool}."
        return f"{here}.points", "too_few_points", message
    if len(points) > limits.max_points_per_stroke:
        message = f"{here}.points may hold at most {limits.max_points_per_stroke} points; got {len(points)}."
        raise StrokesInvalid([(f"{here}.points", "too_many_points", message)])
    return None


def _validate_points(points, here, bounds, limits, fail) -> list[list[float]] | None:
    """Return the points as floats, or None after reporting the first bad one through ``fail``."""
    clean = _points_if_all_valid(points, bounds, limits)
    if clean is not None:
        return clean
    # Something is wrong (or unusual): go point by point to name the first bad point.
    return _validate_points_one_by_one(points, here, bounds, limits, fail)


def _validate_points_one_by_one(points, here, bounds, limits, fail) -> list[list[float]] | None:
    """``_validate_points`` one point at a time in Python: the reference, and the error reporter."""
    x_lo, x_hi, y_lo, y_hi = bounds
    clean = []
    last_t = -math.inf
    for k, point in enumerate(points):
        where = f"{here}.points[{k}]"
        if not isinstance(point, list) or len(point) != 4 or not all(_is_number(v) for v in point):
            fail(where, "invalid_point", f"{where} must be [x, y, t, p], four numbers; got {point!r:.80}.")
            return None
        x, y, t, p = (float(v) for v in point)
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(t) and math.isfinite(p)):
            fail(where, "not_finite", f"{where} must hold finite numbers; got {point!r}.")
            return None
        if not (x_lo <= x <= x_hi and y_lo <= y <= y_hi):
            message = (
                f"{where} ({x:g}, {y:g}) is too far outside the image; x must be within "
                f"[{x_lo:g}, {x_hi:g}] and y within [{y_lo:g}, {y_hi:g}]."
            )
            fail(where, "out_of_bounds", message)
            return None
        if not 0 <= t <= limits.max_t_ms:
            fail(where, "invalid_time", f"{where} t must be milliseconds between 0 and {limits.max_t_ms:g}; got {t:g}.")
            return None
        if t < last_t:
            fail(where, "time_decreasing", f"{where} t must not decrease within a stroke; {t:g} follows {last_t:g}.")
            return None
        if not 0 <= p <= 1:
            fail(where, "invalid_pressure", f"{where} p (pressure) must be between 0 and 1; got {p:g}.")
            return None
        last_t = t
        clean.append([x, y, t, p])
    return clean


_PLAIN_NUMBERS = {int, float}


def _points_if_all_valid(points: list, bounds, limits: Limits) -> list[list[float]] | None:
    """Return the points as floats if every one passes ``_validate_points_one_by_one``, else None.

    The same checks, made on a NumPy array at once: a saved document holds thousands of points,
    and checking each in Python cost more than the rest of validation. None does not say which
    point is wrong; the loop then finds it, so errors read the same either way.
    """
    # Types first, iterating in C: every point a list of four, every value exactly an int or a
    # float (a bool would pass as 1.0 in NumPy; subclasses, rare, go to the loop).
    if set(map(type, points)) != {list} or set(map(len, points)) != {4}:
        return None
    if not set(map(type, chain.from_iterable(points))) <= _PLAIN_NUMBERS:
        return None
    try:
        array = np.array(points, dtype=np.float64)
    except OverflowError:  # an integer beyond a double's range: the loop names it
        return None
    x_lo, x_hi, y_lo, y_hi = bounds
    x, y, t, p = array.T
    # NaN fails every comparison, and infinities fail the bounds: together that is isfinite.
    valid = (
        (x_lo <= x) & (x <= x_hi) & (y_lo <= y) & (y <= y_hi) & (0 <= t) & (t <= limits.max_t_ms) & (0 <= p) & (p <= 1)
    )
    if not valid.all() or not (t[1:] >= t[:-1]).all():
        return None
    return array.tolist()


# --- Rasterizing -----------------------------------------------------------------

# Bounds on the arrays one step of rasterizing holds, whatever the stroke: the row spans of
# one chunk of a stroke's segments, and the pixel indices of one fill. About 30 float arrays
# of _CHUNK_SPANS, and one of _FILL_PIXELS, i.e. some tens of megabytes.
_CHUNK_SPANS = 1 << 17
_FILL_PIXELS = 1 << 22


@traced("strokes: rasterize")
def rasterize(strokes: list[dict], width: int, height: int) -> np.ndarray:
    """Return the mask of these strokes as a boolean array of shape (height, width)."""
    return paint(np.zeros((height, width), dtype=bool), strokes)


def paint(mask: np.ndarray, strokes: list[dict]) -> np.ndarray:
    """Paint the strokes, in order, onto ``mask`` (changed in place) and return it.

    Painting is incremental: ``paint(rasterize(a), b)`` is ``rasterize(a + b)``, bit for bit.
    """
    height, width = mask.shape
    flat = mask.reshape(-1)
    for stroke in strokes:
        points = np.asarray(stroke["points"], dtype=np.float64).reshape(-1, 4)[:, :2]
        if stroke["tool"] in _LASSOS:
            pieces = [_polygon_spans(points, width, height)]
        else:
            pieces = _polyline_span_chunks(points, stroke["width"] / 2.0, width, height)
        for rows, starts, ends in pieces:
            if rows.size:
                _paint(flat, width, rows, starts, ends, _SETS[stroke["tool"]])
    return mask


def ink(strokes: list[dict], width: int, height: int) -> int:
    """Return the work of painting the strokes: the row spans rasterizing makes, within the image.

    A brush segment makes one span per image row its capsule crosses; a lasso, one per row per
    edge. What a request may paint is bounded by this (``Limits.max_ink``), not by points alone:
    a few wide strokes on a large image cost as much as thousands of thin ones.
    """
    total = 0
    for stroke in strokes:
        points = np.asarray(stroke["points"], dtype=np.float64).reshape(-1, 4)
        ys = points[:, 1]
        if stroke["tool"] in _LASSOS:
            lo, hi, r = np.minimum(ys, np.roll(ys, -1)), np.maximum(ys, np.roll(ys, -1)), 0.0
        else:
            a, b = (ys, ys) if len(ys) == 1 else (ys[:-1], ys[1:])
            lo, hi, r = np.minimum(a, b), np.maximum(a, b), stroke["width"] / 2.0
        first, last = _row_range(lo - r, hi + r, height)
        total += int(np.maximum(last - first + 1, 0).sum())
    return total


def _paint(flat: np.ndarray, width: int, rows, starts, ends, sets: bool) -> None:
    """Set (or clear) the union of the spans: each is a row and an inclusive column range.

    The work is proportional to the spans and to the pixels they cover, never to the image:
    the union is found by sorting the spans' ends, then filled through pixel indices.
    """
    # Positions in rows padded by one column, so that a span ending at the last column
    # closes before the next row's first position.
    pitch = width + 1
    # Each event is its position times two, plus one for a span's start: one plain sort orders them.
    events = np.sort(np.concatenate([(rows * pitch + starts) * 2 + 1, (rows * pitch + ends + 1) * 2]))
    positions = events >> 1
    depth = np.cumsum((events & 1) * 2 - 1)
    # A covered run starts where the depth leaves 0 and ends where it comes back to 0.
    closes = depth == 0
    opens = np.empty_like(closes)
    opens[0] = True
    opens[1:] = closes[:-1]
    run_start, run_end = positions[opens & ~closes], positions[closes]
    run_rows = run_start // pitch
    first_pixel = run_start - run_rows  # the same pixel in the unpadded layout
    lengths = run_end - run_start
    # Fill a bounded number of pixels at a time.
    cut = np.searchsorted(np.cumsum(lengths), np.arange(_FILL_PIXELS, int(lengths.sum()), _FILL_PIXELS))
    for begin, stop in zip(np.concatenate([[0], cut]), np.concatenate([cut, [lengths.size]]), strict=True):
        part, starts_part = lengths[begin:stop], first_pixel[begin:stop]
        offsets = np.cumsum(part) - part
        flat[np.repeat(starts_part - offsets, part) + np.arange(int(part.sum()))] = sets


def _row_range(lo: np.ndarray, hi: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and last row (clipped to the image) whose centre j + 0.5 lies in [lo, hi]."""
    first = np.maximum(np.ceil(lo - 0.5), 0).astype(np.int64)
    last = np.minimum(np.floor(hi - 0.5), limit - 1).astype(np.int64)
    return first, last


def _expand_rows(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (item index, row) for every row from first to last of every item."""
    counts = np.maximum(last - first + 1, 0)
    total = int(counts.sum())
    item = np.repeat(np.arange(counts.size), counts)
    offsets = np.cumsum(counts) - counts
    rows = first[item] + (np.arange(total) - offsets[item])
    return item, rows


def _columns(left: np.ndarray, right: np.ndarray, rows: np.ndarray, width: int):
    """Turn x intervals into inclusive pixel column spans, dropping those that miss the image."""
    start = np.maximum(np.ceil(left - 0.5), 0)
    end = np.minimum(np.floor(right - 0.5), width - 1)
    keep = start <= end
    return rows[keep], start[keep].astype(np.int64), end[keep].astype(np.int64)


def _polyline_span_chunks(points: np.ndarray, r: float, width: int, height: int):
    """Yield the spans of the capsules of width 2r around the polyline's segments, a chunk of segments at a time."""
    if len(points) == 1:
        a = b = points
    else:
        a, b = points[:-1], points[1:]
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    first, last = _row_range(np.minimum(ay, by) - r, np.maximum(ay, by) + r, height)
    # Chunks of consecutive segments holding about _CHUNK_SPANS row spans each (at least one segment).
    covered = np.cumsum(np.maximum(last - first + 1, 0))
    cut = np.unique(np.searchsorted(covered, np.arange(_CHUNK_SPANS, int(covered[-1]), _CHUNK_SPANS), side="right"))
    for lo, hi in zip(np.concatenate([[0], cut]), np.concatenate([cut, [len(ax)]]), strict=True):
        if lo < hi:
            yield _capsule_spans(ax[lo:hi], ay[lo:hi], bx[lo:hi], by[lo:hi], first[lo:hi], last[lo:hi], r, width)


def _capsule_spans(ax, ay, bx, by, first, last, r: float, width: int):
    """Return the spans of the capsules of width 2r around segments (ax, ay)-(bx, by), rows first..last."""
    seg, rows = _expand_rows(first, last)
    if rows.size == 0:
        return rows, rows, rows
    ax, ay, bx, by = ax[seg], ay[seg], bx[seg], by[seg]
    yc = rows + 0.5
    left = np.full(rows.shape, np.inf)
    right = np.full(rows.shape, -np.inf)
    r2 = r * r
    # The two end discs.
    for cx, cy in ((ax, ay), (bx, by)):
        dy = yc - cy
        inside = dy * dy <= r2
        half = np.sqrt(np.where(inside, r2 - dy * dy, 0.0))
        left = np.where(inside, np.minimum(left, cx - half), left)
        right = np.where(inside, np.maximum(right, cx + half), right)
    # The band between them: projection onto the segment within [0, L^2] and distance to its line <= r.
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    length = np.sqrt(length2)
    # A segment nearly flat or upright divides by a tiny dx or dy: the quotient may overflow to
    # infinity, which is the right limit (the band spans the row), as the browser's doubles give it.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = (yc - ay) * dy
        p_lo = np.where(dx > 0, ax + (0.0 - c) / dx, ax + (length2 - c) / dx)
        p_hi = np.where(dx > 0, ax + (length2 - c) / dx, ax + (0.0 - c) / dx)
        p_all = (c >= 0) & (c <= length2)
        p_lo = np.where(dx == 0, np.where(p_all, -np.inf, np.inf), p_lo)
        p_hi = np.where(dx == 0, np.where(p_all, np.inf, -np.inf), p_hi)
        e = (yc - ay) * dx
        rl = r * length
        d_lo = np.where(dy > 0, ax + (e - rl) / dy, ax + (e + rl) / dy)
        d_hi = np.where(dy > 0, ax + (e + rl) / dy, ax + (e - rl) / dy)
        d_all = np.abs(e) <= rl
        d_lo = np.where(dy == 0, np.where(d_all, -np.inf, np.inf), d_lo)
        d_hi = np.where(dy == 0, np.where(d_all, np.inf, -np.inf), d_hi)
    band_lo = np.maximum(p_lo, d_lo)
    band_hi = np.minimum(p_hi, d_hi)
    band = (length2 > 0) & (band_lo <= band_hi)
    left = np.where(band, np.minimum(left, band_lo), left)
    right = np.where(band, np.maximum(right, band_hi), right)
    return _columns(left, right, rows, width)


def _polygon_spans(points: np.ndarray, width: int, height: int):
    """Return the spans inside the closed polygon through the points, by the even-odd rule."""
    x0, y0 = points[:, 0], points[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    edge = y0 != y1
    x0, y0, x1, y1 = x0[edge], y0[edge], x1[edge], y1[edge]
    # Rows whose centre yc satisfies min(y0, y1) <= yc < max(y0, y1): half-open, so a
    # vertex shared by two edges is counted once and every row has an even number of crossings.
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    first = np.maximum(np.ceil(lo - 0.5), 0).astype(np.int64)
    last = np.minimum(np.ceil(hi - 0.5) - 1, height - 1).astype(np.int64)
    item, rows = _expand_rows(first, last)
    if rows.size == 0:
        return rows, rows, rows
    yc = rows + 0.5
    ex0, ey0, ex1, ey1 = x0[item], y0[item], x1[item], y1[item]
    xs = ex0 + (yc - ey0) * (ex1 - ex0) / (ey1 - ey0)
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    # Rows are clipped to the image only at their ends, so every row in range holds
    # an even number of crossings and consecutive pairs are the inside spans.
    span_rows, enter, leave = rows[0::2], xs[0::2], xs[1::2]
    start = np.maximum(np.ceil(enter - 0.5), 0)
    end = np.minimum(np.ceil(leave - 0.5) - 1, width - 1)
    keep = start <= end
    return span_rows[keep], start[keep].astype(np.int64), end[keep].astype(np.int64)


# --- Tracing: a mask as strokes ------------------------------------------------------------


def mask_lassos(
    mask: np.ndarray,
    *,
    tool: str = "lasso",
    t: float = 0.0,
    p: float = 0.5,
    max_points: int = DEFAULT_LIMITS.max_points_per_stroke,
) -> list[dict]:
    """Return lasso strokes whose painted area is exactly the mask: ``rasterize`` gives it back bit for bit.

    For masks that exist only as pixels (an imported PNG): the inverse of ``rasterize``. Every
    edge runs along pixel edges. Rows with the same runs form a band; each run of a band is a
    rectangle, and the bands are chained into one closed outline per stroke through the column
    x = -1, left of the image, where each row is crossed twice (down, then back up as the outline
    closes), which the even-odd rule leaves empty; horizontal edges cross no row of centres. So
    each row of centres crosses exactly the runs' two sides, at whole pixel edges. A stroke holds
    at most ``max_points`` points; more make more strokes. ``tool`` may be ``lasso-eraser`` to
    clear the mask's pixels instead.
    """
    set_rows = np.flatnonzero(mask.any(axis=1))
    if set_rows.size == 0:
        return []
    # Work on the mask's bounding box only: a correction mask is a few pixels of a large image.
    top, bottom = int(set_rows[0]), int(set_rows[-1]) + 1
    set_columns = np.flatnonzero(mask[top:bottom].any(axis=0))
    left, right = int(set_columns[0]), int(set_columns[-1]) + 1
    height = bottom - top
    padded = np.zeros((height, right - left + 2), dtype=np.int8)
    padded[:, 1:-1] = mask[top:bottom, left:right]
    change = np.diff(padded, axis=1)  # +1 where a run starts, -1 one past its end
    run_rows, run_starts = np.nonzero(change == 1)
    _, run_ends = np.nonzero(change == -1)
    run_starts += left
    run_ends += left
    counts = np.bincount(run_rows, minlength=height)
    # A row continues the band above when it has the same runs: compare each run with the run
    # as many places earlier as the row has runs, which is its twin in the row above.
    n = run_rows.size
    twin = np.arange(n) - counts[run_rows]
    safe = np.maximum(twin, 0)
    equal = (
        (twin >= 0) & (run_rows[safe] == run_rows - 1) & (run_starts[safe] == run_starts) & (run_ends[safe] == run_ends)
    )
    differing = np.bincount(run_rows[~equal], minlength=height)
    same_count = np.zeros(height, dtype=bool)
    same_count[1:] = counts[1:] == counts[:-1]
    continues = (counts > 0) & same_count & (differing == 0)
    breaks = np.flatnonzero(~continues)
    band_rows = np.flatnonzero((counts > 0) & ~continues)
    after = np.searchsorted(breaks, band_rows, side="right")
    band_ends = np.where(after < breaks.size, breaks[np.minimum(after, breaks.size - 1)], height)
    # The runs drawn: those of each band's first row, cut into units of at most per_unit runs.
    drawn = ~continues[run_rows]
    rows, starts, ends = run_rows[drawn], run_starts[drawn], run_ends[drawn]
    band = np.searchsorted(band_rows, rows)
    per_unit = max(1, (max_points - 2) // 4)
    rank = np.arange(rows.size) - np.searchsorted(band, band)  # the run's place within its band
    unit_break = np.ones(rows.size, dtype=bool)
    unit_break[1:] = (band[1:] != band[:-1]) | (rank[1:] % per_unit == 0)
    unit = np.cumsum(unit_break) - 1
    unit_runs = np.bincount(unit)
    unit_band = band[unit_break]
    y0 = (band_rows[unit_band] + top).astype(np.float64)
    y1 = (band_ends[unit_band] + top).astype(np.float64)
    sizes = 4 * unit_runs + 2
    offsets = np.cumsum(sizes) - sizes
    xs = np.full(int(sizes.sum()), -1.0)
    ys = np.empty(xs.size)
    ys[offsets] = y0
    ys[offsets + sizes - 1] = y0
    place = offsets[unit] + 1 + 4 * (np.arange(rows.size) - np.searchsorted(unit, unit))
    a, b = starts.astype(np.float64), ends.astype(np.float64)
    for k, (x, y) in enumerate(((a, y0[unit]), (a, y1[unit]), (b, y1[unit]), (b, y0[unit]))):
        xs[place + k] = x
        ys[place + k] = y
    points = np.column_stack([xs, ys, np.full(xs.size, float(t)), np.full(xs.size, float(p))])
    strokes, begin, size = [], 0, 0
    for unit_size in sizes.tolist():
        if size and size + unit_size > max_points:
            strokes.append({"tool": tool, "width": 1.0, "points": points[begin : begin + size].tolist()})
            begin, size = begin + size, 0
        size += unit_size
    strokes.append({"tool": tool, "width": 1.0, "points": points[begin : begin + size].tolist()})
    return strokes
