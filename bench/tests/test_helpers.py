"""The benchmarks' shared helpers: percentiles by nearest rank, and the machine a run is described by."""

import pytest

from bench.helpers import describe, machine, percentile


@pytest.mark.parametrize(
    "values, q, expected",
    [
        ([5, 1, 4, 2, 3], 50, 3),  # unsorted in, one of the values out
        (range(1, 101), 99, 99),
        (range(1, 101), 100, 100),
        (range(1, 11), 95, 10),  # rank ceil(9.5) = 10: never between two values
        ([7], 1, 7),
        ([], 99, None),
    ],
)
def test_percentiles_are_the_nearest_ranked_value(values, q, expected):
    assert percentile(values, q) == expected


def test_the_machine_is_described_with_its_cores_and_load():
    facts = machine()
    line = describe(facts)
    assert facts["cpus"] >= 1 and len(facts["load_average"]) == 3
    assert f"{facts['cpus']} cores" in line and "load average" in line
