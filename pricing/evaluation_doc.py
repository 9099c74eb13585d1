"""The evaluation document (`evaluation.json`): one definition of its shape, for both sides.

`evaluation.evaluate` builds an `EvaluationDoc` and dumps it; `pricing.report` reads a document
back with `parse_evaluation` before drawing anything. Both go through these models, so the
format cannot drift between the code that writes it and the code that reads it.

The two sides differ on one point, on purpose. The writer is held to the format exactly: an
unknown key is refused (a misspelt key would otherwise be written and never read), except in
the zone GeoJSON, whose other members (a zone's population, say) are data and are kept. A
reader ignores every key it does not know, so a newer writer's additions do not break an
older report.

Values are checked strictly, as JSON types: ``"12"`` is not a number, ``true`` is not a count,
``NaN`` is not a number at all (JSON cannot carry it). Keys that hand-made or older documents
may lack have defaults; the writer always fills them in. A malformed document raises
`EvaluationDocError` naming the path of the offending key (``scenarios[2].theil.between_share``),
so a change to the format fails at the entry point, loudly, not as a `KeyError` deep inside a
chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from pricing.errors import PricingError
from pricing.money import currency_exponent
from pricing.zones import ZONE_CLASSES, ZoneClass

#: the `fairtrip_evaluation` format version written and read here
EVALUATION_VERSION: Final = 1

#: pydantic's error type -> what the document should have held there
_EXPECTED: Final[Mapping[str, str]] = {
    "float_type": "integer or number",
    "finite_number": "a finite number",
    "int_type": "integer",
    "string_type": "string",
    "bool_type": "boolean",
}
#: error types meaning "not an object" / "not an array"
_NOT_OBJECT: Final = frozenset({"model_type", "model_attributes_type", "dict_type"})
_NOT_ARRAY: Final = frozenset({"list_type"})
#: the error type of this module's own checks; its context carries the message
_OWN: Final = "evaluation"


class EvaluationDocError(PricingError, ValueError):
    """An evaluation document is malformed: a key is missing, mistyped or out of range.

    `key` is the path of the offending key (``scenarios[1].gini``; empty for the document as a
    whole), `value` what was found there.
    """

    def __init__(self, message: str, *, key: str, value: Any = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


# -- field types -----------------------------------------------------------------------------


def _refuse(text: str, *, value: Any, key: str = "") -> PydanticCustomError:
    """A refusal by one of the checks here; `text` follows the key's path ("is 'x'; ...").

    `key` is appended to the path of the model that raises it (empty: that model itself).
    """
    return PydanticCustomError(_OWN, "{text}", {"text": text, "key": key, "value": value})


def _one_of(choices: Sequence[str]) -> Callable[[Any], Any]:
    """A before-validator naming every accepted value when the input is none of them."""

    def check(value: Any) -> Any:
        if not isinstance(value, str) or value not in choices:
            raise _refuse(f"is {value!r}; expected one of {', '.join(choices)}", value=value)
        return value

    return check


def _currency(value: str) -> str:
    try:
        currency_exponent(value)
    except PricingError as exc:
        raise _refuse(f"is {value!r}: {exc}", value=value) from None
    return value


def _iso_date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise _refuse(f"is {value!r}; expected a date as YYYY-MM-DD", value=value) from None
    return value


#: a JSON number (an int is accepted and read as a float); never a bool, a string or NaN
Num = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
ZoneClassName = Annotated[ZoneClass, BeforeValidator(_one_of(ZONE_CLASSES))]


class _Part(BaseModel):
    """Common configuration: strict about unknown keys (the writer), NaN refused."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class _GeoJsonPart(_Part):
    """GeoJSON members beyond the ones the report reads are data: kept, never refused."""

    model_config = ConfigDict(extra="allow")


# -- the header ------------------------------------------------------------------------------


class NetworkInfo(_Part):
    """Which network was routed, and the modelled departure."""

    name: Str
    service_date: Annotated[str, Strict(), AfterValidator(_iso_date)]
    depart_local: Str  # HH:MM in the network's time zone
    timezone: Str


class DemandInfo(_Part):
    """The OD demand evaluated: where it came from, how much of it could be routed."""

    source: Str  # a file name, never a server path
    synthetic: Bool
    pairs: Int | None = None
    pairs_evaluated: Int | None = None
    #: of the routed matrix (unique origins x destinations)
    matrix_pairs: Int | None = None
    matrix_unreachable: Int | None = None
    #: reason code (`routing.planner.ReasonCode`) -> pairs without a way to travel
    matrix_unreachable_by_reason: dict[str, Int] | None = None
    trips: Num | None = None
    has_income: Bool = False
    note: Str = ""


class SettingsInfo(_Part):
    """What the planner tuned (see `evaluation.evaluate.EvaluationSettings`)."""

    currency: Annotated[str, Strict(), AfterValidator(_currency)]
    access_time_max_min: Num | None = None
    access_price_max_minor: Int | None = None
    trips_per_month: Num | None = None
    affordability_threshold: Num | None = None
    max_walk_m: Num | None = None
    od_matrix: list[Int] | None = None  # (origins, destinations)


class ZoneGeometry(_GeoJsonPart):
    """A GeoJSON geometry (the report draws Polygon and MultiPolygon)."""

    type: Str
    coordinates: list[Any]


class ZoneProperties(_GeoJsonPart):
    """A zone's properties: its id and class, and whatever else the layer carries."""

    zone_id: Str
    zone_class: ZoneClassName = Field(alias="class")


class ZoneFeature(_GeoJsonPart):
    """One zone of the layer."""

    type: Str = "Feature"
    geometry: ZoneGeometry
    properties: ZoneProperties


class ZoneCollection(_GeoJsonPart):
    """The zone layer as a GeoJSON FeatureCollection (the report's map is drawn from it)."""

    type: Str = "FeatureCollection"
    features: list[ZoneFeature]


class ZonesInfo(_Part):
    """The zones residents are classed by."""

    source: Str | None = None  # a file name, never a server path
    geojson: ZoneCollection


# -- one scenario ----------------------------------------------------------------------------


class SolvedParameter(_Part):
    """The free parameter of a revenue-neutral policy, as solved on this demand."""

    parameter: Str
    value: Num
    residual: Num
    iterations: Int


class ByClass(_Part):
    """A value for residents of central zones, of peripheral zones, and of all zones."""

    central: Num
    peripheral: Num
    all: Num


class PerKm(_Part):
    """Mean price per km by zone class (``all`` when the metric gives it)."""

    central: Num
    peripheral: Num
    all: Num | None = None


class TheilParts(_Part):
    """The Theil index and its split between and within zone classes."""

    total: Num
    between: Num | None = None
    within: Num | None = None
    between_share: Num


class AffordabilityInfo(_Part):
    """Fare spend as a share of income."""

    mean_share: Num
    share_over_threshold: Num
    by_income_group: dict[str, Num] | None = None


class LorenzCurve(_Part):
    """A Lorenz curve of fares paid: cumulative shares of trips and of cost, in [0, 1]."""

    population_share: list[Num]
    cost_share: list[Num]

    @model_validator(mode="after")
    def _check_curve(self) -> LorenzCurve:
        n_x, n_y = len(self.population_share), len(self.cost_share)
        if n_x != n_y or n_x < 2:
            raise _refuse(
                f"has {n_x} population shares and {n_y} cost shares; expected two arrays of "
                "the same length, at least 2",
                value=(n_x, n_y),
            )
        for name in ("population_share", "cost_share"):
            bad = [v for v in getattr(self, name) if not 0 <= v <= 1]
            if bad:
                raise _refuse(
                    f"holds {bad[0]!r}; expected numbers between 0 and 1", value=bad[0], key=name
                )
        return self


class ZoneRow(_Part):
    """One origin zone under one scenario: trips, prices and who wins or loses."""

    zone_id: Str
    zone_class: ZoneClassName = Field(alias="class")
    trips: Num
    mean_price_minor: Num
    mean_change_minor: Num
    winners: Num
    losers: Num
    unchanged: Num


class Scenario(_Part):
    """One policy's results (the status quo is the policy without measures)."""

    policy_id: Str
    version: Int | None = None
    name: Str
    measures: list[Str]  # one human-readable line per measure
    solved: SolvedParameter | None
    revenue_minor: Int
    revenue_change: Num
    neutrality_residual: Num | None = None
    trips: Num
    mean_price_minor: ByClass
    price_per_km_minor: PerKm
    gini: Num
    theil: TheilParts
    suits: Num | None  # None without incomes
    affordability: AffordabilityInfo | None  # None without incomes
    lorenz: LorenzCurve
    accessibility: ByClass
    zones: list[ZoneRow]


# -- the document ----------------------------------------------------------------------------


class EvaluationDoc(_Part):
    """The whole evaluation: status quo first, then each policy."""

    fairtrip_evaluation: Literal[1] = EVALUATION_VERSION
    generated_at: Str
    network: NetworkInfo
    demand: DemandInfo
    settings: SettingsInfo
    zones: ZonesInfo
    #: phase -> wall seconds; not checked for NaN here: writing it as JSON refuses that
    timing_s: dict[str, Annotated[float, Strict(), AllowInfNan(True)]]
    scenarios: Annotated[list[Scenario], Field(min_length=1)]

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready document (plain dicts and lists, keys as the format spells them)."""
        return self.model_dump(by_alias=True)


def parse_evaluation(data: Any) -> EvaluationDoc:
    """Read an evaluation document, ignoring keys this version does not know.

    Raises
    ------
    EvaluationDocError
        The format version is not `EVALUATION_VERSION`, a required key is missing or has the
        wrong type (the error's `key` is its path), the currency is unknown, the service date
        is not a date, or a Lorenz curve is malformed.
    """
    if not isinstance(data, Mapping):
        raise EvaluationDocError(
            f"evaluation is {type(data).__name__}; expected an object", key="", value=None
        )
    if "fairtrip_evaluation" not in data:
        raise EvaluationDocError(
            "evaluation is missing required key fairtrip_evaluation (the format version)",
            key="fairtrip_evaluation",
        )
    version = data["fairtrip_evaluation"]
    if version != EVALUATION_VERSION or isinstance(version, bool):
        raise EvaluationDocError(
            f"evaluation format version is {version!r}; this report reads version "
            f"{EVALUATION_VERSION}",
            key="fairtrip_evaluation",
            value=version,
        )
    try:
        return EvaluationDoc.model_validate(data, extra="ignore")
    except ValidationError as exc:
        raise document_error(exc) from None


def document_error(exc: ValidationError, *, at: str = "") -> EvaluationDocError:
    """The first problem of a failed validation, as an error naming its key's path.

    `at` is the path of the model that was validated, when it is part of a larger document
    (``scenarios[2]`` for one scenario built by the writer).
    """
    err = exc.errors(include_url=False)[0]
    path = _join(at, _path(err["loc"]))
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == _OWN:
        path = _join(path, str(ctx.get("key", "")))
        value = ctx.get("value")
        message = f"evaluation key {path} {ctx['text']}"
    elif kind == "missing":
        value = None
        message = f"evaluation is missing required key {path}"
    else:
        message = _message(err, path)
    return EvaluationDocError(message, key=path, value=value)


def _message(err: ErrorDetails, path: str) -> str:
    """The message of a type or length error at `path` (pydantic's own error types)."""
    kind, value = err["type"], err.get("input")
    shown = path or "(document)"
    if kind in _EXPECTED:
        return f"evaluation key {shown} is {value!r}; expected {_EXPECTED[kind]}"
    if kind in _NOT_OBJECT:
        return f"evaluation key {shown} is {type(value).__name__}; expected an object"
    if kind in _NOT_ARRAY:
        return f"evaluation key {shown} is {type(value).__name__}; expected an array"
    if kind == "extra_forbidden":
        return f"evaluation key {shown} is not part of the evaluation format (misspelt?)"
    if kind == "too_short":
        ctx = err.get("ctx") or {}
        return (
            f"evaluation key {shown} has {ctx.get('actual_length')} items; expected at least "
            f"{ctx.get('min_length')}"
        )
    msg = err["msg"]
    return f"evaluation key {shown} is {value!r}; {msg[:1].lower()}{msg[1:]}"


def _path(loc: Sequence[int | str]) -> str:
    """``('scenarios', 1, 'theil', 'total')`` -> ``scenarios[1].theil.total``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _join(base: str, key: str) -> str:
    if not key:
        return base
    if not base:
        return key
    return f"{base}{key}" if key.startswith("[") else f"{base}.{key}"
