"""The one error hierarchy of dsar.

Every error the engine raises on purpose derives from :class:`DsarError`. Messages never
contain personal data: they name fields, references and codes, never the values a subject gave.

::

    DsarError
    ├── InvalidInput                 bad input from a person or a file (CLI exit code 2)
    │   ├── UnknownRegime
    │   ├── UnknownRequestType
    │   └── UnknownJurisdiction
    ├── NotFound                     no such request, template, system
    ├── TransitionNotAllowed         a move the status table does not allow
    ├── ConfigurationError           settings, key file or data map unusable
    ├── IntegrityError               ciphertext, token or log failed its integrity check
    ├── VerificationFailed           a wrong, expired or reused one-time code
    ├── LoginRefused                 a staff login refused (one message, whatever failed)
    ├── TokenRefused                 an API token unknown or revoked
    ├── ScopeMissing                 an API token without the scope an action needs
    └── ConnectorError               a connected system failed
        ├── RetryableConnectorError  worth trying again (timeouts, 429, 5xx, locks)
        └── PermanentConnectorError  trying again will not help (bad config, missing table)

Only flows map these to retry or fail; services and adapters raise them and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence


class DsarError(Exception):
    """Base of every error raised on purpose by dsar."""


class InvalidInput(DsarError):
    """Input that cannot be accepted. ``problems`` lists each one as ``field: message``."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems)

    def __str__(self) -> str:
        base = super().__str__()
        if not self.problems:
            return base
        return base + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class UnknownRegime(InvalidInput):
    """A regime code that is not one of the supported codes."""


class UnknownRequestType(InvalidInput):
    """A request type the regime does not provide."""


class UnknownJurisdiction(InvalidInput):
    """A country or subdivision that does not fit the regime."""


class NotFound(DsarError):
    """The thing asked for does not exist."""


class TransitionNotAllowed(DsarError):
    """A status move that the transition table does not allow from the current status."""


class ConfigurationError(DsarError):
    """Settings, key material or the data map cannot be used as configured."""


class PackageLinkRefused(DsarError):
    """A new access-package link was not issued: the request has no package, its package was
    deleted (retention), or its new links are used up. The message says which."""


class DownloadStopped(DsarError):
    """A package download reached its end after its link was spent by another download,
    replaced or deleted: its last bytes were withheld (nothing recorded as downloaded)."""


class IntegrityError(DsarError):
    """Ciphertext, a token or a log entry failed its integrity check (tampered or corrupt)."""


class VerificationFailed(DsarError):
    """A one-time code that is wrong, expired, already used or tried too often."""


class DeliveryFailed(DsarError):
    """A letter could not be handed to the mail transport. The message names the letter and
    why in words that carry no address or other personal data; the request is held with it."""


class LoginRefused(DsarError):
    """A staff login refused: wrong name or password, locked or deactivated account. One
    message whatever failed, so that it tells nothing about which accounts exist."""

    def __init__(self, message: str = "the name or password is not right, or the account is locked") -> None:
        super().__init__(message)


class TokenRefused(DsarError):
    """An API token that is unknown or revoked (HTTP 401)."""


class ScopeMissing(DsarError):
    """An API token without the scope the action needs (HTTP 403)."""


class ConnectorError(DsarError):
    """A connected system failed. ``system`` names the system, never a subject."""

    def __init__(self, system: str, message: str) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system


class RetryableConnectorError(ConnectorError):
    """A failure worth retrying: timeout, throttling, server error, lock."""


class PermanentConnectorError(ConnectorError):
    """A failure retrying will not cure: bad configuration, missing table, refused access."""
