"""Typed errors of the providers package.

Each subclasses the builtin it is closest to and carries what was wrong, so the API can turn
it into a precise 4xx (or 503) without parsing messages.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class of every error the providers package raises."""


class FeedError(ProviderError, ValueError):
    """A GBFS feed (or one file of it) is malformed, inconsistent or hostile.

    `file` is the GBFS file name (e.g. `station_status`), `path` a JSON-pointer-like location
    inside it (e.g. `/data/stations/3/lat`), empty when the problem is the whole file.
    """

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file = file
        self.path = path
        self.message = message
        where = f"{file}{path}" if path else file
        super().__init__(f"{where}: {message}")


class OutsideServiceAreaError(FeedError):
    """Not one station or vehicle of a feed lies inside the server's service area.

    `area` names the area and its bounds; `example` is one offending item and where it is.
    """

    def __init__(self, file: str, path: str, area: str, example: str) -> None:
        self.area = area
        self.example = example
        super().__init__(
            file,
            path,
            f"no station or vehicle of this feed lies inside the service area {area}; "
            f"for example {example}",
        )


class UnsafeUrlError(ProviderError, ValueError):
    """A feed URL (or a redirect target) is not allowed: scheme, or a private/loopback host."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"refusing to fetch {url!r}: {reason}")


class FetchError(ProviderError, OSError):
    """A feed could not be fetched: timeout, HTTP status, too large, bad content."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"fetching {url!r} failed: {reason}")


class StoreUnavailableError(ProviderError, ConnectionError):
    """The availability store cannot accept writes now; retry after `retry_after_s`."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        self.reason = reason
        self.retry_after_s = retry_after_s
        super().__init__(f"availability store unavailable ({reason}); retry in {retry_after_s} s")


class UnknownProviderError(ProviderError, KeyError):
    """No provider with this id is registered."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id
        super().__init__(f"no provider {provider_id!r}")

    def __str__(self) -> str:
        return f"no provider {self.provider_id!r}"


class NoStreetGraphError(ProviderError, ValueError):
    """A network lacks the street graph synthetic fleets are placed on (compiled without OSM)."""

    def __init__(self, profile: str, profiles: list[str]) -> None:
        self.profile = profile
        self.profiles = profiles
        super().__init__(
            f"network has no {profile!r} street graph (profiles: {profiles}); "
            "synthetic fleets need OSM streets"
        )


class AuthError(ProviderError, PermissionError):
    """A credential is missing, wrong, revoked, or scoped to another provider."""


class UnsafeNameError(ProviderError, ValueError):
    """A display name holds a character that must never be stored or echoed.

    `position` is the 0-based index of the first such character in the name (in code
    points), `char` the character itself, `field` the input it came from.
    """

    def __init__(self, field: str, value: str, position: int, char: str, message: str) -> None:
        self.field = field
        self.value = value
        self.position = position
        self.char = char
        super().__init__(message)
