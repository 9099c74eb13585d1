"""Provider display names: refuse characters that must never be stored or echoed.

A name is shown in API answers, logs, terminals and HTML reports. A NUL truncates it in C
libraries and some databases, an ESC starts a terminal escape sequence (a log line that
rewrites the operator's screen), a right-to-left override (U+202E) makes
``Acme<U+202E>gnp.exe`` read as ``Acmeexe.png``, and a line separator forges extra log
lines. None of them belongs in a name, so they are refused at the door with the position of
the first one, rather than stripped (stripping would store something the caller did not
send).

The rule itself (Unicode Cc, Cs, Zl, Zp and the bidirectional controls; other format
characters such as the zero-width joiner of emoji sequences stay allowed) is written once,
in `pricing.names.forbidden_character`, and shared with policy names; this module turns it
into the providers package's typed error.
"""

from __future__ import annotations

from pricing.names import describe_character, forbidden_character
from providers.errors import UnsafeNameError


def check_display_name(value: str, *, field: str = "name") -> str:
    """Return `value` unchanged if it holds no refused character, else raise UnsafeNameError.

    The error (a ValueError, so pydantic validators turn it into a 422 on their own) names
    the field, the character's code point and its 0-based position.
    """
    found = forbidden_character(value)
    if found is not None:
        position, char = found
        raise UnsafeNameError(
            field,
            value,
            position,
            char,
            f"{field}: contains {describe_character(char)} at position {position} (0-based); "
            "names may not contain control, bidirectional-override or separator characters",
        )
    return value
