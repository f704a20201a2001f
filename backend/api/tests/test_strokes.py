"""The strokes document: validation, and the mask definition on hand-checked shapes.

One module, as strokes.py is one contract (the document, and a mask bit-identical with the app's).
"""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.api import strokes as strokes_mod
from backend.api.strokes import DEFAULT_LIMITS, Limits, StrokesInvalid, rasterize, validate_strokes

W, H = 40, 30


def stroke(points, width=4.0, tool="brush"):
    return {"tool": tool, "width": width, "points": [[x, y, float(i), 0.5] for i, (x, y) in enumerate(points)]}


def reference_mask(strokes, width, height, with_ties=False):
    """Rasterize by the definition, pixel by pixel: slow, obviously right, for comparison.

    With ``with_ties``, also return the pixels whose centre lies on a boundary to within
    rounding (at distance width/2 of a brush, or on a lasso's edge): there the definition's
    answer depends on the last bit of floating-point arithmetic, and any order of operations
    may round either way.
    """
    mask = np.zeros((height, width), dtype=bool)
    ties = np.zeros_like(mask)
    cy, cx = np.mgrid[0:height, 0:width] + 0.5
    eps = 1e-9
    for s in strokes:
        pts = np.array([p[:2] for p in s["points"]], dtype=float)
        hit = np.zeros_like(mask)
        if s["tool"] in ("brush", "eraser"):
            r = s["width"] / 2
            segments = [(pts[0], pts[0])] if len(pts) == 1 else list(zip(pts[:-1], pts[1:], strict=False))
            for a, b in segments:
                d = b - a
                length2 = d @ d
                t = (
                    np.zeros_like(cx)
                    if length2 == 0
                    else np.clip(((cx - a[0]) * d[0] + (cy - a[1]) * d[1]) / length2, 0, 1)
                )
                dist = np.hypot(cx - (a[0] + t * d[0]), cy - (a[1] + t * d[1]))
                hit |= dist <= r
                ties |= np.abs(dist - r) <= eps * max(1.0, r)
        else:
            n = len(pts)
            for k in range(n):
                (x0, y0), (x1, y1) = pts[k], pts[(k + 1) % n]
                if y0 == y1:
                    continue
                crosses = (np.minimum(y0, y1) <= cy) & (cy < np.maximum(y0, y1))
                x_at = x0 + (cy - y0) * (x1 - x0) / (y1 - y0)
                hit ^= crosses & (cx >= x_at)
                ties |= crosses & (np.abs(cx - x_at) <= eps * np.maximum(1.0, np.abs(x_at)))
        if s["tool"] in ("brush", "lasso"):
            mask |= hit
        else:
            mask &= ~hit
    return (mask, ties) if with_ties else mask


# --- Validation --------------------------------------------------------------------

INVALID = [
    ("not a list", {"a": 1}, "strokes", "not_a_list"),
    ("stroke not an object", [[1, 2]], "strokes[0]", "not_an_object"),
    ("unknown tool", [{"tool": "spray", "width": 4, "points": [[1, 1, 0, 0]]}], "strokes[0].tool", "unknown_tool"),
    ("unknown key", [{**stroke([(1, 1)]), "colour": "red"}], "strokes[0]", "unknown_key"),
    ("width zero", [stroke([(1, 1)], width=0)], "strokes[0].width", "width_out_of_range"),
    ("width absurd", [stroke([(1, 1)], width=10_000)], "strokes[0].width", "width_out_of_range"),
    ("width a string", [stroke([(1, 1)], width="4")], "strokes[0].width", "invalid_width"),
    ("width NaN", [stroke([(1, 1)], width=math.nan)], "strokes[0].width", "invalid_width"),
    ("no points", [stroke([])], "strokes[0].points", "too_few_points"),
    ("lasso of two points", [stroke([(1, 1), (5, 5)], tool="lasso")], "strokes[0].points", "too_few_points"),
    (
        "point of three numbers",
        [{"tool": "brush", "width": 4, "points": [[1, 1, 0]]}],
        "strokes[0].points[0]",
        "invalid_point",
    ),
    (
        "point with a boolean",
        [{"tool": "brush", "width": 4, "points": [[1, True, 0, 0]]}],
        "strokes[0].points[0]",
        "invalid_point",
    ),
    ("x NaN", [{"tool": "brush", "width": 4, "points": [[math.nan, 1, 0, 0]]}], "strokes[0].points[0]", "not_finite"),
    (
        "y infinite",
        [{"tool": "brush", "width": 4, "points": [[1, math.inf, 0, 0]]}],
        "strokes[0].points[0]",
        "not_finite",
    ),
    ("far outside", [stroke([(1, 1), (5000, 1)])], "strokes[0].points[1]", "out_of_bounds"),
    (
        "negative time",
        [{"tool": "brush", "width": 4, "points": [[1, 1, -5, 0]]}],
        "strokes[0].points[0]",
        "invalid_time",
    ),
    (
        "decreasing time",
        [{"tool": "brush", "width": 4, "points": [[1, 1, 10, 0], [2, 2, 9, 0]]}],
        "strokes[0].points[1]",
        "time_decreasing",
    ),
    (
        "pressure above one",
        [{"tool": "brush", "width": 4, "points": [[1, 1, 0, 1.5]]}],
        "strokes[0].points[0]",
        "invalid_pressure",
    ),
]


@pytest.mark.parametrize("case, strokes, field, code", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_strokes_are_refused_naming_the_field(case, strokes, field, code):
    with pytest.raises(StrokesInvalid) as raised:
        validate_strokes(strokes, width=W, height=H)
    assert (raised.value.errors[0][0], raised.value.errors[0][1]) == (field, code)
    assert field in raised.value.errors[0][2] or field == "strokes"


def test_width_message_says_how_to_fix_it():
    with pytest.raises(StrokesInvalid) as raised:
        validate_strokes([stroke([(1, 1)], width=0)], width=W, height=H)
    assert raised.value.errors[0][2] == "strokes[0].width must be between 0.5 and 512 image pixels; got 0."


def test_too_many_strokes_are_refused():
    with pytest.raises(StrokesInvalid) as raised:
        validate_strokes([stroke([(1, 1)])] * 4, width=W, height=H, limits=Limits(max_strokes=3))
    assert raised.value.errors[0][1] == "too_many_strokes"


def test_too_many_points_in_all_are_refused():
    strokes = [stroke([(1, 1)] * 5)] * 3
    with pytest.raises(StrokesInvalid) as raised:
        validate_strokes(strokes, width=W, height=H, limits=Limits(max_points=12))
    assert raised.value.errors[0][1] == "too_many_points"


def test_every_bad_stroke_is_reported_not_only_the_first():
    strokes = [stroke([(1, 1)], width=0), stroke([(1, 1)]), {"tool": "x", "width": 1, "points": []}]
    with pytest.raises(StrokesInvalid) as raised:
        validate_strokes(strokes, width=W, height=H)
    assert [e[0] for e in raised.value.errors] == ["strokes[0].width", "strokes[2].tool"]


def test_valid_strokes_come_back_as_floats_with_known_keys_only():
    clean = validate_strokes([{"tool": "brush", "width": 3, "points": [[1, 2, 0, 1], [3, 4, 5, 0]]}], width=W, height=H)
    assert clean == [{"tool": "brush", "width": 3.0, "points": [[1.0, 2.0, 0.0, 1.0], [3.0, 4.0, 5.0, 0.0]]}]
    assert all(isinstance(v, float) for v in clean[0]["points"][0])


def test_points_may_run_off_the_edge_up_to_one_image_size():
    validate_strokes([stroke([(-W, -H), (2 * W, 2 * H)])], width=W, height=H)


# Values a client might send as a coordinate, time or pressure: mostly good, some bad in every way.
point_value = st.one_of(
    st.floats(min_value=-2 * W, max_value=3 * W),
    st.integers(min_value=-2 * W, max_value=3 * W),
    st.sampled_from([0, 1, 0.5, 1.0000001, -0.0, True, False, None, "1", math.nan, math.inf, -math.inf, 10**400]),
)
points_strategy = st.lists(
    st.one_of(
        st.lists(point_value, min_size=4, max_size=4),
        st.lists(point_value, min_size=3, max_size=5),
        st.tuples(point_value, point_value, point_value, point_value),
        point_value,
    ),
    min_size=1,
    max_size=6,
)


def _points_one_by_one(points):
    """Return (clean points or None, errors) from the reference loop."""
    errors = []
    bounds = (-float(W), 2.0 * W, -float(H), 2.0 * H)

    def fail(field, code, message):
        errors.append((field, code, message))

    try:
        clean = strokes_mod._validate_points_one_by_one(points, "s", bounds, DEFAULT_LIMITS, fail)
    except OverflowError:  # float() of an integer beyond a double: the loop's own (long-standing) failure
        return "overflow", []
    return clean, errors


@settings(max_examples=400, deadline=None)
@given(points_strategy)
def test_points_checked_at_once_agree_with_the_point_by_point_loop(points):
    bounds = (-float(W), 2.0 * W, -float(H), 2.0 * H)
    at_once = strokes_mod._points_if_all_valid(points, bounds, DEFAULT_LIMITS)
    one_by_one, errors = _points_one_by_one(points)
    if at_once is not None:
        assert at_once == one_by_one and not errors
        assert all(type(v) is float for point in at_once for v in point)
    elif all(type(p) is list and all(type(v) in (int, float) for v in p) for p in points):
        # Plain JSON numbers: refused at once only when the loop refuses too.
        assert one_by_one is None or one_by_one == "overflow"


def test_a_realistic_stroke_is_checked_at_once():
    walk = np.cumsum(np.random.default_rng(3).normal(0, 1, size=(200, 2)), axis=0) + [W / 2, H / 2]
    points = [[round(x, 3), round(y, 3), float(k), 0.5] for k, (x, y) in enumerate(walk.tolist())]
    bounds = (-float(W), 2.0 * W, -float(H), 2.0 * H)
    assert strokes_mod._points_if_all_valid(points, bounds, DEFAULT_LIMITS) == points


# --- The mask: hand-checked shapes ---------------------------------------------------


def test_a_one_point_stroke_of_width_3_is_a_disc():
    # Centres within 1.5 of (10.5, 10.5): the pixel itself and its 4 neighbours at distance 1;
    # the diagonal ones are at sqrt(2) = 1.41 too, so a 3x3 block; (12, 10) is 2 away.
    mask = rasterize([stroke([(10.5, 10.5)], width=3)], W, H)
    assert mask.sum() == 9
    assert mask[9:12, 9:12].all()


def test_a_disc_of_width_4_is_the_3x3_block_plus_the_four_arms():
    mask = rasterize([stroke([(10.5, 10.5)], width=4)], W, H)  # radius 2: distance 2 included
    expected = {(y, x) for y in range(9, 12) for x in range(9, 12)} | {(8, 10), (12, 10), (10, 8), (10, 12)}
    assert set(zip(*np.nonzero(mask), strict=False)) == expected


def test_a_thick_horizontal_line_is_a_rectangle_with_round_ends():
    mask = rasterize([stroke([(5.5, 10.5), (25.5, 10.5)], width=3)], W, H)
    assert mask[9:12, 5:26].all()  # the band: rows 9..11, columns 5..25
    assert mask[10, 4] and mask[10, 26]  # the round caps reach one more pixel on the axis
    assert not mask[9, 3] and not mask[8, 10]
    assert mask.sum() == 3 * 21 + 3 * 2  # band plus each cap's three pixels at distance 1 and sqrt(2)


def test_an_eraser_through_a_stroke_cuts_it_in_two():
    mask = rasterize(
        [stroke([(5.5, 10.5), (25.5, 10.5)], width=3), stroke([(15.5, 0.5), (15.5, 29.5)], width=3, tool="eraser")],
        W,
        H,
    )
    assert not mask[:, 14:17].any()
    assert mask[10, 13] and mask[10, 17]


def test_a_stroke_touching_the_border_is_clipped_to_the_image():
    mask = rasterize([stroke([(-3.0, 0.0), (W + 3.0, 0.0)], width=4)], W, H)
    assert mask.shape == (H, W)
    assert mask[0].all() and mask[1].all()  # rows 0 and 1: centres 0.5 and 1.5 from the line
    assert not mask[2].any()  # row 2: centre 2.5 > radius 2


@pytest.mark.parametrize("corner", [(0.0, 0.0), (float(W), float(H))])
def test_a_disc_on_a_corner_keeps_only_what_lies_inside_the_image(corner):
    # Radius 2 at the corner: the three nearest centres are at 0.71, 1.58 and 1.58; the
    # diagonal one at 2.12 is outside; the rest of the disc lies off the image.
    mask = rasterize([stroke([corner], width=4)], W, H)
    x, y = (0, 0) if corner == (0.0, 0.0) else (W - 1, H - 1)
    step = 1 if corner == (0.0, 0.0) else -1
    assert set(zip(*np.nonzero(mask), strict=False)) == {(y, x), (y, x + step), (y + step, x)}


def test_a_lasso_fills_its_inside_by_pixel_centres():
    square = stroke([(2, 2), (12, 2), (12, 8), (2, 8)], tool="lasso")
    mask = rasterize([square], W, H)
    assert set(zip(*np.nonzero(mask), strict=False)) == {(y, x) for y in range(2, 8) for x in range(2, 12)}


def test_a_self_crossing_lasso_leaves_its_doubly_wound_middle_empty():
    # A pentagram: by the even-odd rule its central pentagon is outside.
    c, r = (20.0, 15.0), 12.0
    star = [(c[0] + r * math.sin(k * 4 * math.pi / 5), c[1] - r * math.cos(k * 4 * math.pi / 5)) for k in range(5)]
    mask = rasterize([stroke(star, tool="lasso")], W, H)
    assert not mask[15, 20]
    assert mask[7, 20]  # inside the upper point


def test_a_lasso_eraser_clears_a_hole():
    mask = rasterize(
        [
            stroke([(0, 0), (W, 0), (W, H), (0, H)], tool="lasso"),
            stroke([(10, 10), (20, 10), (20, 20)], tool="lasso-eraser"),
        ],
        W,
        H,
    )
    assert mask.sum() == W * H - reference_mask([stroke([(10, 10), (20, 10), (20, 20)], tool="lasso")], W, H).sum()


def test_strokes_paint_in_order():
    erase_then_paint = [stroke([(10, 10)], width=6, tool="eraser"), stroke([(10, 10)], width=6)]
    assert rasterize(erase_then_paint, W, H).any()
    assert not rasterize(list(reversed(erase_then_paint)), W, H).any()


def test_a_stroke_entirely_outside_the_image_paints_nothing():
    assert not rasterize([stroke([(-20, -20), (-10, -10)], width=4)], W, H).any()


# --- The fast rasterizer equals the definition --------------------------------------

coordinate = st.floats(min_value=-10, max_value=50, allow_nan=False, allow_infinity=False)
strokes_strategy = st.lists(
    st.builds(
        lambda tool, width, points: stroke(points, width=width, tool=tool),
        st.sampled_from(["brush", "eraser", "lasso", "lasso-eraser"]),
        st.floats(min_value=0.5, max_value=20),
        st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=8),
    ),
    min_size=1,
    max_size=6,
)


# Half-pixel coordinates and whole widths put pixel centres exactly on boundaries: the hard cases.
half_pixel = st.integers(min_value=-20, max_value=100).map(lambda n: n / 2)
tie_strokes_strategy = st.lists(
    st.builds(
        lambda tool, width, points: stroke(points, width=width, tool=tool),
        st.sampled_from(["brush", "eraser", "lasso", "lasso-eraser"]),
        st.integers(min_value=1, max_value=20).map(float),
        st.lists(st.tuples(half_pixel, half_pixel), min_size=3, max_size=8),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(strokes_strategy, tie_strokes_strategy))
def test_rasterize_agrees_with_the_pixel_by_pixel_definition(strokes):
    fast = rasterize(strokes, W, H)
    slow, ties = reference_mask(strokes, W, H, with_ties=True)
    assert not ((fast != slow) & ~ties).any()


def test_rasterize_is_deterministic_and_fixed_on_a_realistic_document():
    rng = np.random.default_rng(7)
    strokes = []
    for _ in range(10):
        walk = np.cumsum(rng.normal(0, 3, size=(200, 2)), axis=0) + [256, 256]
        strokes.append(stroke(walk.tolist(), width=float(rng.uniform(2, 30))))
    first, second = rasterize(strokes, 512, 512), rasterize(strokes, 512, 512)
    assert (first == second).all()
    assert (first == reference_mask(strokes, 512, 512)).all()


# --- Validation, property by property ------------------------------------------------
#
# Any document within the limits is accepted, and its normalized form is a fixed point; any
# one thing broken in it is refused with StrokesInvalid naming that field, and nothing a
# client can send makes validate_strokes raise anything else.

LASSO_TOOLS = ("lasso", "lasso-eraser")
SMALL = Limits(max_strokes=6, max_points_per_stroke=12, max_points=40)


def _number(low, high):
    """JSON numbers: ints or finite floats (a client may send either)."""
    return st.one_of(
        st.integers(min_value=int(math.ceil(low)), max_value=int(math.floor(high))),
        st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False),
    )


@st.composite
def valid_stroke(draw, max_points=8):
    tool = draw(st.sampled_from(["brush", "eraser", "lasso", "lasso-eraser"]))
    n = draw(st.integers(min_value=3 if tool in LASSO_TOOLS else 1, max_value=max_points))
    times = sorted(draw(st.lists(_number(0, Limits.max_t_ms), min_size=n, max_size=n)))
    points = [[draw(_number(-W, 2 * W)), draw(_number(-H, 2 * H)), t, draw(_number(0, 1))] for t in times]
    return {"tool": tool, "width": draw(_number(0.5, 512)), "points": points}


valid_strokes = st.lists(valid_stroke(), max_size=5)


@settings(max_examples=100)
@given(valid_strokes)
def test_any_valid_document_is_accepted_and_its_normalized_form_validates_unchanged(strokes):
    clean = validate_strokes(strokes, width=W, height=H)
    assert validate_strokes(clean, width=W, height=H) == clean
    assert [s["tool"] for s in clean] == [s["tool"] for s in strokes]
    assert all(type(v) is float for s in clean for p in s["points"] for v in p)
    assert all(type(s["width"]) is float and set(s) == {"tool", "width", "points"} for s in clean)
    # Normalizing changes types, never values.
    assert [[list(map(float, p)) for p in s["points"]] for s in strokes] == [s["points"] for s in clean]


# Each: (name, how to break the chosen point, the error code). The point is [x, y, t, p].
POINT_MUTATIONS = [
    ("x not finite", lambda p, d: [d(st.sampled_from([math.nan, math.inf, -math.inf])), *p[1:]], "not_finite"),
    ("p not finite", lambda p, d: [*p[:3], d(st.sampled_from([math.nan, math.inf]))], "not_finite"),
    ("x far left", lambda p, d: [-W - d(st.floats(0.001, 1e12)), *p[1:]], "out_of_bounds"),
    ("y far below", lambda p, d: [p[0], 2 * H + d(st.floats(0.001, 1e12)), *p[2:]], "out_of_bounds"),
    ("t negative", lambda p, d: [*p[:2], -d(st.floats(0.001, 1e12)), p[3]], "invalid_time"),
    ("p above one", lambda p, d: [*p[:3], 1 + d(st.floats(0.001, 1e6))], "invalid_pressure"),
    ("p negative", lambda p, d: [*p[:3], -d(st.floats(0.001, 1e6))], "invalid_pressure"),
    ("three numbers", lambda p, d: p[:3], "invalid_point"),
    ("five numbers", lambda p, d: [*p, 0.0], "invalid_point"),
    ("a string in it", lambda p, d: [p[0], str(p[1]), *p[2:]], "invalid_point"),
    ("a boolean in it", lambda p, d: [*p[:3], True], "invalid_point"),
    ("null in it", lambda p, d: [None, *p[1:]], "invalid_point"),
    ("an object", lambda p, d: {"x": p[0], "y": p[1]}, "invalid_point"),
    ("a number", lambda p, d: p[0], "invalid_point"),
]
STROKE_MUTATIONS = [
    ("unknown tool", "tool", lambda s, d: {**s, "tool": d(st.text(max_size=10).filter(lambda t: t not in TOOLS))}),
    ("tool missing", "tool", lambda s, d: {k: v for k, v in s.items() if k != "tool"}),
    ("width too small", "width", lambda s, d: {**s, "width": d(st.floats(-1e9, 0.4999))}),
    ("width too large", "width", lambda s, d: {**s, "width": d(st.floats(512.0001, 1e12))}),
    ("width not a number", "width", lambda s, d: {**s, "width": d(st.sampled_from(["4", None, True, [4], math.nan]))}),
    ("points not a list", "points", lambda s, d: {**s, "points": d(st.sampled_from([None, "pts", {"0": 1}, 3]))}),
    ("no points", "points", lambda s, d: {**s, "points": []}),
    ("unknown key", "", lambda s, d: {**s, d(st.text(min_size=1, max_size=8).filter(lambda k: k not in s)): 1}),
]
TOOLS = ("brush", "eraser", "lasso", "lasso-eraser")
STROKE_CODES = {
    "unknown tool": "unknown_tool",
    "tool missing": "unknown_tool",
    "width too small": "width_out_of_range",
    "width too large": "width_out_of_range",
    "width not a number": "invalid_width",
    "points not a list": "not_a_list",
    "no points": "too_few_points",
    "unknown key": "unknown_key",
}


def _refusal(strokes, limits=None):
    """Return the single error validate_strokes raises for these strokes; fail on anything else."""
    with pytest.raises(StrokesInvalid) as raised:
        validate_strokes(strokes, width=W, height=H, limits=limits or Limits())
    assert len(raised.value.errors) == 1, raised.value.errors
    return raised.value.errors[0]


@settings(max_examples=150)
@given(st.lists(valid_stroke(), min_size=1, max_size=4), st.data())
def test_one_broken_point_is_refused_naming_that_point(strokes, data):
    i = data.draw(st.integers(0, len(strokes) - 1), label="stroke")
    k = data.draw(st.integers(0, len(strokes[i]["points"]) - 1), label="point")
    name, mutate, code = data.draw(st.sampled_from(POINT_MUTATIONS), label="mutation")
    strokes[i]["points"][k] = mutate(strokes[i]["points"][k], data.draw)
    field, got_code, message = _refusal(strokes)
    assert (field, got_code) == (f"strokes[{i}].points[{k}]", code), name
    assert field in message


@settings(max_examples=100)
@given(st.lists(valid_stroke(), min_size=1, max_size=4), st.data())
def test_one_broken_stroke_is_refused_naming_that_stroke(strokes, data):
    i = data.draw(st.integers(0, len(strokes) - 1), label="stroke")
    name, part, mutate = data.draw(st.sampled_from(STROKE_MUTATIONS), label="mutation")
    strokes[i] = mutate(strokes[i], data.draw)
    field, code, message = _refusal(strokes)
    assert field == f"strokes[{i}]" + (f".{part}" if part else ""), name
    assert code == STROKE_CODES[name]
    assert field in message


@settings(max_examples=100)
@given(st.lists(valid_stroke(), min_size=1, max_size=4), st.data())
def test_a_time_going_backwards_is_refused_naming_the_point(strokes, data):
    i = data.draw(st.integers(0, len(strokes) - 1), label="stroke")
    points = strokes[i]["points"]
    if len(points) < 2:
        points.append(list(points[0]))
    for j, point in enumerate(points):
        point[2] = 10.0 * (j + 1)
    k = data.draw(st.integers(1, len(points) - 1), label="point")
    points[k][2] = points[k - 1][2] - data.draw(st.floats(0.001, 10), label="back by")
    assert _refusal(strokes)[:2] == (f"strokes[{i}].points[{k}]", "time_decreasing")


@settings(max_examples=100)
@given(st.lists(valid_stroke(max_points=3), min_size=1, max_size=SMALL.max_strokes), st.data())
def test_going_past_a_limit_is_refused_naming_it(strokes, data):
    which = data.draw(st.sampled_from(["strokes", "points per stroke", "points in all"]))
    if which == "strokes":
        strokes += [strokes[0]] * (SMALL.max_strokes + 1 - len(strokes))
        expected = ("strokes", "too_many_strokes")
    elif which == "points per stroke":
        i = data.draw(st.integers(0, len(strokes) - 1))
        strokes[i] = {**strokes[i], "points": [strokes[i]["points"][0]] * (SMALL.max_points_per_stroke + 1)}
        expected = (f"strokes[{i}].points", "too_many_points")
    else:
        strokes = [{**strokes[0], "points": [strokes[0]["points"][0]] * SMALL.max_points_per_stroke}] * 4
        expected = ("strokes", "too_many_points")
    assert _refusal(strokes, SMALL)[:2] == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30,
)
stroke_like = st.fixed_dictionaries(
    {"tool": st.sampled_from(TOOLS) | json_values, "width": _number(0, 600) | json_values},
    optional={"points": st.lists(st.lists(_number(-100, 100) | json_values, max_size=5), max_size=5) | json_values},
)


@settings(max_examples=200)
@given(st.one_of(json_values, st.lists(st.one_of(stroke_like, json_values), max_size=6)))
def test_anything_a_client_can_send_is_accepted_or_refused_with_named_fields_never_another_exception(strokes):
    try:
        clean = validate_strokes(strokes, width=W, height=H)
    except StrokesInvalid as refused:
        assert refused.errors
        for field, code, message in refused.errors:
            assert field.startswith("strokes") and code and message
    else:
        assert validate_strokes(clean, width=W, height=H) == clean
        assert rasterize(clean, W, H).shape == (H, W)


# --- The mask, property by property --------------------------------------------------

quarter = st.integers(min_value=-40, max_value=200).map(lambda n: n / 4)  # exact in binary: shifts stay exact


@st.composite
def drawn_stroke(draw, tools=TOOLS, coordinate=quarter):
    tool = draw(st.sampled_from(tools))
    n = draw(st.integers(min_value=3 if tool in LASSO_TOOLS else 1, max_value=8))
    points = draw(st.lists(st.tuples(coordinate, coordinate), min_size=n, max_size=n))
    return stroke(points, width=draw(st.integers(1, 24).map(lambda w: w / 2)), tool=tool)


def as_tool(s, tool):
    return {**s, "tool": tool}


ERASER_OF = {"brush": "eraser", "lasso": "lasso-eraser"}


@settings(max_examples=150)
@given(st.lists(drawn_stroke(), max_size=6))
def test_the_mask_is_an_image_sized_boolean_array_and_the_same_every_time(strokes):
    first, second = rasterize(strokes, W, H), rasterize(strokes, W, H)
    assert first.shape == (H, W) and first.dtype == bool
    assert (first == second).all()


@settings(max_examples=150)
@given(st.lists(drawn_stroke(), max_size=5), drawn_stroke(tools=("brush", "lasso")))
def test_a_stroke_then_the_same_stroke_as_its_eraser_leaves_nothing_of_it(before, painted):
    erased = rasterize([*before, painted, as_tool(painted, ERASER_OF[painted["tool"]])], W, H)
    assert not (erased & rasterize([painted], W, H)).any()
    assert not rasterize([painted, as_tool(painted, ERASER_OF[painted["tool"]])], W, H).any()


@settings(max_examples=150)
@given(st.lists(drawn_stroke(), max_size=5), drawn_stroke(tools=("brush", "lasso")))
def test_painting_adds_exactly_the_strokes_own_pixels_and_never_removes_any(before, painted):
    mask = rasterize(before, W, H)
    assert (rasterize([*before, painted], W, H) == (mask | rasterize([painted], W, H))).all()


@settings(max_examples=150)
@given(st.lists(drawn_stroke(), max_size=5), drawn_stroke(tools=("eraser", "lasso-eraser")))
def test_erasing_removes_exactly_what_the_same_stroke_would_paint_and_never_adds_any(before, erasing):
    painted_by_it = rasterize([as_tool(erasing, {"eraser": "brush", "lasso-eraser": "lasso"}[erasing["tool"]])], W, H)
    assert (rasterize([*before, erasing], W, H) == (rasterize(before, W, H) & ~painted_by_it)).all()


@settings(max_examples=150)
@given(
    drawn_stroke(tools=("brush", "lasso"), coordinate=st.integers(40, 80).map(lambda n: n / 4)),
    st.integers(-8, 8),
    st.integers(-6, 6),
)
def test_moving_a_stroke_by_whole_pixels_moves_its_mask_by_as_many(s, dx, dy):
    # Points from 10 to 20 and widths up to 12: the stroke stays inside the 40x30 image either way.
    moved = {**s, "points": [[x + dx, y + dy, t, p] for x, y, t, p in s["points"]]}
    assert (np.roll(rasterize([s], W, H), (dy, dx), axis=(0, 1)) == rasterize([moved], W, H)).all()


@settings(max_examples=150)
@given(drawn_stroke(tools=("brush",)))
def test_a_brush_paints_only_within_half_its_width_of_its_points_bounding_box(s):
    mask = rasterize([s], W, H)
    rows, columns = np.nonzero(mask)
    xs, ys = [p[0] for p in s["points"]], [p[1] for p in s["points"]]
    r = s["width"] / 2
    assert ((columns + 0.5 >= min(xs) - r) & (columns + 0.5 <= max(xs) + r)).all()
    assert ((rows + 0.5 >= min(ys) - r) & (rows + 0.5 <= max(ys) + r)).all()


@settings(max_examples=100)
@given(drawn_stroke(coordinate=st.integers(-400, -100).map(lambda n: n / 4)), st.sampled_from([-1, 1]))
def test_a_stroke_beyond_the_image_paints_nothing(s, side):
    # Coordinates from -100 to -25 with widths up to 12: more than half a width off the top-left
    # (side -1) or, mirrored, off the bottom-right (side 1).
    if side == 1:
        s = {**s, "points": [[W - x, H - y, t, p] for x, y, t, p in s["points"]]}
    assert not rasterize([s], W, H).any()


# --- Work and memory in proportion to the strokes, not to the image ----------------


@settings(max_examples=60, deadline=None)
@given(strokes_strategy)
def test_rasterizing_in_small_chunks_and_fills_paints_the_same_mask(strokes):
    whole = rasterize(strokes, W, H)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(strokes_mod, "_CHUNK_SPANS", 3)  # a chunk is then a segment or two
        patch.setattr(strokes_mod, "_FILL_PIXELS", 5)
        assert (rasterize(strokes, W, H) == whole).all()


def test_a_long_wide_stroke_rasterizes_in_bounded_memory():
    # 4,000 points at the widest brush: ~2 million row spans if computed at once (half a gigabyte
    # of temporaries before they were computed in chunks).
    rng = np.random.default_rng(1)
    walk = np.clip(500 + np.cumsum(rng.normal(0, 3, size=(4000, 2)), axis=0), 0, 999)
    long_wide = [stroke(walk.tolist(), width=512)]
    tracemalloc.start()
    try:
        mask = rasterize(long_wide, 1000, 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert mask.any()
    assert peak < 120 * 1024 * 1024, f"rasterizing took {peak / 1024**2:.0f} MB at its peak"


@pytest.mark.parametrize("where", ["x", "y", "t", "p", "width"])
def test_an_integer_beyond_a_doubles_range_is_refused_naming_the_field(where):
    # JSON integers may have any number of digits; float() of 10**400 raises OverflowError.
    huge = 10**400
    point = [huge if where == "x" else 1.0, huge if where == "y" else 1.0, huge if where == "t" else 0.0]
    point.append(huge if where == "p" else 0.5)
    document = [{"tool": "brush", "width": huge if where == "width" else 4.0, "points": [point]}]
    with pytest.raises(StrokesInvalid) as refused:
        validate_strokes(document, width=W, height=H)
    field, _, message = refused.value.errors[0]
    assert field == ("strokes[0].width" if where == "width" else "strokes[0].points[0]")
    assert len(message) < 200


# --- A mask as strokes: mask_lassos is the inverse of rasterize ---------------------------------


@st.composite
def masks(draw):
    height, width = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    density = draw(st.floats(0, 1))
    seed = draw(st.integers(0, 2**32 - 1))
    mask = np.random.default_rng(seed).random((height, width)) < density
    if draw(st.booleans()):  # rows repeated: bands of several rows
        mask = np.repeat(mask[: max(1, height // 3)], 3, axis=0)[:height]
    return mask


@settings(max_examples=300)
@given(masks(), st.sampled_from([6, 10, 26, DEFAULT_LIMITS.max_points_per_stroke]))
def test_the_lassos_of_a_mask_paint_exactly_that_mask(mask, max_points):
    lassos = strokes_mod.mask_lassos(mask, max_points=max_points)
    height, width = mask.shape
    assert (rasterize(lassos, width, height) == mask).all()
    assert all(len(s["points"]) <= max_points for s in lassos)
    if lassos:
        validate_strokes(lassos, width=width, height=height)
    erased = rasterize(
        [{"tool": "brush", "width": 512.0, "points": [[0, 0, 0, 0.5]]}]
        + strokes_mod.mask_lassos(mask, tool="lasso-eraser"),
        width,
        height,
    )
    assert (
        erased == ~mask & rasterize([{"tool": "brush", "width": 512.0, "points": [[0, 0, 0, 0.5]]}], width, height)
    ).all()


def test_a_masks_lassos_run_along_pixel_edges_and_merge_equal_rows():
    mask = np.zeros((5, 6), dtype=bool)
    mask[1:3, 1:4] = True  # two equal rows: one band
    mask[3, 2] = True
    (lasso,) = strokes_mod.mask_lassos(mask)
    outline = [(x, y) for x, y, _, _ in lasso["points"]]
    assert outline == [
        (-1, 1),
        (1, 1),
        (1, 3),
        (4, 3),
        (4, 1),
        (-1, 1),
        (-1, 3),
        (2, 3),
        (2, 4),
        (3, 4),
        (3, 3),
        (-1, 3),
    ]
    assert strokes_mod.mask_lassos(np.zeros((4, 4), dtype=bool)) == []


def _stroke(points, width=4.0, tool="brush"):
    return {
        "tool": tool,
        "width": width,
        "points": [[float(x), float(y), float(k), 0.5] for k, (x, y) in enumerate(points)],
    }


# The same table as src/document.spec.js's strokeInk: the app splits its saves by the same count.
@pytest.mark.parametrize(
    ("stroke", "ink"),
    [
        (_stroke([(5, 5)]), 4),  # a disc of width 4 at y = 5 covers rows 3 to 6
        (_stroke([(5, 5), (5, 15)]), 14),  # rows 3 to 16
        (_stroke([(5, 5), (5, 15), (5, 5)]), 28),  # two segments count their rows each
        (_stroke([(5, -50), (5, -40)]), 0),  # outside the image
        (_stroke([(0, 0), (9, 0), (9, 10)], width=1.0, tool="lasso"), 20),  # edges' rows, the closing one too
    ],
)
def test_ink_counts_the_rows_each_segment_crosses(stroke, ink):
    assert strokes_mod.ink([stroke], 64, 48) == ink


def test_painting_strokes_onto_the_mask_of_earlier_ones_is_rasterizing_them_all():
    first = [_stroke([(5, 5), (40, 30)], width=6.0), _stroke([(0, 0), (60, 0), (30, 40)], tool="lasso")]
    then = [_stroke([(20, 20)], width=9.0, tool="eraser"), _stroke([(10, 40), (50, 10)], width=3.0)]
    painted = strokes_mod.paint(rasterize(first, 64, 48), then)
    assert (painted == rasterize(first + then, 64, 48)).all()


@settings(max_examples=300)
@given(st.lists(drawn_stroke(), max_size=4), drawn_stroke(tools=("brush", "eraser")), st.data())
def test_a_brush_or_eraser_stroke_cut_at_a_point_into_two_paints_the_same_mask(before, whole, data):
    # The app cuts a stroke that reaches the points or the ink one save may hold into two sharing
    # the point of the cut (src/canvas/drawing.js): round caps and joins make their union the same.
    k = data.draw(st.integers(0, len(whole["points"]) - 1))
    head = {**whole, "points": whole["points"][: k + 1]}
    tail = {**whole, "points": whole["points"][k:]}
    assert (rasterize([*before, head, tail], W, H) == rasterize([*before, whole], W, H)).all()


def test_cutting_a_stroke_between_its_ends_shares_its_ink_between_the_two():
    whole = _stroke([(5, 5), (20, 30), (40, 10), (50, 45)], width=6.0)
    for k in (1, 2):
        head, tail = {**whole, "points": whole["points"][: k + 1]}, {**whole, "points": whole["points"][k:]}
        assert strokes_mod.ink([head], 64, 48) + strokes_mod.ink([tail], 64, 48) == strokes_mod.ink([whole], 64, 48)
