"""Synthetic shared-vehicle fleets for the built-in cities, as GBFS 3.0 feeds.

Northern Kentucky (`NKY`) gets the same generator with its own centre, time zone, currency
and sizes (`fleets.NKY_SIZES`): `synthetic-scooters-nky` and `synthetic-carshare-nky`. The
rest of this docstring describes Helsinki's, the default.

Helsinki publishes real city-bike stations but no live availability, and there is no open
scooter or car-share feed for it. These three providers fill the gap with plausible,
reproducible data, labelled SYNTHETIC in their ids, names and operator fields:

- `synthetic-citybikes-hki` (`citybikes`): the real stations, synthetic counts;
- `synthetic-scooters-hki` (`scooters`): free-floating e-scooters with geofencing zones on
  real places (`geofences`);
- `synthetic-carshare-hki` (`carshare`): round-trip station cars and free-floating EVs.

Each provider is a mapping of GBFS file name -> the raw JSON document an operator would
publish, so the same code path (parse, store, route) serves synthetic and real feeds.
`churn` makes one round of realistic change (following the time of day);
`synthetic_snapshots` parses the feeds as pushed ones are; `providers.simulator` pushes
rounds to a server.
"""

from __future__ import annotations

from providers.synthetic._common import HELSINKI, NKY, FleetCity
from providers.synthetic.carshare import PROVIDER_ID as CARSHARE_ID
from providers.synthetic.churn import StreetNodes, churn
from providers.synthetic.citybikes import PROVIDER_ID as CITYBIKES_ID
from providers.synthetic.fleets import (
    DEFAULT_SEED,
    NKY_SIZES,
    Feeds,
    embedded_synthetic_fleets,
    street_nodes,
    synthetic_fleets,
)
from providers.synthetic.scooters import PROVIDER_ID as SCOOTERS_ID
from providers.synthetic.snapshots import feed_bytes, refreshed_snapshots, synthetic_snapshots

PROVIDER_IDS = (CITYBIKES_ID, SCOOTERS_ID, CARSHARE_ID)

__all__ = [
    "CARSHARE_ID",
    "CITYBIKES_ID",
    "DEFAULT_SEED",
    "HELSINKI",
    "NKY",
    "NKY_SIZES",
    "PROVIDER_IDS",
    "SCOOTERS_ID",
    "Feeds",
    "FleetCity",
    "StreetNodes",
    "churn",
    "embedded_synthetic_fleets",
    "feed_bytes",
    "refreshed_snapshots",
    "street_nodes",
    "synthetic_fleets",
    "synthetic_snapshots",
]
