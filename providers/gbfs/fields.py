"""The fields each GBFS file may contain, per version family, from the spec's JSON schemas.

Sources: MobilityData/gbfs-json-schema `v2.3/*.json` and `v3.0/*.json` (2.x sets are the
union of 2.0..2.3, so a 2.2 file may carry a field 2.3 added). A field outside its set is a
`FeedError` in 2.x and 3.0; names starting with `_` are producer extensions and accepted
(the spec asks producers to prefix extensions that way). GBFS 1.x is read tolerantly:
unknown fields are ignored, because real 1.x feeds (Citi Bike, HSL) carry many vendor fields
from before the extension convention existed.

`PRODUCER_EXTRAS` lists the few unprefixed vendor fields seen in real 2.x captures that we
accept by name, each with where it was seen, rather than weakening the rule for everyone.
"""

from __future__ import annotations

from typing import Final

#: Top-level members of every GBFS file.
ENVELOPE: Final = frozenset({"last_updated", "ttl", "version", "data"})

LOCALIZED_TEXT: Final = frozenset({"text", "language"})
RENTAL_URIS: Final = frozenset({"android", "ios", "web"})
TYPE_COUNT: Final = frozenset({"vehicle_type_id", "count"})
TYPES_COUNT: Final = frozenset({"vehicle_type_ids", "count"})
PRICE_SEGMENT: Final = frozenset({"start", "rate", "interval", "end"})
FEED_ENTRY: Final = frozenset({"name", "url"})

_SYSTEM_COMMON = frozenset(
    {
        "system_id",
        "name",
        "short_name",
        "operator",
        "url",
        "purchase_url",
        "start_date",
        "phone_number",
        "email",
        "feed_contact_email",
        "timezone",
        "license_id",
        "license_url",
        "attribution_organization_name",
        "attribution_url",
        "brand_assets",
        "terms_url",
        "terms_last_updated",
        "privacy_url",
        "privacy_last_updated",
        "rental_apps",
    }
)
_STATION_INFO_COMMON = frozenset(
    {
        "station_id",
        "name",
        "short_name",
        "lat",
        "lon",
        "address",
        "cross_street",
        "region_id",
        "post_code",
        "rental_methods",
        "is_virtual_station",
        "station_area",
        "parking_type",
        "parking_hoop",
        "contact_phone",
        "capacity",
        "is_valet_station",
        "is_charging_station",
        "rental_uris",
    }
)
_STATION_STATUS_COMMON = frozenset(
    {
        "station_id",
        "vehicle_types_available",
        "num_docks_available",
        "vehicle_docks_available",
        "num_docks_disabled",
        "is_installed",
        "is_renting",
        "is_returning",
        "last_reported",
    }
)
_VEHICLE_COMMON = frozenset(
    {
        "lat",
        "lon",
        "is_reserved",
        "is_disabled",
        "rental_uris",
        "vehicle_type_id",
        "last_reported",
        "current_range_meters",
        "current_fuel_percent",
        "station_id",
        "home_station_id",
        "pricing_plan_id",
        "vehicle_equipment",
        "available_until",
    }
)
_VEHICLE_TYPE_COMMON = frozenset(
    {
        "vehicle_type_id",
        "form_factor",
        "rider_capacity",
        "cargo_volume_capacity",
        "cargo_load_capacity",
        "propulsion_type",
        "max_range_meters",
        "name",
        "vehicle_accessories",
        "g_CO2_km",
        "vehicle_image",
        "make",
        "model",
        "color",
        "wheel_count",
        "max_permitted_speed",
        "rated_power",
        "default_reserve_time",
        "return_constraint",
        "vehicle_assets",
        "default_pricing_plan_id",
        "pricing_plan_ids",
    }
)
_PLAN_COMMON = frozenset(
    {
        "plan_id",
        "url",
        "name",
        "currency",
        "price",
        "is_taxable",
        "description",
        "per_km_pricing",
        "per_min_pricing",
        "surge_pricing",
    }
)
_RULE_COMMON = frozenset({"ride_through_allowed", "maximum_speed_kph", "station_parking"})

#: file -> family ("2" or "3") -> allowed members of one record (or of `data` for
#: system_information, which has no records).
RECORD_FIELDS: Final[dict[str, dict[str, frozenset[str]]]] = {
    "system_information": {
        "2": _SYSTEM_COMMON | {"language"},
        "3": _SYSTEM_COMMON | {"languages", "opening_hours", "termination_date", "manifest_url"},
    },
    "station_information": {
        "2": _STATION_INFO_COMMON | {"vehicle_capacity", "vehicle_type_capacity"},
        "3": _STATION_INFO_COMMON
        | {"station_opening_hours", "vehicle_types_capacity", "vehicle_docks_capacity"},
    },
    "station_status": {
        "2": _STATION_STATUS_COMMON | {"num_bikes_available", "num_bikes_disabled"},
        "3": _STATION_STATUS_COMMON | {"num_vehicles_available", "num_vehicles_disabled"},
    },
    "free_bike_status": {"2": _VEHICLE_COMMON | {"bike_id"}},
    "vehicle_status": {"3": _VEHICLE_COMMON | {"vehicle_id"}},
    "vehicle_types": {
        "2": _VEHICLE_TYPE_COMMON | {"eco_label"},
        "3": _VEHICLE_TYPE_COMMON | {"eco_labels", "description"},
    },
    "system_pricing_plans": {
        "2": _PLAN_COMMON,
        "3": _PLAN_COMMON | {"reservation_price_per_min", "reservation_price_flat_rate"},
    },
    "geofencing_rule": {
        "2": _RULE_COMMON | {"vehicle_type_id", "ride_allowed"},
        "3": _RULE_COMMON | {"vehicle_type_ids", "ride_start_allowed", "ride_end_allowed"},
    },
}

#: file -> members of `data` (system_information's `data` is its record, above).
DATA_FIELDS: Final[dict[str, dict[str, frozenset[str]]]] = {
    "station_information": {"2": frozenset({"stations"}), "3": frozenset({"stations"})},
    "station_status": {"2": frozenset({"stations"}), "3": frozenset({"stations"})},
    "free_bike_status": {"2": frozenset({"bikes"})},
    "vehicle_status": {"3": frozenset({"vehicles"})},
    "vehicle_types": {"2": frozenset({"vehicle_types"}), "3": frozenset({"vehicle_types"})},
    "system_pricing_plans": {"2": frozenset({"plans"}), "3": frozenset({"plans"})},
    "geofencing_zones": {
        "2": frozenset({"geofencing_zones"}),
        "3": frozenset({"geofencing_zones", "global_rules"}),
    },
}

FEATURE_COLLECTION: Final = frozenset({"type", "features"})
FEATURE: Final = frozenset({"type", "geometry", "properties"})
ZONE_PROPERTIES: Final = frozenset({"name", "start", "end", "rules"})
GEOMETRY: Final = frozenset({"type", "coordinates"})

#: Unprefixed vendor fields accepted by name: file -> field -> where it was seen.
PRODUCER_EXTRAS: Final[dict[str, dict[str, str]]] = {
    "station_status": {
        "installed": "Entur/Lillestrøm bysykkel 2.2 (duplicates is_installed)",
        "renting": "Entur/Lillestrøm bysykkel 2.2 (duplicates is_renting)",
        "returning": "Entur/Lillestrøm bysykkel 2.2 (duplicates is_returning)",
    },
}


def record_fields(file: str, family: str) -> frozenset[str]:
    """Allowed members of one record of `file` in a version family, with producer extras."""
    return RECORD_FIELDS[file][family] | frozenset(PRODUCER_EXTRAS.get(file, {}))


def data_fields(file: str, family: str) -> frozenset[str]:
    """Allowed members of `data` of `file` in a version family."""
    return DATA_FIELDS[file][family]
