"""The SQL unit of work: one transaction over every repository of :mod:`dsar.services.ports`.

``with uow_factory() as uow: ...; uow.commit()``. Leaving the block without ``commit`` rolls
back, so a crash halfway writes nothing. Build one :class:`SqlUnitOfWorkFactory` per engine
and key provider (at the entry point): its :class:`DataKeyCache` is shared by every unit of
work it opens, so a data key is unwrapped once per process, not once per transaction.
"""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy import Engine
from sqlmodel import Session

from dsar.crypto import BlindIndex, KeyProvider
from dsar.persistence.audit_log import SqlAuditLog
from dsar.persistence.casework import SqlChallenges, SqlDecisions, SqlLetters, SqlPlans, SqlTemplateApprovals
from dsar.persistence.data_keys import SqlDataKeys
from dsar.persistence.deadlines import SqlDeadlines
from dsar.persistence.requests import SqlRequests
from dsar.persistence.sealing import DEFAULT_CACHE_KEYS, DataKeyCache, Sealer
from dsar.persistence.verification import SqlVerificationCases

if TYPE_CHECKING:
    from dsar.persistence.accounts import SqlAccounts, SqlTokens
    from dsar.persistence.alerts import SqlAlerts
    from dsar.persistence.packages import SqlPackages


_LAZY = ("alerts", "accounts", "tokens", "packages")


class SqlUnitOfWork:
    """:class:`dsar.services.ports.UnitOfWork` over one SQLAlchemy session."""

    requests: SqlRequests
    deadlines: SqlDeadlines
    audit: SqlAuditLog
    challenges: SqlChallenges
    cases: SqlVerificationCases
    decisions: SqlDecisions
    plans: SqlPlans
    letters: SqlLetters
    keys: SqlDataKeys
    templates: SqlTemplateApprovals

    def __init__(self, engine: Engine, keys: KeyProvider, index: BlindIndex, cache: DataKeyCache | None = None) -> None:
        self._engine, self._keys, self._index = engine, keys, index
        # Without a shared cache (tests, one-off tools) the keys live as long as this unit of work.
        self._cache = cache if cache is not None else DataKeyCache()
        self._session: Session | None = None

    def __enter__(self) -> Self:
        s = self._session = Session(self._engine, expire_on_commit=False)
        for lazy in _LAZY:  # a unit of work entered again starts with repositories on its new session
            self.__dict__.pop(lazy, None)
        sealer = Sealer(s, self._keys, self._cache)
        self.requests = SqlRequests(s, sealer, self._index)
        self.deadlines = SqlDeadlines(s, sealer)
        self.audit = SqlAuditLog(s, sealer)
        self.challenges = SqlChallenges(s)
        self.cases = SqlVerificationCases(s)
        self.decisions = SqlDecisions(s, sealer)
        self.plans = SqlPlans(s)
        self.letters = SqlLetters(s)
        self.keys = SqlDataKeys(s, sealer)
        self.templates = SqlTemplateApprovals(s)
        return self

    # The repositories of alerts, staff accounts, API tokens and access packages (and their
    # tables) are imported when first used in this unit of work, not by every command that
    # opens one (issue 13, item 8: `request show` builds neither their tables nor their mappers).
    @cached_property
    def alerts(self) -> SqlAlerts:
        from dsar.persistence.alerts import SqlAlerts

        return SqlAlerts(self._open())

    @cached_property
    def accounts(self) -> SqlAccounts:
        from dsar.persistence.accounts import SqlAccounts

        return SqlAccounts(self._open())

    @cached_property
    def tokens(self) -> SqlTokens:
        from dsar.persistence.accounts import SqlTokens

        return SqlTokens(self._open())

    @cached_property
    def packages(self) -> SqlPackages:
        from dsar.persistence.packages import SqlPackages

        return SqlPackages(self._open())

    def _open(self) -> Session:
        assert self._session is not None, "a repository is used outside its unit of work"
        return self._session

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._session is not None
        self._session.rollback()
        self._session.close()
        self._session = None

    def commit(self) -> None:
        assert self._session is not None
        self._session.commit()


class SqlUnitOfWorkFactory:
    """Opens units of work on one engine and key provider, sharing one cache of data keys
    (bounded: ``max_cached_keys``, least recently used first out)."""

    def __init__(self, engine: Engine, keys: KeyProvider, index: BlindIndex, *, max_cached_keys: int = DEFAULT_CACHE_KEYS) -> None:
        self.engine, self.keys, self.index = engine, keys, index
        self.cache = DataKeyCache(max_cached_keys)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.keys, self.index, self.cache)


if TYPE_CHECKING:
    from dsar.services import ports

    def _implements_the_ports(f: SqlUnitOfWorkFactory) -> ports.UnitOfWorkFactory:
        """mypy checks here that every repository has exactly the port's methods."""
        return f
