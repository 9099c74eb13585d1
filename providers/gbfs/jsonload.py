"""Safe JSON loading for pushed and polled GBFS files: the first line of the "bad input" wall.

`json.loads` alone accepts things a feed must not contain (`NaN`, `Infinity`, duplicate keys
where the last one silently wins, `1e999` turned into infinity) and recurses in C, so a body
of 10,000 nested brackets raises `RecursionError`. Here every such input becomes a
`FeedError`: the size is capped before decoding, the nesting depth is measured on the bytes
(with string contents blanked out) before parsing, and the parser hooks reject the rest.
Numbers with a fraction or exponent are parsed as `Decimal`, so prices convert exactly.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NoReturn

import numpy as np

from providers.errors import FeedError

#: Largest file accepted, in bytes (a big city's free-floating fleet is a few MB).
MAX_FILE_BYTES: Final = 20 * 1024 * 1024
#: Deepest nesting of arrays/objects accepted; GeoJSON MultiPolygons need 6 below `data`.
MAX_DEPTH: Final = 32

#: A complete JSON string literal (possessive, so it never backtracks).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
#: bytes -> +1 for an opening bracket, -1 (255 as int8) for a closing one, 0 otherwise.
_DEPTH_TABLE = bytes(1 if c in b"[{" else (255 if c in b"]}" else 0) for c in range(256))


class _RejectError(Exception):
    """Raised inside the parser hooks; turned into a `FeedError` by `load_json`."""


def _reject_constant(name: str) -> NoReturn:
    raise _RejectError(f"{name} is not valid JSON (GBFS numbers must be finite)")


def _parse_float(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the scanner only passes numbers
        raise _RejectError(f"bad number {text[:40]!r}") from exc
    if not number.is_finite():  # pragma: no cover - the scanner never yields these here
        raise _RejectError(f"number {text[:40]!r} is not finite")
    return number


def _parse_binary_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400 overflows to inf: refuse rather than pass it on
        raise _RejectError(f"number {text[:40]!r} is too large")
    return number


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _RejectError(f"duplicate key {key[:80]!r} in one JSON object")
        obj[key] = value
    return obj


def nesting_depth(raw: bytes) -> int:
    """Deepest bracket nesting in `raw`, ignoring brackets inside string literals.

    Runs in C (regex + numpy), so a hostile 20 MB body is measured in milliseconds and
    nothing recursive ever sees it.
    """
    skeleton = _STRING.sub(b'""', raw).translate(_DEPTH_TABLE)
    if not skeleton:
        return 0
    steps = np.frombuffer(skeleton, dtype=np.int8)
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def load_json(file: str, raw: bytes, *, exact_numbers: bool = True) -> Any:
    """Parse one GBFS file body into plain Python values (`int`, `Decimal`, `str`, ...).

    `exact_numbers=False` reads decimals as (finite) floats instead, for a caller that only
    splits a document and re-encodes its parts for the real parse (the push envelope).

    Raises
    ------
    FeedError
        For anything but a reasonably sized, reasonably nested, strictly valid UTF-8 JSON
        document without non-finite numbers or duplicate keys.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise FeedError(file, "", f"expected the file body as bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) > MAX_FILE_BYTES:
        raise FeedError(
            file, "", f"body is {len(raw)} bytes; at most {MAX_FILE_BYTES} bytes are accepted"
        )
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is noise, not content
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError(file, "", f"invalid UTF-8 at byte {exc.start}: {exc.reason}") from None
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise FeedError(file, "", f"JSON nesting depth {depth} exceeds the limit of {MAX_DEPTH}")
    try:
        return json.loads(
            text,
            parse_float=_parse_float if exact_numbers else _parse_binary_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
        )
    except _RejectError as exc:
        raise FeedError(file, "", str(exc)) from None
    except json.JSONDecodeError as exc:
        raise FeedError(
            file, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        # int() refuses numbers with more than 4300 digits; recursion is guarded above but
        # a FeedError is the only thing this function may raise for bad input.
        raise FeedError(file, "", f"invalid JSON: {str(exc)[:120]}") from None
