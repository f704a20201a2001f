"""A study's experimental design: balanced assignment, counterbalanced phase orders, catch slots, codes.

Pure: no ORM, no HTTP. Every draw is a function of the study's seed and the participant's
enrolment number (SHA-256 of ``"<seed>:<what>:<number>"``), so anyone holding the study file,
its seed and the participants table can recompute every assignment, and the services record
what each draw saw (``Draw.record``) beside its outcome.
"""

import hashlib
import secrets
from dataclasses import dataclass

# No 0/O, 1/I/L, U: codes are read off a screen and typed into a crowd platform.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 30**10 is about 2**49: not guessable within any rate limit
PSEUDONYM_LENGTH = 8


def draw(seed: int, what: str, number: int, modulo: int) -> int:
    """Return a reproducible pseudo-random integer in [0, modulo) for draw ``what`` of participant ``number``."""
    if modulo < 1:
        raise ValueError(f"modulo must be at least 1; got {modulo}")
    digest = hashlib.sha256(f"{seed}:{what}:{number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulo


@dataclass(frozen=True)
class Draw:
    """A balanced choice: what was chosen, and everything needed to check it."""

    chosen: str
    counts: dict[str, int]
    tied: tuple[str, ...]
    value: int  # the seeded draw among the tied options (0 when only one was tied)

    def record(self) -> dict:
        """Return the draw as JSON-ready values, stored with the participant."""
        return {"chosen": self.chosen, "counts": dict(self.counts), "tied": list(self.tied), "draw": self.value}


def balanced_choice(options: list[str], counts: dict[str, int], *, seed: int, what: str, number: int) -> Draw:
    """Choose the option with the fewest participants; ties are broken by the seeded draw ``what`` of ``number``.

    ``options`` keeps its given order, so the tie-break is reproducible: the draw indexes the
    tied options in that order. ``counts`` may leave options out (nobody has them yet).
    """
    if not options:
        raise ValueError("there is nothing to choose from")
    counted = {option: counts.get(option, 0) for option in options}
    fewest = min(counted.values())
    tied = tuple(option for option in options if counted[option] == fewest)
    value = draw(seed, what, number, len(tied)) if len(tied) > 1 else 0
    return Draw(chosen=tied[value], counts=counted, tied=tied, value=value)


def williams_square(n: int) -> list[list[int]]:
    """Return a Latin square of orders of ``n`` phases, balanced for first-order carry-over (Williams, 1949).

    Each phase appears once in each position across the rows, and each phase follows every
    other phase equally often. For an even ``n`` that takes ``n`` rows; for an odd ``n``, the
    ``n`` rows and their mirror images, ``2n`` rows.
    """
    if n < 1:
        raise ValueError(f"a Latin square needs at least one phase; got {n}")
    # The first row 0, 1, n-1, 2, n-2, ...; each further row adds 1 modulo n.
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    rows = [[(phase + shift) % n for phase in first] for shift in range(n)]
    if n % 2 == 1 and n > 1:
        rows += [list(reversed(row)) for row in rows]
    return rows


def catch_slots(*, images: int, catches: int, seed: int, number: int, what: str) -> list[int]:
    """Return where catch images go in a phase of ``images`` images and ``catches`` catch images.

    Slots are 1-based places in the phase's whole sequence (``images + catches`` long), drawn
    without replacement for each participant, never the first (a participant starts on a real
    image), sorted.
    """
    if catches <= 0:
        return []
    length = images + catches
    if catches > length - 1:
        raise ValueError(f"{catches} catch images do not fit in a phase of {images} images (never first)")
    candidates = list(range(2, length + 1))
    chosen = []
    for k in range(catches):
        index = draw(seed, f"{what}:{k}", number, len(candidates))
        chosen.append(candidates.pop(index))
    return sorted(chosen)


def catch_count(*, images: int, rate: float | None = None, count: int | None = None, slots=None) -> int:
    """Return how many catch images a phase of ``images`` images gets: a count, a rate of its images, or its slots."""
    if slots:
        return len(slots)
    if count is not None:
        return count
    if rate:
        return max(1, round(images * rate))
    return 0


def order_key(seed: int, what: str, item: str) -> int:
    """Return a participant's stable random key for an item (e.g. a catch image's SHA-256)."""
    digest = hashlib.sha256(f"{seed}:{what}:{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def new_code(length: int = CODE_LENGTH) -> str:
    """Return a random completion code (about 49 bits at the default length)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_pseudonym() -> str:
    """Return a random pseudonym for a participant, e.g. ``P-7K3M9QXA`` (about 39 bits)."""
    return "P-" + new_code(PSEUDONYM_LENGTH)
