"""Canonical, deterministic JSON for `FleetSnapshot`: the bytes the store keeps and hashes.

Canonical means one snapshot has exactly one encoding: keys sorted, no whitespace, floats in
Python's shortest round-trip form, fields equal to their default omitted (that also keeps a
100,000-vehicle blob small). So equal snapshots give equal bytes, the store's `digest()` can
prove hostile input changed nothing, and `decode(encode(s)) == s`.

The converters are derived once per model class from its type hints rather than written by
hand, so an additive change to `providers.model` is picked up without touching this module;
encoding is also a type check (a string latitude or a NaN is refused here, before any write).
GeoJSON geometry is JSON already; it decodes to plain dicts and lists.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from providers.model import FleetSnapshot

#: bump when the encoding changes incompatibly; decoders refuse other versions
CODEC_VERSION = 1
#: deepest nesting accepted inside a GeoJSON mapping (real geometry needs about 5)
MAX_GEOJSON_DEPTH = 32

_Fn = Callable[[Any], Any]


class CodecError(ValueError):
    """A value does not fit the model's types, or a blob is not a snapshot of this codec."""


def encode_snapshot(snapshot: FleetSnapshot) -> bytes:
    """The canonical UTF-8 JSON of `snapshot` (raises CodecError on ill-typed values)."""
    enc, _ = _converters(FleetSnapshot)
    doc = {"codec": CODEC_VERSION, "snapshot": enc(snapshot)}
    try:
        text = json.dumps(
            doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as e:
        raise CodecError(f"snapshot is not encodable: {e}") from e
    return text.encode("utf-8")


def decode_snapshot(blob: bytes | str) -> FleetSnapshot:
    """The snapshot encoded in `blob` (raises CodecError if it is not one)."""
    try:
        doc = json.loads(blob)
    except ValueError as e:
        raise CodecError(f"blob is not JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("codec") != CODEC_VERSION or "snapshot" not in doc:
        raise CodecError(f"blob is not a codec-{CODEC_VERSION} snapshot")
    _, dec = _converters(FleetSnapshot)
    snapshot: FleetSnapshot = dec(doc["snapshot"])
    return snapshot


@cache
def _converters(tp: Any) -> tuple[_Fn, _Fn]:
    """(encode, decode) functions for one annotated type, built once and cached."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _optional(tp)
    if origin is tuple:
        return _tuple(tp)
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return _geojson_encode, _geojson_decode
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if tp in (str, int, float, bool):
        return _scalar(tp)
    raise TypeError(f"codec has no converter for {tp!r}")


def _scalar(tp: type) -> tuple[_Fn, _Fn]:
    def check(value: Any) -> Any:
        # bool is an int subclass: refuse it where an int is meant, and vice versa
        if tp is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
            if not math.isfinite(value):
                raise CodecError(f"expected a finite number, got {value!r}")
            return value
        if type(value) is not tp:
            raise CodecError(f"expected {tp.__name__}, got {value!r}")
        return value

    return check, check


def _enum(tp: type[enum.Enum]) -> tuple[_Fn, _Fn]:
    def enc(value: Any) -> Any:
        try:
            return tp(value).value
        except ValueError as e:
            raise CodecError(str(e)) from e

    def dec(value: Any) -> Any:
        try:
            return tp(value)
        except ValueError as e:
            raise CodecError(str(e)) from e

    return enc, dec


def _optional(tp: Any) -> tuple[_Fn, _Fn]:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(args) != 1:
        raise TypeError(f"codec supports only `X | None` unions, not {tp!r}")
    inner_enc, inner_dec = _converters(args[0])

    def enc(value: Any) -> Any:
        return None if value is None else inner_enc(value)

    def dec(value: Any) -> Any:
        return None if value is None else inner_dec(value)

    return enc, dec


def _tuple(tp: Any) -> tuple[_Fn, _Fn]:
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        item_enc, item_dec = _converters(args[0])

        def enc(value: Any) -> Any:
            if not isinstance(value, tuple):
                raise CodecError(f"expected a tuple, got {type(value).__name__}")
            return [item_enc(v) for v in value]

        def dec(value: Any) -> Any:
            if not isinstance(value, list):
                raise CodecError(f"expected a list, got {type(value).__name__}")
            return tuple(item_dec(v) for v in value)

        return enc, dec

    convs = [_converters(a) for a in args]

    def enc_fixed(value: Any) -> Any:
        if not isinstance(value, tuple) or len(value) != len(convs):
            raise CodecError(f"expected a {len(convs)}-tuple, got {value!r}")
        return [c[0](v) for c, v in zip(convs, value, strict=True)]

    def dec_fixed(value: Any) -> Any:
        if not isinstance(value, list) or len(value) != len(convs):
            raise CodecError(f"expected a {len(convs)}-item list, got {value!r}")
        return tuple(c[1](v) for c, v in zip(convs, value, strict=True))

    return enc_fixed, dec_fixed


def _dataclass(cls: type) -> tuple[_Fn, _Fn]:
    hints = typing.get_type_hints(cls)
    # (name, encode, decode, encoded default or a sentinel when the field is required)
    fields: list[tuple[str, _Fn, _Fn, Any]] = []
    required = object()
    for f in dataclasses.fields(cls):
        enc_f, dec_f = _converters(hints[f.name])
        if f.default is not dataclasses.MISSING:
            default = enc_f(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = enc_f(f.default_factory())
        else:
            default = required
        fields.append((f.name, enc_f, dec_f, default))
    names = {f[0] for f in fields}

    def enc(value: Any) -> Any:
        if type(value) is not cls:
            raise CodecError(f"expected {cls.__name__}, got {type(value).__name__}")
        out = {}
        for name, enc_f, _, default in fields:
            try:
                encoded = enc_f(getattr(value, name))
            except CodecError as e:
                raise CodecError(f"{cls.__name__}.{name}: {e}") from None
            if default is required or encoded != default:
                out[name] = encoded
        return out

    def dec(value: Any) -> Any:
        if not isinstance(value, dict) or not value.keys() <= names:
            raise CodecError(f"expected a {cls.__name__} object, got {str(value)[:80]!r}")
        kwargs = {}
        for name, _, dec_f, default in fields:
            if name in value:
                kwargs[name] = dec_f(value[name])
            elif default is required:
                raise CodecError(f"{cls.__name__}.{name} is missing")
        return cls(**kwargs)

    return enc, dec


def _geojson_encode(value: Any, depth: int = 0) -> Any:
    """Plain JSON (dicts with str keys, lists, finite numbers) of a GeoJSON mapping."""
    if depth > MAX_GEOJSON_DEPTH:
        raise CodecError(f"GeoJSON nested deeper than {MAX_GEOJSON_DEPTH}")
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise CodecError("GeoJSON object keys must be strings")
        return {k: _geojson_encode(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_geojson_encode(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"GeoJSON number {value!r} is not finite")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CodecError(f"GeoJSON value of type {type(value).__name__} is not JSON")


def _geojson_decode(value: Any) -> Any:
    if not isinstance(value, dict):
        raise CodecError("GeoJSON geometry must be an object")
    return value
