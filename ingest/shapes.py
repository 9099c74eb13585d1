"""`shapes.txt` into CSR arrays, so transit legs can be drawn along the vehicle's real path."""

from __future__ import annotations

import gtfs_kit as gk
import numpy as np
import pandas as pd

from network.compiled import Shapes


def shape_table(feed: gk.Feed) -> Shapes:
    """Every shape's points in sequence order; an empty table when the feed has none."""
    shapes = feed.shapes
    if shapes is None or shapes.empty:
        return Shapes.empty()
    df = shapes[["shape_id", "shape_pt_sequence", "shape_pt_lat", "shape_pt_lon"]].dropna()
    df = df.assign(shape_id=df["shape_id"].astype(str)).sort_values(
        ["shape_id", "shape_pt_sequence"], kind="stable"
    )
    ids, starts = np.unique(df["shape_id"].to_numpy(dtype=str), return_index=True)
    ptr = np.append(starts, len(df)).astype(np.int64)
    return Shapes(
        shape_id=ids.astype(str),
        point_ptr=ptr,
        lat=pd.to_numeric(df["shape_pt_lat"]).to_numpy(np.float64),
        lon=pd.to_numeric(df["shape_pt_lon"]).to_numpy(np.float64),
    )


def agency_table(feed: gk.Feed) -> dict[str, dict[str, str | None]]:
    """agency_id -> name and URL, for the itinerary's `agency` field."""
    out: dict[str, dict[str, str | None]] = {}
    for row in feed.agency.to_dict("records"):
        key = str(row.get("agency_id") or "")
        url = row.get("agency_url")
        out[key] = {
            "name": str(row.get("agency_name") or key),
            "url": str(url) if isinstance(url, str) else None,
        }
    return out
