"""bench/worst_request.py sends the largest document as the app does: strokes cut at the ink budget, saves within it."""

import numpy as np

from backend.api import strokes as strokes_mod
from bench.worst_request import SIDE, cut_as_drawn, parts


def walk(n: int, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    xy = np.mod(2000 + np.cumsum(rng.normal(0, 40.0, size=(n, 2)), axis=0), SIDE)
    return {"tool": "brush", "width": 512.0, "points": [[x, y, float(k), 0.5] for k, (x, y) in enumerate(xy.tolist())]}


def test_a_stroke_is_cut_where_its_ink_passes_the_budget_into_pieces_sharing_their_ends():
    stroke = walk(3000)
    pieces = cut_as_drawn(stroke, 400_000)
    inks = [strokes_mod.ink([piece], SIDE, SIDE) for piece in pieces]
    assert len(pieces) > 2 and max(inks) <= 400_000
    assert sum(inks) == strokes_mod.ink([stroke], SIDE, SIDE)  # each segment in exactly one piece
    assert all(a["points"][-1] == b["points"][0] for a, b in zip(pieces, pieces[1:], strict=False))
    rejoined = pieces[0]["points"] + [p for piece in pieces[1:] for p in piece["points"][1:]]
    assert rejoined == stroke["points"]


def test_the_saves_hold_the_strokes_in_order_each_within_the_budget():
    pieces = cut_as_drawn(walk(5000, seed=2), 400_000)
    runs = parts(pieces, 400_000, strokes_mod.ink)
    assert [s for run in runs for s in run] == pieces
    assert all(strokes_mod.ink(run, SIDE, SIDE) <= 400_000 for run in runs)
    assert all(strokes_mod.ink(a + b[:1], SIDE, SIDE) > 400_000 for a, b in zip(runs, runs[1:], strict=False))
