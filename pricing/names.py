"""Text that reaches people and logs: names free of control characters, sources by file name.

Two rules, both about what an answer may carry:

* A name a planner writes (a policy's ``name``) is shown in the API, the HTML report and the
  server log. A NUL, an ESC (terminal escape sequences) or a bidirectional override (text
  that reads differently from how it is stored, "Trojan Source") in it would let a document
  rewrite what an operator sees, so such characters are refused, naming their position.
* A data source (the demand table, a zone layer) is named by its file name or an id such as
  ``"uploaded CSV"``, never by the server path it was read from: evaluation results and job
  errors are readable without authentication, and a path tells a stranger how the server's
  disk is laid out.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from typing import Final

#: bidirectional embedding, override and isolate controls (Unicode category Cf)
BIDI_CONTROLS: Final[frozenset[str]] = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: short names of the C0 controls people meet most, for messages
_CONTROL_NAMES: Final[dict[str, str]] = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "BS",
    "\t": "TAB",
    "\n": "LF",
    "\r": "CR",
    "\x1b": "ESC",
    "\x7f": "DEL",
}
#: an absolute POSIX path (two or more components) or a Windows drive path, not part of a URL
_ABSOLUTE_PATH: Final[re.Pattern[str]] = re.compile(
    r"(?<![\w.:/\\~-])(?:/[^\s/'\"<>:]+)+/([^\s/'\"<>]+)"
    r"|\b[A-Za-z]:\\(?:[^\s\\'\"<>]+\\)*([^\s\\'\"<>]+)"
)


def forbidden_character(text: str, *, allow: str = "") -> tuple[int, str] | None:
    r"""The first character `text` may not contain, as (0-based index, character), or None.

    Forbidden: Unicode control characters (category Cc: C0, DEL, C1), lone surrogates (Cs,
    which a JSON ``\ud800`` escape can produce), line and paragraph separators (Zl, Zp) and
    the bidirectional controls in `BIDI_CONTROLS` (the same rule as `providers.names` applies
    to provider names). Characters in `allow` are let through (a description may keep its
    line breaks: ``allow="\n\t"``).
    """
    for index, char in enumerate(text):
        if char in allow:
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            return index, char
    return None


def describe_character(char: str) -> str:
    """``U+001B (ESC)`` / ``U+202E (RIGHT-TO-LEFT OVERRIDE)``: a character named for a message."""
    fallback = "lone surrogate" if unicodedata.category(char) == "Cs" else "control character"
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, fallback)
    return f"U+{ord(char):04X} ({name})"


def control_character_message(text: str, *, allow: str = "") -> str | None:
    """Why `text` is refused as a name (naming the character and its position), or None."""
    found = forbidden_character(text, allow=allow)
    if found is None:
        return None
    index, char = found
    return (
        f"contains the control character {describe_character(char)} at position {index} "
        "(0-based); text shown to people and written to logs may not contain control or "
        "bidirectional-override characters"
    )


def source_name(source: str) -> str:
    r"""A data source as an answer may name it: a file path becomes its file name.

    ``/srv/data/od.csv`` -> ``od.csv``; ``C:\data\od.csv`` -> ``od.csv``; an id without a
    path separator (``uploaded CSV``) is returned as it is.
    """
    if "\\" in source:
        return PureWindowsPath(source).name or source
    if "/" in source:
        return PurePosixPath(source).name or source
    return source


def redact_paths(text: str) -> str:
    """`text` with every absolute file path replaced by its file name (URLs are left alone).

    For messages built from exceptions (an evaluation job's error) that may quote a path.
    """
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or m.group(2), text)
