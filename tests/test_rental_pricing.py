"""GBFS rental prices: the reference's worked examples, boundaries, discounts, a real feed."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from pricing.errors import RentalInputError
from pricing.money import Money
from pricing.rental import RentalQuote, rental_price
from providers.gbfs import parse_feed
from providers.model import PriceSegment, PricingPlan
from tests.data_paths import GBFS_FIXTURES

LILLESTROM = GBFS_FIXTURES / "lillestrom-bysykkel-v2.2"

# GBFS reference (v2.2+), system_pricing_plans.json, Example 1: "The user does not pay more
# than the base price for the first 10 km. After 10 km the user pays $1 per km. After 25 km
# the user pays $0.50 per km and an additional $3 every 5 km".
EXAMPLE_1 = PricingPlan(
    id="plan2",
    name="One-Way",
    currency="USD",
    price_minor=200,
    per_km=(
        PriceSegment(start=10, rate_minor=100, interval=1, end=25),
        PriceSegment(start=25, rate_minor=50, interval=1),
        PriceSegment(start=25, rate_minor=300, interval=5),
    ),
)
# Example 2: "$3 unlock fee, $0.25 per kilometer and 0.50 per minute", both at once.
EXAMPLE_2 = PricingPlan(
    id="plan3",
    name="Simple Rate",
    currency="CAD",
    price_minor=300,
    is_taxable=True,
    per_km=(PriceSegment(start=0, rate_minor=25, interval=1),),
    per_min=(PriceSegment(start=0, rate_minor=50, interval=1),),
)


def cents(plan: PricingPlan, *, minutes: float = 0, km: float = 0) -> int:
    quote = rental_price(plan, duration_s=round(minutes * 60), distance_m=km * 1000)
    assert quote.amount.currency == plan.currency
    return quote.amount.amount_minor


@pytest.mark.parametrize(
    ("km", "usd_cents"),
    [
        (0, 200),
        (8, 200),
        (10, 200),  # exactly 10 km: no interval of the km-10 segment started yet
        (10.2, 300),
        (12, 400),
        (25, 1700),  # 2 + 15 x 1; the km-25 segments start only beyond 25
        (25.5, 2050),  # + 1 started km x 0.50 + 1 started 5 km x 3
        (30, 2250),  # 2 + 15 + 5 x 0.50 + 1 x 3
        (30.5, 2600),  # 2 + 15 + 6 x 0.50 + 2 x 3
    ],
)
def test_reference_example_1_overage_segments(km, usd_cents):
    assert cents(EXAMPLE_1, km=km) == usd_cents


def test_reference_example_2_km_and_minute_rates_add_up():
    assert cents(EXAMPLE_2, minutes=12, km=3.2) == 300 + 4 * 25 + 12 * 50
    assert cents(EXAMPLE_2, minutes=12.5, km=3.0) == 300 + 3 * 25 + 13 * 50
    quote = rental_price(EXAMPLE_2, duration_s=12 * 60, distance_m=3200.0)
    assert quote.reason == "unlock 3.00 CAD + 12 min x 0.50 CAD/min + 4 km x 0.25 CAD/km"


def test_per_minute_price_reason_reads_like_a_receipt():
    plan = PricingPlan(
        "p", "Scooter", "EUR", 100, per_min=(PriceSegment(start=0, rate_minor=25, interval=1),)
    )
    assert rental_price(plan, duration_s=12 * 60, distance_m=2500.0) == RentalQuote(
        Money(400, "EUR"), "unlock 1.00 EUR + 12 min x 0.25 EUR/min"
    )
    # every started minute counts: 12 min 1 s is 13 minutes
    assert cents(plan, minutes=12 + 1 / 60) == 100 + 13 * 25


def test_interval_zero_charges_once_and_end_is_exclusive():
    plan = PricingPlan(
        "p",
        "Day",
        "EUR",
        0,
        per_min=(
            PriceSegment(start=0, rate_minor=200, interval=30, end=60),  # 2.00 per started 30 min
            PriceSegment(start=60, rate_minor=1000, interval=0),  # 10.00 once after an hour
        ),
    )
    assert cents(plan, minutes=1) == 200
    assert cents(plan, minutes=30) == 200
    assert cents(plan, minutes=31) == 400
    assert cents(plan, minutes=60) == 400  # the 60-minute mark is not passed
    assert cents(plan, minutes=61) == 1400
    assert cents(plan, minutes=600) == 1400


def test_negative_total_is_clamped_to_zero_and_says_so():
    plan = PricingPlan(
        "p",
        "Promo",
        "EUR",
        100,
        per_min=(PriceSegment(start=0, rate_minor=-50, interval=1),),
    )
    assert cents(plan, minutes=1) == 50  # a negative rate is allowed per segment
    quote = rental_price(plan, duration_s=10 * 60, distance_m=0.0)
    assert quote.amount == Money(0, "EUR")
    assert "clamped to 0" in quote.reason and "-4.00 EUR" in quote.reason


def test_surge_pricing_is_reported():
    plan = PricingPlan("p", "Surge", "EUR", 100, surge_pricing=True)
    assert rental_price(plan, duration_s=60, distance_m=10.0).reason.endswith(
        "surge pricing in effect"
    )


@pytest.mark.parametrize(
    ("duration_s", "distance_m"), [(-1, 0.0), (60, -5.0), (60, float("nan")), (1.5, 0.0)]
)
def test_negative_or_non_finite_inputs_are_refused(duration_s, distance_m):
    with pytest.raises(RentalInputError):
        rental_price(EXAMPLE_2, duration_s=duration_s, distance_m=distance_m)


def test_lillestrom_real_plans_are_flat_prices():
    files = {p.stem: p.read_bytes() for p in sorted(LILLESTROM.glob("*.json")) if p.stem != "gbfs"}
    stamps = [json.loads(raw)["last_updated"] for raw in files.values()]
    newest = max(
        int(datetime.fromisoformat(s).timestamp()) if isinstance(s, str) else s for s in stamps
    )
    snap = parse_feed("lillestrom", files, received_at_s=newest)
    plans = {p.name: p for p in snap.pricing_plans}
    # the feed publishes no per_min/per_km segments (its overtime fee is only in the
    # description text), so a long rental costs the plan price and the reason says why
    season = rental_price(plans["sesongkort"], duration_s=90 * 60, distance_m=7400.0)
    assert season.amount == Money(5000, "NOK")
    assert season.reason == (
        "unlock 50.00 NOK (flat price: the plan has no per-minute or per-km segments)"
    )
    three_day = rental_price(plans["3-dagerskort"], duration_s=15 * 60, distance_m=2000.0)
    assert three_day.amount == Money(1000, "NOK")
