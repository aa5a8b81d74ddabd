"""The accounts and API-token repositories' contract (:class:`dsar.services.ports.AccountRepository`,
:class:`dsar.services.ports.TokenRepository`) and the staff stream of the audit log, over the
in-memory implementation and SQL on SQLite and PostgreSQL (``uow_factory`` in conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from dsar.audit.chain import first_broken
from dsar.domain.accounts import Role, TokenScope
from dsar.domain.errors import IntegrityError, InvalidInput, NotFound
from dsar.domain.events import STAFF_STREAM, StaffAccountAdded, StaffLoggedIn
from dsar.domain.lockout import CodeFailures
from dsar.services.ports import TotpRecord, UnitOfWorkFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def instant(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def test_an_account_is_added_found_whatever_the_case_and_listed_by_name(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        b = uow.accounts.add("bob", Role.SUPPORT, T0)
        a = uow.accounts.add("Alice.Smith", Role.ADMIN, T0)
        uow.commit()
    with uow_factory() as uow:
        found = uow.accounts.find("alice.smith")
        assert found is not None and found.id == a.id and found.name == "Alice.Smith"
        assert found.role is Role.ADMIN and found.active and not found.password_set
        assert found.session_epoch == 0 and found.failed_logins == 0 and found.locked_until is None
        assert instant(found.created_at) == T0
        assert uow.accounts.get(b.id) == uow.accounts.find("BOB")
        assert uow.accounts.find("carol") is None
        assert uow.accounts.get(9999) is None
        assert [x.name for x in uow.accounts.all()] == ["Alice.Smith", "bob"]


def test_a_name_taken_in_another_case_is_refused_and_nothing_is_stored(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.accounts.add("alice", Role.ADMIN, T0)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            uow.accounts.add("ALICE", Role.SUPPORT, T0)
    with uow_factory() as uow:
        assert [x.role for x in uow.accounts.all()] == [Role.ADMIN]


def test_save_stores_the_mutable_parts_only(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        a = uow.accounts.add("alice", Role.SUPPORT, T0)
        later = T0 + timedelta(hours=1)
        uow.accounts.save(
            replace(
                a,
                name="mallory",
                role=Role.LEGAL,
                active=False,
                failed_logins=3,
                locked_until=later,
                last_login_at=later,
                trained_on=date(2026, 1, 5),
                session_epoch=4,
                password_set=True,
            )
        )
        uow.commit()
    with uow_factory() as uow:
        got = uow.accounts.get(a.id)
        assert got is not None
        assert got.name == "alice" and not got.password_set
        assert (got.role, got.active, got.failed_logins, got.trained_on, got.session_epoch) == (Role.LEGAL, False, 3, date(2026, 1, 5), 4)
        assert instant(got.locked_until) == later and instant(got.last_login_at) == later
        with pytest.raises(NotFound):
            uow.accounts.save(replace(got, id=9999))


def test_a_password_hash_is_stored_and_marks_the_password_set(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        a = uow.accounts.add("alice", Role.SUPPORT, T0)
        assert uow.accounts.password_hash(a.id) is None
        uow.accounts.set_password_hash(a.id, "scrypt$15$8$1$salt$hash")
        uow.commit()
    with uow_factory() as uow:
        assert uow.accounts.password_hash(a.id) == "scrypt$15$8$1$salt$hash"
        got = uow.accounts.get(a.id)
        assert got is not None and got.password_set
        with pytest.raises(NotFound):
            uow.accounts.set_password_hash(9999, "x")


def test_a_new_password_token_replaces_the_accounts_earlier_ones_and_is_used_once(uow_factory: UnitOfWorkFactory) -> None:
    exp = T0 + timedelta(hours=72)
    with uow_factory() as uow:
        a = uow.accounts.add("alice", Role.SUPPORT, T0)
        b = uow.accounts.add("bob", Role.SUPPORT, T0)
        uow.accounts.add_password_token(a.id, "a" * 64, T0, exp)
        uow.accounts.add_password_token(b.id, "b" * 64, T0, exp)
        uow.accounts.add_password_token(a.id, "c" * 64, T0, exp)
        uow.commit()
    with uow_factory() as uow:
        assert uow.accounts.password_token("a" * 64) is None
        assert uow.accounts.password_token("b" * 64) is not None
        t = uow.accounts.password_token("c" * 64)
        assert t is not None and t.account_id == a.id and instant(t.expires_at) == exp and t.used_at is None
        uow.accounts.use_password_token("c" * 64, T0 + timedelta(hours=1))
        uow.commit()
    with uow_factory() as uow:
        t = uow.accounts.password_token("c" * 64)
        assert t is not None and instant(t.used_at) == T0 + timedelta(hours=1)
        with pytest.raises(NotFound):
            uow.accounts.use_password_token("d" * 64, T0)


def test_api_tokens_are_added_found_by_prefix_touched_and_revoked(uow_factory: UnitOfWorkFactory) -> None:
    scopes = frozenset({TokenScope.REQUESTS_READ, TokenScope.REQUESTS_WRITE})
    with uow_factory() as uow:
        t1 = uow.tokens.add("helpdesk", scopes, "dsar_AAAAAAAA", "1" * 64, T0, "cli:ops")
        t2 = uow.tokens.add("crm", frozenset({TokenScope.REQUESTS_READ}), "dsar_BBBBBBBB", "2" * 64, T0, "cli:ops")
        uow.commit()
    with uow_factory() as uow:
        got = uow.tokens.get(t1.id)
        assert got is not None and got.name == "helpdesk" and got.scopes == scopes and got.prefix == "dsar_AAAAAAAA"
        assert got.created_by == "cli:ops" and got.active and got.last_used_at is None
        assert [(t.id, d) for t, d in uow.tokens.with_prefix("dsar_BBBBBBBB")] == [(t2.id, "2" * 64)]
        assert uow.tokens.with_prefix("dsar_CCCCCCCC") == []
        assert [t.id for t in uow.tokens.all()] == [t1.id, t2.id]
        uow.tokens.touch(t1.id, T0 + timedelta(minutes=5))
        uow.tokens.revoke(t2.id, T0 + timedelta(minutes=6))
        uow.commit()
    with uow_factory() as uow:
        a, b = uow.tokens.get(t1.id), uow.tokens.get(t2.id)
        assert a is not None and instant(a.last_used_at) == T0 + timedelta(minutes=5) and a.active
        assert b is not None and instant(b.revoked_at) == T0 + timedelta(minutes=6) and not b.active
        assert uow.tokens.get(9999) is None
        with pytest.raises(NotFound):
            uow.tokens.revoke(9999, T0)
        with pytest.raises(IntegrityError):
            uow.tokens.add("again", scopes, "dsar_AAAAAAAA", "1" * 64, T0, "cli:ops")


def test_staff_events_are_chained_in_their_own_stream_whose_key_is_made_on_first_use(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.audit.events(STAFF_STREAM) == []
        n = uow.audit.append(
            [
                StaffAccountAdded(STAFF_STREAM, T0, "e1", "alice", "admin", "cli:ops"),
                StaffLoggedIn(STAFF_STREAM, T0, "e2", "alice", "127.0.0.1"),
                StaffLoggedIn(STAFF_STREAM, T0, "e3", "alice", "127.0.0.1"),  # same instant: a second event
            ]
        )
        uow.commit()
    assert n == 3
    with uow_factory() as uow:
        uow.audit.append([StaffLoggedIn(STAFF_STREAM, T0, "e4", "alice", "10.0.0.1")])  # the key exists now
        uow.commit()
    with uow_factory() as uow:
        events = uow.audit.events(STAFF_STREAM)
        assert [e.kind for e in events] == ["StaffAccountAdded", "StaffLoggedIn", "StaffLoggedIn", "StaffLoggedIn"]
        assert events[0].details == {"account": "alice", "role": "admin", "by": "cli:ops"}
        assert events[3].details == {"account": "alice", "source": "10.0.0.1"}
        assert first_broken(list(uow.audit.iter_chain())) is None
        # The stream is no request: never a candidate for shredding.
        assert uow.requests.shred_candidates(T0 + timedelta(days=10_000)) == []


def test_lock_reads_the_account_as_get_does(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        a = uow.accounts.add("alice", Role.SUPPORT, T0)
        uow.commit()
    with uow_factory() as uow:
        assert uow.accounts.lock(a.id) == uow.accounts.get(a.id) and uow.accounts.lock(9999) is None


def test_parallel_failed_logins_of_one_account_are_all_counted(uow_factory: UnitOfWorkFactory) -> None:
    """Each unit of work locks the account, adds one failure and commits; none is lost."""
    from concurrent.futures import ThreadPoolExecutor

    with uow_factory() as uow:
        a = uow.accounts.add("alice", Role.SUPPORT, T0)
        uow.commit()

    def fail_once(_: int) -> None:
        with uow_factory() as uow:
            got = uow.accounts.lock(a.id)
            assert got is not None
            uow.accounts.save(replace(got, failed_logins=got.failed_logins + 1))
            uow.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fail_once, range(8)))
    with uow_factory() as uow:
        got = uow.accounts.get(a.id)
        assert got is not None and got.failed_logins == 8


def test_an_authenticator_is_stored_sealed_under_the_staff_key_and_its_used_step_kept(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        a = uow.accounts.add("lena", Role.LEGAL, T0)
        other = uow.accounts.add("otto", Role.LEGAL, T0)
        assert uow.accounts.totp(a.id) is None and not a.totp_enrolled
        with pytest.raises(InvalidInput):
            uow.accounts.use_totp_step(a.id, 5)
        uow.audit.append([StaffAccountAdded(STAFF_STREAM, T0, "e1", "lena", "legal", "test")])  # makes the staff key
        sealed = uow.keys.seal(STAFF_STREAM, b"twenty-byte-secret!!", "staff-totp/1")
        uow.accounts.set_totp(a.id, sealed)
        uow.commit()
    with uow_factory() as uow:
        record = uow.accounts.totp(a.id)
        assert record is not None and record.sealed_secret == sealed and record.last_step is None
        assert uow.keys.open(STAFF_STREAM, record.sealed_secret, "staff-totp/1") == b"twenty-byte-secret!!"
        found = uow.accounts.find("LENA")
        assert found is not None and found.totp_enrolled
        assert uow.accounts.totp(other.id) is None
        uow.accounts.use_totp_step(a.id, 59_000_000)
        uow.commit()
    with uow_factory() as uow:
        assert uow.accounts.totp(a.id) == TotpRecord(sealed, 59_000_000)
        # a new enrolment forgets the last step; saving the account's other parts keeps it
        uow.accounts.save(replace(uow.accounts.get(a.id), failed_logins=1))  # type: ignore[type-var]
        uow.accounts.set_totp(a.id, sealed + b"x")
        uow.commit()
    with uow_factory() as uow:
        assert uow.accounts.totp(a.id) == TotpRecord(sealed + b"x", None)
        # wrong codes and a lock-out are kept; a new enrolment clears them
        failures = CodeFailures(3, T0, T0 + timedelta(minutes=15))
        uow.accounts.set_totp_failures(a.id, failures)
        uow.commit()
    with uow_factory() as uow:
        assert uow.accounts.totp(a.id) == TotpRecord(sealed + b"x", None, failures)
        uow.accounts.set_totp(a.id, sealed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.accounts.totp(a.id) == TotpRecord(sealed, None, CodeFailures())
        acct = uow.accounts.get(a.id)
        assert acct is not None and acct.totp_enrolled and acct.failed_logins == 1
        with pytest.raises(NotFound):
            uow.accounts.set_totp(9999, sealed)
        with pytest.raises(NotFound):
            uow.accounts.use_totp_step(9999, 1)


def test_an_unsaved_authenticator_step_is_rolled_back(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        a = uow.accounts.add("lena", Role.LEGAL, T0)
        uow.accounts.set_totp(a.id, b"sealed")
        uow.commit()
    with uow_factory() as uow:
        uow.accounts.use_totp_step(a.id, 7)
    with uow_factory() as uow:
        assert uow.accounts.totp(a.id) == TotpRecord(b"sealed", None)
