"""Where the tests find real data: the repository's `data/` (committed, with attribution)
and, for what may not be committed (Citi Bike), the workplace's shared data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_DATA = Path(__file__).resolve().parents[1] / "data"


def shared_data() -> Path:
    """$FAIRTRIP_SHARED_DATA, else ../shared/data beside the checkout, else /work/shared/data."""
    env = os.environ.get("FAIRTRIP_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[2] / "shared" / "data",
        Path("/work/shared/data"),
    ]
    return next((c for c in candidates if c.is_dir()), candidates[-1])


HSL_BIKES = REPO_DATA / "helsinki" / "gbfs" / "hsl_bikes"
GBFS_FIXTURES = REPO_DATA / "gbfs-fixtures"
CITIBIKE = shared_data() / "nyc" / "citibike-2019-07-05"
