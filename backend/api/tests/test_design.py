"""The study's draws: balanced assignment with a seeded tie-break, Latin squares, catch slots, codes."""

import itertools
from collections import Counter

import pytest

from backend.api import design


def test_the_option_with_the_fewest_participants_is_chosen():
    drawn = design.balanced_choice(["a", "b", "c"], {"a": 3, "b": 1, "c": 2}, seed=1, what="condition", number=7)
    assert drawn.chosen == "b"
    assert drawn.tied == ("b",) and drawn.value == 0


def test_options_nobody_has_yet_count_as_zero():
    drawn = design.balanced_choice(["a", "b"], {"a": 1}, seed=1, what="condition", number=1)
    assert drawn.chosen == "b"
    assert drawn.counts == {"a": 1, "b": 0}


def test_a_tie_is_broken_by_the_seeded_draw_and_recorded():
    drawn = design.balanced_choice(["a", "b", "c"], {}, seed=42, what="condition", number=5)
    assert drawn.tied == ("a", "b", "c")
    assert drawn.chosen == drawn.tied[design.draw(42, "condition", 5, 3)]
    assert drawn.record() == {"chosen": drawn.chosen, "counts": {"a": 0, "b": 0, "c": 0}, "tied": ["a", "b", "c"],
                              "draw": drawn.value}  # fmt: skip


def test_the_same_seed_and_number_always_draw_the_same():
    first = [design.balanced_choice(["a", "b", "c", "d"], {}, seed=9, what="c", number=n).chosen for n in range(50)]
    again = [design.balanced_choice(["a", "b", "c", "d"], {}, seed=9, what="c", number=n).chosen for n in range(50)]
    other = [design.balanced_choice(["a", "b", "c", "d"], {}, seed=10, what="c", number=n).chosen for n in range(50)]
    assert first == again
    assert first != other


@pytest.mark.parametrize("options", [2, 3, 4, 7])
def test_assigning_one_after_another_keeps_options_within_one_of_each_other(options):
    names = [f"c{i}" for i in range(options)]
    counts = Counter()
    for number in range(1, 200):
        counts[design.balanced_choice(names, counts, seed=3, what="condition", number=number).chosen] += 1
        assert max(counts[n] for n in names) - min(counts[n] for n in names) <= 1


def test_ties_spread_over_every_option():
    # Only ties are drawn: over many first choices (all tied), every option comes up.
    chosen = Counter(design.balanced_choice(["a", "b", "c"], {}, seed=s, what="x", number=1).chosen for s in range(300))
    assert set(chosen) == {"a", "b", "c"} and min(chosen.values()) > 60


@pytest.mark.parametrize("n, rows", [(1, 1), (2, 2), (3, 6), (4, 4), (5, 10), (6, 6)])
def test_the_williams_square_is_latin_and_balanced_for_carry_over(n, rows):
    square = design.williams_square(n)
    assert len(square) == rows
    for row in square:
        assert sorted(row) == list(range(n))  # each row an order of every phase
    for position in range(n):  # each phase equally often in each position
        assert Counter(row[position] for row in square) == {phase: rows // n for phase in range(n)}
    follows = Counter((row[i], row[i + 1]) for row in square for i in range(n - 1))
    pairs = list(itertools.permutations(range(n), 2))
    assert all(follows[pair] == follows[pairs[0]] for pair in pairs)  # each phase follows each other equally


def test_the_williams_square_of_four_is_the_textbook_one():
    assert design.williams_square(4) == [[0, 1, 3, 2], [1, 2, 0, 3], [2, 3, 1, 0], [3, 0, 2, 1]]


def test_catch_slots_are_distinct_within_the_phase_and_never_first():
    for number in range(100):
        slots = design.catch_slots(images=10, catches=3, seed=5, number=number, what="catch:1")
        assert len(set(slots)) == 3 and slots == sorted(slots)
        assert all(2 <= slot <= 13 for slot in slots)


def test_catch_slots_are_drawn_again_the_same():
    assert design.catch_slots(images=20, catches=2, seed=8, number=3, what="w") == design.catch_slots(
        images=20, catches=2, seed=8, number=3, what="w"
    )
    spread = {tuple(design.catch_slots(images=20, catches=2, seed=8, number=n, what="w")) for n in range(40)}
    assert len(spread) > 20  # participants differ


def test_catch_slots_refuse_what_cannot_fit():
    with pytest.raises(ValueError):
        design.catch_slots(images=0, catches=1, seed=1, number=1, what="w")
    assert design.catch_slots(images=5, catches=0, seed=1, number=1, what="w") == []


@pytest.mark.parametrize(
    "images, rate, count, slots, expected",
    [(20, 0.1, None, None, 2), (5, 0.1, None, None, 1), (20, None, 3, None, 3), (20, None, None, [4, 9], 2),
     (20, None, None, None, 0)],
)  # fmt: skip
def test_the_number_of_catch_images(images, rate, count, slots, expected):
    assert design.catch_count(images=images, rate=rate, count=count, slots=slots) == expected


def test_codes_and_pseudonyms_use_an_unambiguous_alphabet():
    codes = {design.new_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(len(code) == design.CODE_LENGTH and set(code) <= set(design.CODE_ALPHABET) for code in codes)
    assert not set("01OIL") & set(design.CODE_ALPHABET)
    pseudonym = design.new_pseudonym()
    assert pseudonym.startswith("P-") and len(pseudonym) == 10
