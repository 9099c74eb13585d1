"""What every benchmark shares: timing statistics, the machine description, saving results."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numba
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def stats_ms(seconds: list[float]) -> dict[str, float]:
    """Median, p95, p99 and mean of a list of durations, in milliseconds."""
    ms = np.array(seconds) * 1000.0
    return {
        "n": len(ms),
        "median_ms": round(float(np.median(ms)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(statistics.fmean(ms)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def machine() -> dict[str, Any]:
    """CPU, cores, memory and library versions: the context a figure needs."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "commit": commit,
    }


def run_snippet(code: str, *args: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter at the repository root; it prints one JSON line."""
    res = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def save(name: str, result: dict[str, Any]) -> Path:
    """Write `bench/results/<name>.json` (committed, so the README's figures have a source)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return path
