"""Canonical, deterministic JSON for `FleetSnapshot`: the bytes the store keeps and hashes.

Canonical means one snapshot has exactly one encoding: keys sorted, no whitespace, floats in
their shortest round-trip form, every field written. So equal snapshots give equal bytes, the
store's `digest()` can prove hostile input changed nothing, and `decode(encode(s)) == s`.

msgspec does the work from the model's own dataclasses and type hints, so an additive change
to `providers.model` needs nothing here. It validates types while decoding but not while
encoding (and writes NaN as null), so `encode_snapshot` decodes its own output again, which
refuses a string latitude, and demands the same values back, which refuses a NaN: both before
any write. GeoJSON geometry decodes to plain dicts and lists.

Codec 2 (msgspec) writes fields equal to their default, which codec 1 left out; a codec-1
blob still in Redis is refused like any unreadable blob, and its provider reappears with its
next push or poll.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from providers.model import FleetSnapshot

#: bump when the encoding changes; decoders refuse other versions
CODEC_VERSION: Literal[2] = 2


class CodecError(ValueError):
    """A value does not fit the model's types, or a blob is not a snapshot of this codec."""


@dataclass(frozen=True, slots=True)
class _Blob:
    """What one stored blob holds: the codec version, then the snapshot."""

    codec: Literal[2]
    snapshot: FleetSnapshot


def _plain_number(value: object) -> int | float:
    """A numpy number (what arrays hand out) as the Python number it stands for."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


_ENCODER = msgspec.json.Encoder(enc_hook=_plain_number, order="sorted")
_DECODER = msgspec.json.Decoder(_Blob)


def encode_snapshot(snapshot: FleetSnapshot) -> bytes:
    """The canonical UTF-8 JSON of `snapshot` (raises CodecError on ill-typed values).

    The checked copy is what gets written, so an int where the model says float is stored as
    that float and `Vehicle(lat=60)` and `Vehicle(lat=60.0)` give the same bytes.
    """
    if type(snapshot) is not FleetSnapshot:
        raise CodecError(f"expected FleetSnapshot, got {type(snapshot).__name__}")
    try:
        checked = _DECODER.decode(_ENCODER.encode(_Blob(CODEC_VERSION, snapshot)))
    except (TypeError, msgspec.MsgspecError) as e:  # TypeError: a type JSON has no form for
        raise CodecError(f"snapshot is not encodable: {e}") from e
    if not _same_values(checked.snapshot, snapshot):
        raise CodecError(
            "snapshot holds a non-finite number (JSON would write null) or a list where the "
            "model has a tuple"
        )
    return _ENCODER.encode(checked)


def _same_values(decoded: FleetSnapshot, original: FleetSnapshot) -> bool:
    """True when decoding gave back the values that were encoded (a NaN comes back as None).

    GeoJSON geometry is free-form, so its tuples come back as lists: `geofencing` alone is
    compared again as plain lists, dicts and numbers when plain equality fails.
    """
    for f in dataclasses.fields(FleetSnapshot):
        back, sent = getattr(decoded, f.name), getattr(original, f.name)
        if back != sent and (f.name != "geofencing" or _plain(back) != _plain(sent)):
            return False
    return True


def _plain(value: object) -> Any:
    """`value` as plain lists, dicts and numbers (msgpack, unlike JSON, keeps a NaN a NaN)."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(value, enc_hook=_plain_number))


def decode_snapshot(blob: bytes | str) -> FleetSnapshot:
    """The snapshot encoded in `blob` (raises CodecError if it is not one)."""
    try:
        return _DECODER.decode(blob).snapshot
    except msgspec.DecodeError as e:
        raise CodecError(f"blob is not a codec-{CODEC_VERSION} snapshot: {e}") from e
