"""What the benchmarks share: a log line per step, percentiles, memory peaks and the machine a run was measured on.

The machine is shared and noisy, so every result says what it ran on and the load average
around it (``machine``, ``describe``, ``load_average``).
"""

import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path


def log(message: str) -> None:
    """Print one step of the run to standard error, with the time (results go to standard output)."""
    print(f"==> {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def percentile(values, q: float) -> float | None:
    """Return the q-th percentile (0 to 100) of the values by nearest rank: one of them, never between two.

    None when there are none.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def load_average() -> str:
    """Return the load averages over 1, 5 and 15 minutes, e.g. ``0.52 0.61 0.70``."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def peak_rss_mb() -> float:
    """Return this process's peak resident memory (VmHWM) in MB.

    Not getrusage's ru_maxrss: Linux carries that over from the parent across fork and exec,
    so a child would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def machine(*, database_url: str | None = None) -> dict:
    """Return what a run was measured on: CPU, cores, memory, system, Python, PostgreSQL's version, load.

    PostgreSQL's version is the server's at ``database_url`` when given, else psql's.
    """
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    release = re.search(r'PRETTY_NAME="(.+)"', Path("/etc/os-release").read_text())
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu[1].strip() if cpu else platform.processor(),
        "memory_gib": round(int(memory[1]) / 1024**2) if memory else None,
        "os": release[1] if release else platform.platform(),
        "python": platform.python_version(),
        "postgres": _postgres_version(database_url),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def describe(facts: dict) -> str:
    """Return ``machine()``'s facts as one line for a log or a report."""
    postgres = f", PostgreSQL {facts['postgres']}" if facts.get("postgres") else ""
    return (
        f"{facts['cpus']} cores ({facts['cpu']}), {facts['memory_gib']} GiB, {facts['os']}, "
        f"Python {facts['python']}{postgres}; load average {' / '.join(str(x) for x in facts['load_average'])}"
    )


def _postgres_version(database_url: str | None) -> str | None:
    if database_url is not None:
        import psycopg  # only the benchmarks that run a database need it

        with psycopg.connect(database_url, connect_timeout=10) as connection:
            return connection.execute("SHOW server_version").fetchone()[0].split()[0]
    if shutil.which("psql") is None:
        return None
    found = re.search(r"\d+(\.\d+)*", subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout)
    return found[0] if found else None
