"""Reading a stored record that was damaged or tampered with.

A flipped byte in a sealed column fails AES-GCM's check (the crypto layer raises
:class:`~dsar.domain.errors.IntegrityError`); an edited plain column fails later, as a
``ValueError`` of an enum or a date, a ``KeyError`` or ``TypeError`` of a JSON document of the
wrong shape. At this boundary both become one :class:`IntegrityError` naming the record (its
reference, an audit event's place): never its contents, which may be personal data, and never
the raw exception's text, which may quote them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import select as sa_select
from sqlmodel import Session

from dsar.domain.errors import IntegrityError
from dsar.persistence.tables import RequestRow

# What reading a damaged row raises besides IntegrityError (json.JSONDecodeError and
# UnicodeDecodeError are ValueErrors).
DAMAGE: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError, AttributeError, OverflowError)
READ_FAILURES: tuple[type[Exception], ...] = (IntegrityError, *DAMAGE)
SUFFIX = "was damaged or tampered with"


@contextmanager
def intact(record: str | Callable[[], str]) -> Iterator[None]:
    """Read ``record`` (a name, or a function giving it, called only on failure)."""
    try:
        yield
    except IntegrityError as exc:
        if SUFFIX in str(exc):
            raise
        raise IntegrityError(f"{_name(record)} {SUFFIX}: {exc}") from None
    except DAMAGE as exc:
        raise IntegrityError(f"{_name(record)} {SUFFIX}: a stored value cannot be read ({type(exc).__name__})") from None


def _name(record: str | Callable[[], str]) -> str:
    return record if isinstance(record, str) else record()


def request_name(session: Session, request_id: str) -> str:
    """``request DSR-2026-000123`` read from the reference column alone (it is plain text, so a
    damaged date or enum elsewhere in the row does not stop it); the id if even that fails."""
    r = RequestRow.__table__.c  # type: ignore[attr-defined]
    try:
        found = session.connection().execute(sa_select(r.reference).where(r.id == request_id)).scalar_one_or_none()
    except Exception:  # noqa: BLE001 - naming the record must not fail in its turn
        found = None
    return f"request {found}" if isinstance(found, str) and found else f"request with id {request_id}"
