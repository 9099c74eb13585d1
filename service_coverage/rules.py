"""Distribution rules: the share of a provider's vehicles a city wants in a class of zones.

Cities that license shared fleets write distribution rules into permits, for example "at
least 20 % of each provider's available scooters in peripheral zones, as a daily average
between 06:00 and 22:00". Here such a rule is a small versioned YAML or JSON document (see
`data/policies/rules/`), a policy document of a second kind next to the fare policies, held
to the same strictness as `pricing.policy`: unknown fields, duplicate keys, YAML aliases and
values of the wrong type are refused with the field named (``window.start``,
``applies_to.form_factors[1]``), because a typo in a permit condition must never silently
become another condition. The document loader (size limit, aliases, nesting, duplicate
keys) is the fare policies' own, so both kinds of document are read by one set of rules.

What a rule judges (`compliance`), per provider and local day, from the aggregated history
(`service_coverage.model.ZoneSample`, vehicle rows only):

* the share at one sample time is the provider's available vehicles of the rule's types in
  zones of the rule's class, over all its available vehicles of those types;
* the share of an hour is the mean over that hour's samples; a sample with no vehicle of
  those types has no share and is left out of the mean;
* ``daily_average``: the mean of the window's hourly shares must reach `min_share`;
  ``every_hour``: every window hour must reach it. Exactly at the threshold passes (shares
  are compared as exact fractions of vehicle counts, never as rounded floats).

An hour without samples (or whose samples hold none of the rule's vehicles) is reported as
such and never counts as passing: a day with such an hour is ``incomplete`` unless an hour
with data has already failed an ``every_hour`` rule. Window hours are local clock hours in
the network's time zone; an hour a daylight-saving change skips is not part of that day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from network.embedded import data_dir
from pricing.names import control_character_message

# the strict YAML/JSON loading (size, aliases, nesting, duplicate keys) is the fare
# policies' own: one set of document rules for both kinds of policy document
from pricing.policy import MAX_DOCUMENT_BYTES, MAX_VERSION, PolicyError, ZoneClass
from pricing.policy import _load_json as load_json_document
from pricing.policy import _load_yaml as load_yaml_document
from providers.model import RENTAL_MODE_OF_FORM_FACTOR, FormFactor
from providers.store.keys import PROVIDER_ID_RE
from service_coverage.errors import CoverageError
from service_coverage.model import ZoneSample
from service_coverage.zones import ServiceZones

#: rule document format versions this code reads (``fairtrip_rule: 1``)
SUPPORTED_FORMATS: Final[tuple[int, ...]] = (1,)
#: the example rule shipped with the embedded city, under `network.embedded.data_dir`
EMBEDDED_RULE: Final[str] = "policies/rules/scooters-peripheral-20.yaml"
#: where every example rule shipped with the embedded city lies, under `data_dir`
SHIPPED_RULES_DIR: Final[str] = "policies/rules"

Aggregate = Literal["daily_average", "every_hour"]
AGGREGATES: Final[tuple[str, ...]] = get_args(Aggregate)
#: the vehicle modes a rule may name, as the trip planner's API names them (`trips.model.Mode`)
VehicleMode = Literal["BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"]
VEHICLE_MODES: Final[tuple[str, ...]] = get_args(VehicleMode)
#: mode -> the GBFS form factors it covers: the planner's own table, inverted
MODE_FORM_FACTORS: Final[Mapping[str, frozenset[str]]] = {
    mode: frozenset(f for f, m in RENTAL_MODE_OF_FORM_FACTOR.items() if m == mode)
    for mode in VEHICLE_MODES
}
FORM_FACTORS: Final[tuple[str, ...]] = tuple(f.value for f in FormFactor)
HourStatus = Literal["met", "missed", "no_data", "no_vehicles"]
Verdict = Literal["compliant", "not_compliant", "incomplete"]

_SLUG_CHARS: Final[frozenset[str]] = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_short = reprlib.Repr()  # short reprs of offending values in messages
_short.maxlevel, _short.maxstring, _short.maxother, _short.maxlist, _short.maxdict = 1, 40, 40, 4, 4


class RuleError(CoverageError, PolicyError):
    """A distribution rule document is malformed or breaks a rule.

    A `PolicyError` (a rule is a policy document of another kind), so every caller that
    reports a bad policy with its field path reports a bad rule the same way.
    """


class RuleNotApplicableError(CoverageError, ValueError):
    """Compliance was asked of a provider the rule does not name."""

    def __init__(self, rule_id: str, provider_id: str) -> None:
        self.rule_id = rule_id
        self.provider_id = provider_id
        super().__init__(f"rule {rule_id!r} does not apply to provider {provider_id!r}")


# -- field types -----------------------------------------------------------------------------


def _sub(field: str, message: str) -> PydanticCustomError:
    """A refusal inside a field (`field` like ``[1]`` or ``end``, relative to the model)."""
    return PydanticCustomError("rule_detail", "{message}", {"field": field, "message": message})


def _slug(value: str) -> str:
    if not 3 <= len(value) <= 64 or not set(value) <= _SLUG_CHARS:
        raise _sub(
            "",
            f"expected a slug of 3-64 characters from a-z, 0-9 and '-', got {_short.repr(value)}",
        )
    return value


def _plain(allow: str) -> Any:
    def check(value: str) -> str:
        message = control_character_message(value, allow=allow)
        if message is not None:
            raise _sub("", message)
        return value

    return check


def _version(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _sub("", f"expected an integer version >= 1, got {_describe(value)}")
    return value


def _share(value: Any) -> Any:
    """A share 0..1 as a number; a percentage such as 20 gets a hint, not a guess."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _sub("", f"expected a number between 0 and 1, got {_describe(value)}")
    if not 0 <= value <= 1:  # NaN fails here too
        hint = f" (for {value} % write {value / 100:g})" if 1 < value <= 100 else ""
        raise _sub("", f"expected a share between 0 and 1, got {value}{hint}")
    return float(value)


def _clock(value: Any) -> Any:
    """A local time "HH:00" (00:00 .. 24:00); YAML's base-60 reading of 22:00 gets a hint."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        hours, minutes = divmod(value, 60)
        raise _sub(
            "",
            f'expected a local time in quotes such as "06:00", got the number {value} '
            f"(YAML reads an unquoted {hours}:{minutes:02d} as a base-60 number; "
            f'write "{hours:02d}:{minutes:02d}")',
        )
    if not isinstance(value, str):
        raise _sub("", f'expected a local time such as "06:00", got {_describe(value)}')
    hh, sep, mm = value.partition(":")
    if not (sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()):
        raise _sub("", f'expected a local time HH:MM such as "06:00", got {_short.repr(value)}')
    if int(hh) > 24 or int(mm) > 59 or (int(hh) == 24 and mm != "00"):
        raise _sub("", f"expected a time between 00:00 and 24:00, got {_short.repr(value)}")
    if mm != "00":
        raise _sub(
            "",
            f'expected a whole hour such as "{hh}:00", got {_short.repr(value)}: compliance '
            "is judged hour by hour",
        )
    return value


def _provider_list(value: Any) -> Any:
    """``all``, or a non-empty list of distinct provider ids."""
    if value == "all":
        return value
    if not isinstance(value, list | tuple) or not value:
        raise _sub(
            "", f"expected 'all' or a non-empty list of provider ids, got {_describe(value)}"
        )
    seen: set[str] = set()
    for i, pid in enumerate(value):
        if not isinstance(pid, str) or not PROVIDER_ID_RE.fullmatch(pid):
            raise _sub(
                f"[{i}]", f"expected a provider id ({PROVIDER_ID_RE.pattern}), got {_describe(pid)}"
            )
        if pid in seen:
            raise _sub(f"[{i}]", f"{pid!r} is listed twice; list each provider once")
        seen.add(pid)
    return tuple(value)


def _form_factor(value: str) -> str:
    if value not in FORM_FACTORS:
        hint = " (GBFS 2.x 'scooter' is scooter_standing)" if value == "scooter" else ""
        raise _sub(
            "", f"unknown form factor {_short.repr(value)}{hint}; known: {', '.join(FORM_FACTORS)}"
        )
    return value


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise _sub(f"[{i}]", f"{v!r} is listed twice; list each once")
        seen.add(v)
    return values


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {_short.repr(value)}"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {_short.repr(value)}"


Slug = Annotated[str, Strict(), AfterValidator(_slug)]
ClockTime = Annotated[str, BeforeValidator(_clock)]
FormFactorName = Annotated[str, Strict(), AfterValidator(_form_factor)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AppliesTo(_Strict):
    """Which providers and which vehicles: form factors, or the planner's vehicle modes."""

    providers: Annotated[Literal["all"] | tuple[str, ...], BeforeValidator(_provider_list)]
    form_factors: (
        Annotated[tuple[FormFactorName, ...], Field(min_length=1), AfterValidator(_distinct)] | None
    ) = None
    modes: (
        Annotated[tuple[VehicleMode, ...], Field(min_length=1), AfterValidator(_distinct)] | None
    ) = None

    @model_validator(mode="after")
    def _one_kind(self) -> AppliesTo:
        if (self.form_factors is None) == (self.modes is None):
            raise _sub(
                "",
                "give exactly one of form_factors (GBFS: scooter_standing, bicycle, ...) "
                "or modes (BICYCLE_RENTAL, SCOOTER_RENTAL, CAR_RENTAL)",
            )
        return self

    def covers_provider(self, provider_id: str) -> bool:
        """Whether the rule judges this provider."""
        return self.providers == "all" or provider_id in self.providers

    def form_factor_set(self) -> frozenset[str]:
        """The GBFS form factors whose vehicles the rule counts."""
        if self.form_factors is not None:
            return frozenset(self.form_factors)
        return frozenset().union(*(MODE_FORM_FACTORS[m] for m in self.modes or ()))


class Window(_Strict):
    """Local clock hours [start, end) the rule holds in; end after start, on whole hours."""

    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start == "24:00":
            raise _sub("start", "a window cannot start at 24:00; expected 00:00 to 23:00")
        if self.end_hour <= self.start_hour:
            raise _sub(
                "end",
                f"expected a time after start {self.start}, got {self.end} (a window cannot "
                "span midnight: write two rules)",
            )
        return self

    @property
    def start_hour(self) -> int:
        """First local hour of the window."""
        return int(self.start[:2])

    @property
    def end_hour(self) -> int:
        """The local hour the window ends at (exclusive; 24 for midnight)."""
        return int(self.end[:2])

    def hours(self) -> range:
        """The local hours in the window (e.g. 06:00-22:00 -> 6 .. 21)."""
        return range(self.start_hour, self.end_hour)


class Rule(_Strict):
    """A validated distribution rule (immutable). Build one with `parse_rule` / `validate_rule`."""

    fairtrip_rule: Annotated[int, Strict(), Field(ge=1, le=MAX_VERSION)]
    id: Slug
    version: Annotated[int, BeforeValidator(_version), Field(ge=1, le=MAX_VERSION)]
    name: Annotated[str, Strict(), Field(min_length=1, max_length=200), AfterValidator(_plain(""))]
    description: (
        Annotated[str, Strict(), Field(max_length=4000), AfterValidator(_plain("\n\t"))] | None
    ) = None
    applies_to: AppliesTo
    zone_class: ZoneClass
    min_share: Annotated[float, BeforeValidator(_share)]
    window: Window
    aggregate: Aggregate

    def describe(self) -> str:
        """The rule in one sentence, as a permit would word it."""
        who = (
            "each provider's"
            if self.applies_to.providers == "all"
            else (", ".join(self.applies_to.providers) + "'s")
        )
        what = ", ".join(self.applies_to.form_factors or self.applies_to.modes or ())
        how = "as a daily average" if self.aggregate == "daily_average" else "in every hour"
        return (
            f"at least {self.min_share * 100:g} % of {who} available vehicles ({what}) in "
            f"{self.zone_class} zones, {how} between {self.window.start} and {self.window.end}"
        )

    def canonical_json(self) -> str:
        """Stable JSON (sorted keys, no whitespace, omitted fields left out): storage and hash."""
        data = self.model_dump(mode="json", exclude_none=True)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        """Hex sha256 of `canonical_json` (the document's identity in the store)."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


# -- validation errors -> RuleError ----------------------------------------------------------


def _join(base: str, field: str) -> str:
    if not field:
        return base
    if field.startswith("["):
        return base + field
    return f"{base}.{field}" if base else field


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "literal[", "tuple[")):
            continue  # pydantic's names for a validator or union member, not a field
        else:
            out = _join(out, part)
    return out


_MODELS: Final[Mapping[str, type[BaseModel]]] = {"applies_to": AppliesTo, "window": Window}


def _message(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "rule_detail":
        return str(ctx["message"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        loc = err["loc"]
        model = _MODELS.get(str(loc[0]), Rule) if len(loc) > 1 else Rule
        return "unknown field; expected one of: " + ", ".join(model.model_fields)
    if kind == "too_short":
        return "expected at least one entry, got none"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {_describe(err.get('input'))}"
    return f"{err['msg'][:1].lower()}{err['msg'][1:]}, got {_describe(err.get('input'))}"


def _translate(exc: ValidationError) -> RuleError:
    errors: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        field = _path(tuple(err["loc"]))
        if err["type"] == "rule_detail":
            field = _join(field, str((err.get("ctx") or {}).get("field", "")))
        errors.append((field, _message(err)))
    # pydantic reports a bad union member once per member: keep the first per field
    unique = list(dict.fromkeys(errors))
    field, message = unique[0]
    return RuleError(field, message, errors=unique)


def validate_rule(data: Mapping[str, Any]) -> Rule:
    """A `Rule` from an already parsed document (e.g. a JSON request body), else RuleError."""
    if not isinstance(data, Mapping):
        raise RuleError(
            "", f"expected a mapping at the top level of the document, got {type(data).__name__}"
        )
    declared = data.get("fairtrip_rule")
    if type(declared) is not int or declared not in SUPPORTED_FORMATS:
        supported = ", ".join(str(v) for v in SUPPORTED_FORMATS)
        if "fairtrip_rule" in data:
            message = f"expected fairtrip_rule: {supported}, got {_describe(declared)}"
        else:
            message = f"required field is missing; expected fairtrip_rule: {supported}"
        if "fairtrip_policy" in data:
            message += " (this document is a fare policy: `fairtrip policy validate` reads it)"
        raise RuleError("fairtrip_rule", message)
    try:
        return Rule.model_validate(dict(data))
    except ValidationError as e:
        raise _translate(e) from None


def parse_rule(text: str | bytes, *, format: Literal["yaml", "json", "auto"] = "auto") -> Rule:
    """Parse and validate a rule document; every problem raises `RuleError`.

    ``format="auto"`` reads JSON when the document starts with ``{`` and YAML otherwise.
    Documents over `MAX_DOCUMENT_BYTES`, with duplicate keys, YAML aliases or a top level
    that is not a mapping are refused before validation, as fare policies are.
    """
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise RuleError(
            "", f"the document is {size} bytes; a rule may be at most {MAX_DOCUMENT_BYTES}"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise RuleError(
                "", f"the document is not UTF-8: {e.reason} at byte {e.start}"
            ) from None
    if format not in ("yaml", "json", "auto"):
        raise RuleError("", f"unknown format {format!r}; expected 'yaml', 'json' or 'auto'")
    if format == "auto":
        format = "json" if text.lstrip().startswith("{") else "yaml"
    try:
        data = load_json_document(text) if format == "json" else load_yaml_document(text)
    except RuleError:
        raise
    except PolicyError as e:  # the shared loader speaks of policies; a rule is one too
        raise RuleError(e.field, e.message, errors=e.errors) from None
    return validate_rule(data)


def load_rule(path: Path) -> Rule:
    """The rule document at `path` (RuleError when it is not a valid rule)."""
    return parse_rule(path.read_bytes())


def embedded_rule() -> Rule:
    """The example rule shipped with the embedded city (`EMBEDDED_RULE`)."""
    return load_rule(data_dir() / EMBEDDED_RULE)


def shipped_rules() -> list[Rule]:
    """Every example rule shipped with the embedded city, by id."""
    rules = [load_rule(path) for path in sorted((data_dir() / SHIPPED_RULES_DIR).glob("*.yaml"))]
    return sorted(rules, key=lambda r: r.id)


# -- compliance ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HourShare:
    """One window hour of one day: its samples and the provider's share in the rule's class.

    `status`: ``met`` / ``missed`` the rule's `min_share`; ``no_data`` when the history holds
    no sample of the provider in that hour; ``no_vehicles`` when it does but none of them has
    an available vehicle of the rule's types (the share is undefined, never a pass).
    """

    hour: int
    samples: int
    #: mean share over the samples with vehicles (None without any)
    share: float | None
    status: HourStatus
    #: the exact share, for comparisons (floats are only for display)
    exact: Fraction | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "hour": f"{self.hour:02d}:00",
            "samples": self.samples,
            "share": None if self.share is None else round(self.share, 6),
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class DayCompliance:
    """One provider's compliance with one rule on one local day.

    `value` is the daily average of the hourly shares (``daily_average``) or the lowest
    hourly share (``every_hour``), over the hours with a share; None when no hour has one.
    """

    rule_id: str
    rule_version: int
    provider_id: str
    day: dt.date
    timezone: str
    aggregate: str
    zone_class: str
    min_share: float
    value: float | None
    verdict: Verdict
    hours: tuple[HourShare, ...]

    @property
    def compliant(self) -> bool:
        """True only for a day with data in every window hour that meets the rule."""
        return self.verdict == "compliant"

    @property
    def failed_hours(self) -> tuple[int, ...]:
        """Window hours whose share is below `min_share`."""
        return tuple(h.hour for h in self.hours if h.status == "missed")

    @property
    def hours_without_data(self) -> tuple[int, ...]:
        """Window hours with no share (no sample, or no vehicle of the rule's types)."""
        return tuple(h.hour for h in self.hours if h.share is None)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready mapping (hours as "HH:00" local times)."""
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "provider_id": self.provider_id,
            "day": self.day.isoformat(),
            "timezone": self.timezone,
            "aggregate": self.aggregate,
            "zone_class": self.zone_class,
            "min_share": self.min_share,
            "value": None if self.value is None else round(self.value, 6),
            "verdict": self.verdict,
            "compliant": self.compliant,
            "failed_hours": [f"{h:02d}:00" for h in self.failed_hours],
            "hours_without_data": [f"{h:02d}:00" for h in self.hours_without_data],
            "hours": [h.to_json() for h in self.hours],
        }


def _exact(value: float) -> Fraction:
    """The decimal a document wrote (0.2 is 1/5, not the float nearest to it)."""
    return Fraction(repr(value))


def _day_hours(day: dt.date, window: Window, tz: dt.tzinfo) -> list[int]:
    """The window's local hours that exist on `day` (a spring-forward hour does not)."""
    hours = []
    for hour in window.hours():
        wall = dt.datetime(day.year, day.month, day.day, hour, tzinfo=tz)
        back = wall.astimezone(dt.UTC).astimezone(tz)
        if back.replace(tzinfo=None) == wall.replace(tzinfo=None):
            hours.append(hour)
    return hours


def _sample_shares(
    rule: Rule,
    samples: Iterable[ZoneSample],
    zone_class: Mapping[str, str],
    *,
    provider_id: str,
    day: dt.date,
    tz: dt.tzinfo,
) -> dict[int, list[tuple[int, int]]]:
    """Local hour -> (vehicles in the rule's class, all vehicles) per sample time that day."""
    form_factors = rule.applies_to.form_factor_set()
    # sample time -> [in class, all]
    counts: dict[int, list[int]] = {}
    for s in samples:
        if s.provider_id != provider_id:
            continue
        tally = counts.setdefault(s.sampled_at_s, [0, 0])  # a sampled time, even without vehicles
        if s.vehicle_type_id == "" or s.form_factor not in form_factors:
            continue
        tally[1] += s.vehicles
        if zone_class.get(s.zone_id) == rule.zone_class:
            tally[0] += s.vehicles
    by_hour: dict[int, list[tuple[int, int]]] = {}
    for at_s, (inside, total) in sorted(counts.items()):
        local = dt.datetime.fromtimestamp(at_s, tz)
        if local.date() == day:
            by_hour.setdefault(local.hour, []).append((inside, total))
    return by_hour


def _hour_share(hour: int, counts: Sequence[tuple[int, int]], threshold: Fraction) -> HourShare:
    shares = [Fraction(inside, total) for inside, total in counts if total > 0]
    if not counts:
        return HourShare(hour, 0, None, "no_data")
    if not shares:
        return HourShare(hour, len(counts), None, "no_vehicles")
    exact = sum(shares, Fraction(0)) / len(shares)
    status: HourStatus = "met" if exact >= threshold else "missed"
    return HourShare(hour, len(counts), float(exact), status, exact)


def compliance(
    rule: Rule,
    samples: Iterable[ZoneSample],
    zones: ServiceZones,
    *,
    provider_id: str,
    day: dt.date,
    tz: dt.tzinfo,
) -> DayCompliance:
    """How `provider_id` did against `rule` on the local `day` (module docstring).

    `samples` may hold other providers and other days: only the provider's samples taken
    on `day` (local, in `tz`) inside the rule's window count. A sample's zone is classed
    by `zones`; a zone id `zones` does not know counts toward the total only.

    Raises
    ------
    RuleNotApplicableError
        The rule names providers and `provider_id` is not one of them.
    """
    if not rule.applies_to.covers_provider(provider_id):
        raise RuleNotApplicableError(rule.id, provider_id)
    zone_class = {z.zone_id: z.zone_class for z in zones.zones}
    by_hour = _sample_shares(rule, samples, zone_class, provider_id=provider_id, day=day, tz=tz)
    threshold = _exact(rule.min_share)
    hours = tuple(
        _hour_share(h, by_hour.get(h, ()), threshold) for h in _day_hours(day, rule.window, tz)
    )
    exact = [h.exact for h in hours if h.exact is not None]
    complete = len(exact) == len(hours)
    if rule.aggregate == "every_hour":
        value = min(exact) if exact else None
        if any(h.status == "missed" for h in hours):
            verdict: Verdict = "not_compliant"
        else:
            verdict = "compliant" if complete else "incomplete"
    else:
        value = sum(exact, Fraction(0)) / len(exact) if exact else None
        if not complete or value is None:
            verdict = "incomplete"
        else:
            verdict = "compliant" if value >= threshold else "not_compliant"
    return DayCompliance(
        rule_id=rule.id,
        rule_version=rule.version,
        provider_id=provider_id,
        day=day,
        timezone=str(tz),
        aggregate=rule.aggregate,
        zone_class=rule.zone_class,
        min_share=rule.min_share,
        value=None if value is None else float(value),
        verdict=verdict,
        hours=hours,
    )
