"""OD demand files: the two column forms, the synthetic label, and every refusal."""

from __future__ import annotations

import numpy as np
import pytest

from pricing.demand import ALLOWED_COLUMNS, DemandError, load_demand
from pricing.errors import PricingError
from pricing.zones import ZoneLayer


def _square(x0: float, y0: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x0 + 0.01, y0], [x0 + 0.01, y0 + 0.01], [x0, y0 + 0.01], [x0, y0]]]


@pytest.fixture
def layer() -> ZoneLayer:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": _square(24.93, 60.16)},
            "properties": {"zone_id": "kamppi", "class": "central"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": _square(24.90, 60.23)},
            "properties": {"zone_id": "kannelmaki", "class": "peripheral"},
        },
    ]
    return ZoneLayer.from_geojson(
        {"type": "FeatureCollection", "features": features}, source="two zones"
    )


COORDS = b"""origin_lat,origin_lon,dest_lat,dest_lon,trips
60.1690,24.9320,60.2350,24.9000,12.5
60.2350,24.9000,60.1690,24.9320,3
"""


def test_coordinate_form_reads_with_defaults():
    d = load_demand(COORDS, source="mem")
    assert len(d) == 2
    assert d.origin_lat.tolist() == [60.169, 60.235]
    assert d.dest_lon.tolist() == [24.9, 24.932]
    assert d.trips.dtype == np.float64 and d.trips.tolist() == [12.5, 3.0]
    assert d.origin_id.tolist() == ["", ""]
    assert d.income_group.tolist() == ["", ""]
    assert d.income_minor.dtype == np.int64 and d.income_minor.tolist() == [0, 0]
    assert d.mode_family.tolist() == ["transit", "transit"]
    assert d.source == "mem"
    assert not d.synthetic and not d.has_income
    assert d.total_trips == 15.5


def test_optional_columns_are_read():
    text = (
        "origin_id,dest_id,origin_lat,origin_lon,dest_lat,dest_lon,trips,income_group,"
        "income_minor,mode_family\n"
        "home,work,60.1,24.9,60.2,24.95,2.25,low,180000,bike_share\n"
    )
    d = load_demand(text.encode())
    assert d.origin_id.tolist() == ["home"] and d.dest_id.tolist() == ["work"]
    assert d.income_group.tolist() == ["low"] and d.income_minor.tolist() == [180000]
    assert d.mode_family.tolist() == ["bike_share"]
    assert d.has_income
    assert d.source == "<bytes>"


def test_zone_form_resolves_ids_to_representative_points(layer):
    text = b"origin_zone,dest_zone,trips\nkamppi,kannelmaki,4\nkannelmaki,kamppi,1.5\n"
    d = load_demand(text, zones=layer)
    assert d.origin_id.tolist() == ["kamppi", "kannelmaki"]
    assert d.dest_id.tolist() == ["kannelmaki", "kamppi"]
    idx = layer.assign(d.origin_lat, d.origin_lon)
    assert idx.tolist() == [0, 1]
    assert layer.assign(d.dest_lat, d.dest_lon).tolist() == [1, 0]
    rep_lat, rep_lon = layer.representative_points()
    assert d.origin_lat[0] == rep_lat[0] and d.origin_lon[0] == rep_lon[0]


def test_a_synthetic_comment_line_labels_the_demand(tmp_path):
    path = tmp_path / "od.csv"
    path.write_bytes(
        b"# synthetic: made up for a test\n# units: trips per day\n"
        + COORDS.replace(b"\n", b"\r\n")
    )
    d = load_demand(path)
    assert d.synthetic
    assert d.note.splitlines() == ["synthetic: made up for a test", "units: trips per day"]
    assert d.source == str(path)


def test_a_plain_comment_does_not_label_the_demand_synthetic():
    d = load_demand(b"# observed counts, 2022\n" + COORDS)
    assert not d.synthetic and d.note == "observed counts, 2022"


def test_a_utf8_bom_and_blank_lines_are_tolerated():
    d = load_demand(b"\xef\xbb\xbf" + COORDS + b"\n\n")
    assert len(d) == 2


def _refused(data: bytes, match: str, **kwargs) -> DemandError:
    with pytest.raises(DemandError, match=match) as info:
        load_demand(data, source="od.csv", **kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, PricingError)
    return info.value


ROW = "60.1,24.9,60.2,24.95"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},abc\n", r"line 2: column trips"),
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},nan\n", r"line 2: column trips"),
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},inf\n", r"line 2: column trips"),
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},1e999\n", r"not finite"),
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},1_000\n", r"column trips"),
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},\n", r"line 2: column trips"),
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},0\n", r"expected trips > 0"),
        (f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},-2\n", r"expected trips > 0"),
        (
            "origin_lat,origin_lon,dest_lat,dest_lon,trips\n60.1,24.9,91,24.95,1\n",
            r"line 2: column dest_lat: '91'; expected a latitude",
        ),
        (
            "origin_lat,origin_lon,dest_lat,dest_lon,trips\n60.1,-180.5,60.2,24.95,1\n",
            r"line 2: column origin_lon: '-180.5'; expected a longitude",
        ),
        (
            f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},1\n{ROW},1,2\n",
            r"line 3: 6 fields; the header has 5",
        ),
        (
            f"origin_lat,origin_lon,dest_lat,dest_lon,trips,income_minor\n{ROW},1,0\n",
            r"line 2: column income_minor: '0'; expected an income > 0",
        ),
        (
            f"origin_lat,origin_lon,dest_lat,dest_lon,trips,income_minor\n{ROW},1,1800.50\n",
            r"line 2: column income_minor: '1800.50'; expected an integer",
        ),
        (
            f"origin_lat,origin_lon,dest_lat,dest_lon,trips,mode_family\n{ROW},1,bus\n",
            r"line 2: column mode_family: 'bus'; expected one of transit",
        ),
        (
            f"# synthetic: x\norigin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},1\n{ROW},x\n",
            r"line 4: column trips",
        ),
    ],
)
def test_bad_values_are_refused_with_line_and_column(data, match):
    _refused(data.encode(), match)


def test_an_unknown_column_is_refused_listing_the_allowed_ones():
    err = _refused(
        f"origin_lat,origin_lon,dest_lat,dest_lon,trips,fare\n{ROW},1,2\n".encode(),
        r"line 1: unknown column 'fare'",
    )
    assert all(c in str(err) for c in ALLOWED_COLUMNS)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("origin_lat,origin_lon,dest_lat,dest_lon", r"missing column\(s\) trips"),
        ("origin_lat,origin_lon,dest_lat,trips", r"missing column\(s\) dest_lon"),
        ("origin_zone,trips", r"missing column\(s\) dest_zone"),
        ("trips,income_group", r"missing columns: expected either"),
        ("origin_lat,origin_lon,dest_lat,dest_lon,origin_zone,dest_zone,trips", r"both"),
        ("origin_lat,origin_lon,dest_lat,dest_lon,trips,trips", r"'trips' appears twice"),
        ("origin_zone,dest_zone,origin_id,trips", r"origin_id are only allowed"),
    ],
)
def test_bad_headers_are_refused(header, match, layer):
    _refused(f"{header}\n1,2,3,4,5,6,7\n".encode(), match, zones=layer)


def test_an_unknown_zone_id_is_refused(layer):
    data = b"origin_zone,dest_zone,trips\nkamppi,kannelmaki,1\nkamppi,pasila,1\n"
    _refused(data, r"line 3: column dest_zone: unknown zone id 'pasila'", zones=layer)


def test_the_zone_form_needs_a_zone_layer():
    _refused(b"origin_zone,dest_zone,trips\na,b,1\n", r"pass the ZoneLayer")


def test_too_many_rows_are_refused():
    data = f"origin_lat,origin_lon,dest_lat,dest_lon,trips\n{ROW},1\n{ROW},1\n{ROW},1\n"
    _refused(data.encode(), r"line 4: more than 2 data rows", max_rows=2)


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"# synthetic: nothing\n", b"   \n"],
)
def test_an_empty_file_is_refused(data):
    _refused(data, r"empty file")


def test_a_header_without_rows_is_refused():
    _refused(b"origin_lat,origin_lon,dest_lat,dest_lon,trips\n", r"no data rows")


def test_a_file_in_another_encoding_is_refused():
    data = "origin_id,dest_id,origin_lat,origin_lon,dest_lat,dest_lon,trips\n"
    data += f"Töölö,Itäkeskus,{ROW},1\n"
    _refused(data.encode("latin-1"), r"line 2: not UTF-8")


def test_a_nul_byte_is_refused():
    _refused(b"origin_lat,origin_lon,dest_lat,dest_lon,trips\n60.1\x00,1,1,1,1\n", r"line 2: NUL")


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(DemandError, match="cannot read"):
        load_demand(tmp_path / "nope.csv")
