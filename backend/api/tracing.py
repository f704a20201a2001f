"""Named steps of the hot paths, for a benchmark to time: nothing happens unless a tracer is installed.

A step is marked where it is defined, ``@traced("save: lock the annotation")``, so a profile of
the save path (bench/save_profile.py) names steps, not private functions: when the code under a
step changes (say, saves becoming incremental), the step keeps its name or loses it here, in
plain sight. ``install(tracer)`` has every step run as ``tracer(name, step)``, where ``step()``
runs it and returns its result; ``install(None)`` puts things back.

Pure: no ORM, no HTTP. Uninstalled, a step costs one extra function call.
"""

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

Tracer = Callable[[str, Callable[[], Any]], Any]

_tracer: Tracer | None = None
STEPS: list[str] = []  # every step's name, in the order the modules defining them were imported


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark the function as the step ``name`` of a hot path."""

    def mark(function: Callable[P, R]) -> Callable[P, R]:
        STEPS.append(name)

        @functools.wraps(function)
        def step(*args: P.args, **kwargs: P.kwargs) -> R:
            if _tracer is None:
                return function(*args, **kwargs)
            return _tracer(name, lambda: function(*args, **kwargs))

        return step

    return mark


def install(tracer: Tracer | None) -> None:
    """Run every step through ``tracer(name, step)`` from now on; None: run them as they are."""
    global _tracer
    _tracer = tracer
