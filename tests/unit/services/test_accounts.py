"""Staff accounts and API tokens (dsar.services.accounts) on the in-memory unit of work."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from dsar.domain.accounts import Role, TokenScope
from dsar.domain.errors import InvalidInput, LoginRefused, NotFound, ScopeMissing, TokenRefused
from dsar.domain.events import STAFF_STREAM
from dsar.services import accounts
from dsar.services.context import ServiceContext
from tests.unit.services.conftest import World

GOOD = "correct horse battery"
BY = "cli:ops"


@pytest.fixture
def ctx(world: World) -> ServiceContext:
    # A cheaper scrypt than production's 2**15 keeps the suite quick; the format records it.
    return replace(world.ctx, policy=replace(world.ctx.policy, password_scrypt_log2_n=10))


def staff_events(world: World) -> list[tuple[str, dict[str, Any]]]:
    with world.uow() as uow:
        return [(e.kind, e.details) for e in uow.audit.events(STAFF_STREAM)]


def user_with_password(ctx: ServiceContext, name: str = "alice", role: Role = Role.SUPPORT) -> int:
    new = accounts.add_user(ctx, name, role, by=BY)
    accounts.set_password(ctx, new.set_password_token, GOOD)
    return new.account.id


def test_add_user_stores_an_account_without_password_and_returns_a_token_once(world: World, ctx: ServiceContext) -> None:
    new = accounts.add_user(ctx, "Alice.S", "legal", by=BY)
    assert new.account.name == "Alice.S" and new.account.role is Role.LEGAL and new.account.active
    assert not new.account.password_set
    assert len(new.set_password_token) >= 40
    kinds = [k for k, _ in staff_events(world)]
    assert kinds == ["StaffAccountAdded", "StaffPasswordResetIssued"]
    assert staff_events(world)[0][1] == {"account": "Alice.S", "role": "legal", "by": BY}
    # Only the digest is stored: the token itself appears nowhere in the state.
    with world.uow() as uow:
        assert new.set_password_token not in repr(uow.state)


@pytest.mark.parametrize("name", ["", "a" * 65, "alice smith", "al/ice", "älice", "alice\n", "x;drop"])
def test_bad_names_are_refused_naming_the_field_and_nothing_is_stored(world: World, ctx: ServiceContext, name: str) -> None:
    with pytest.raises(InvalidInput) as e:
        accounts.add_user(ctx, name, Role.SUPPORT, by=BY)
    assert e.value.problems[0].startswith("name:")
    assert accounts.list_accounts(ctx) == [] and staff_events(world) == []


def test_names_are_unique_whatever_their_case(world: World, ctx: ServiceContext) -> None:
    accounts.add_user(ctx, "alice", Role.SUPPORT, by=BY)
    with pytest.raises(InvalidInput, match="taken"):
        accounts.add_user(ctx, "ALICE", Role.ADMIN, by=BY)
    assert [a.role for a in accounts.list_accounts(ctx)] == [Role.SUPPORT]


def test_an_unknown_role_is_refused(ctx: ServiceContext) -> None:
    with pytest.raises(InvalidInput) as e:
        accounts.add_user(ctx, "alice", "root", by=BY)
    assert e.value.problems[0].startswith("role:")
    assert accounts.list_accounts(ctx) == []


def test_set_password_then_login_succeeds_and_the_token_is_single_use(world: World, ctx: ServiceContext) -> None:
    new = accounts.add_user(ctx, "alice", Role.SUPPORT, by=BY)
    done = accounts.set_password(ctx, new.set_password_token, GOOD)
    assert done.password_set and done.session_epoch == 1
    got = accounts.authenticate(ctx, "ALICE", GOOD, source="10.0.0.1")
    assert got.id == new.account.id and got.last_login_at == world.clock.now
    with pytest.raises(InvalidInput) as e:
        accounts.set_password(ctx, new.set_password_token, "another good password")
    assert e.value.problems == ("token: unknown, used or expired",)
    assert staff_events(world)[-1] == ("StaffLoggedIn", {"account": "alice", "source": "10.0.0.1"})


def test_the_password_is_stored_as_scrypt_with_its_parameters(world: World) -> None:
    new = accounts.add_user(world.ctx, "alice", Role.SUPPORT, by=BY)
    accounts.set_password(world.ctx, new.set_password_token, GOOD)
    with world.uow() as uow:
        stored = uow.accounts.password_hash(new.account.id)
    assert stored is not None and stored.startswith("scrypt$15$8$1$") and GOOD not in stored
    assert accounts.verify_password(GOOD, stored) and not accounts.verify_password(GOOD + "!", stored)


def test_a_hash_under_old_parameters_is_upgraded_at_the_next_login(world: World, ctx: ServiceContext) -> None:
    aid = user_with_password(ctx)
    stronger = replace(ctx, policy=replace(ctx.policy, password_scrypt_log2_n=11))
    accounts.authenticate(stronger, "alice", GOOD, source="x")
    with world.uow() as uow:
        stored = uow.accounts.password_hash(aid)
    assert stored is not None and stored.startswith("scrypt$11$")
    accounts.authenticate(stronger, "alice", GOOD, source="x")


def test_an_expired_set_password_token_is_refused(world: World, ctx: ServiceContext) -> None:
    new = accounts.add_user(ctx, "alice", Role.SUPPORT, by=BY)
    world.clock.advance(hours=72)
    with pytest.raises(InvalidInput, match="not valid"):
        accounts.set_password(ctx, new.set_password_token, GOOD)
    assert accounts.find_account(ctx, "alice") == new.account


def test_a_reset_token_replaces_the_earlier_ones(ctx: ServiceContext) -> None:
    new = accounts.add_user(ctx, "alice", Role.SUPPORT, by=BY)
    again = accounts.password_reset_token(ctx, "alice", by=BY)
    with pytest.raises(InvalidInput, match="not valid"):
        accounts.set_password(ctx, new.set_password_token, GOOD)
    assert accounts.set_password(ctx, again, GOOD).password_set


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short pass", "password: at least 12 characters"), ("my-alice-password", "password: must not contain the account name")],
)
def test_weak_passwords_are_refused_and_the_token_stays_usable(ctx: ServiceContext, password: str, problem: str) -> None:
    new = accounts.add_user(ctx, "alice", Role.SUPPORT, by=BY)
    with pytest.raises(InvalidInput) as e:
        accounts.set_password(ctx, new.set_password_token, password)
    assert e.value.problems == (problem,)
    found = accounts.find_account(ctx, "alice")
    assert found is not None and not found.password_set
    assert accounts.set_password(ctx, new.set_password_token, GOOD).password_set


def test_every_refusal_has_the_same_message(ctx: ServiceContext) -> None:
    user_with_password(ctx)
    accounts.add_user(ctx, "nopass", Role.SUPPORT, by=BY)
    messages = set()
    for name, pw in [("alice", "wrong password!"), ("nobody", GOOD), ("nopass", GOOD), ("bad name!", GOOD), ("alice", "")]:
        with pytest.raises(LoginRefused) as e:
            accounts.authenticate(ctx, name, pw, source="x")
        messages.add(str(e.value))
    assert len(messages) == 1


def test_an_unknown_name_is_recorded_as_a_keyed_digest_only(world: World, ctx: ServiceContext) -> None:
    with pytest.raises(LoginRefused):
        accounts.authenticate(ctx, "jane.doe", GOOD, source="10.0.0.9")
    [(kind, details)] = staff_events(world)
    assert kind == "StaffLoginFailed" and "account" not in details
    assert "jane" not in repr(details) and len(details["name_digest"]) == 32
    assert details["reason"] == "unknown name" and details["source"] == "10.0.0.9"


def test_five_failures_lock_the_account_even_for_the_right_password_until_it_expires(world: World, ctx: ServiceContext) -> None:
    user_with_password(ctx)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            accounts.authenticate(ctx, "alice", "wrong password!", source="x")
    found = accounts.find_account(ctx, "alice")
    assert found is not None and found.failed_logins == 4 and not found.locked(world.clock.now)
    with pytest.raises(LoginRefused):
        accounts.authenticate(ctx, "alice", "wrong password!", source="x")
    found = accounts.find_account(ctx, "alice")
    assert found is not None and found.locked(world.clock.now)
    assert found.locked_until == world.clock.now + timedelta(minutes=15)
    with pytest.raises(LoginRefused):
        accounts.authenticate(ctx, "alice", GOOD, source="x")
    kinds = [k for k, _ in staff_events(world)]
    assert kinds.count("StaffLockedOut") == 1 and kinds[-1] == "StaffLoginFailed"
    assert staff_events(world)[-1][1]["reason"] == "locked"
    world.clock.advance(minutes=15)
    assert accounts.authenticate(ctx, "alice", GOOD, source="x").failed_logins == 0


def test_lock_out_follows_the_policy(world: World, ctx: ServiceContext) -> None:
    strict = replace(ctx, policy=replace(ctx.policy, login_max_failures=2, login_lockout_minutes=60))
    user_with_password(strict)
    for _ in range(2):
        with pytest.raises(LoginRefused):
            accounts.authenticate(strict, "alice", "wrong password!", source="x")
    found = accounts.find_account(strict, "alice")
    assert found is not None and found.locked_until == world.clock.now + timedelta(minutes=60)


def test_a_success_resets_the_count_of_failures(ctx: ServiceContext) -> None:
    user_with_password(ctx)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            accounts.authenticate(ctx, "alice", "wrong password!", source="x")
    assert accounts.authenticate(ctx, "alice", GOOD, source="x").failed_logins == 0
    with pytest.raises(LoginRefused):
        accounts.authenticate(ctx, "alice", "wrong password!", source="x")
    found = accounts.find_account(ctx, "alice")
    assert found is not None and found.failed_logins == 1 and found.locked_until is None


def test_role_change_deactivation_and_end_sessions_raise_the_epoch(world: World, ctx: ServiceContext) -> None:
    user_with_password(ctx, "root", Role.ADMIN)
    aid = user_with_password(ctx)
    assert accounts.set_role(ctx, "alice", Role.LEGAL, by=BY).session_epoch == 2
    assert accounts.end_sessions(ctx, aid, by="alice").session_epoch == 3
    gone = accounts.deactivate(ctx, "alice", by=BY)
    assert gone.session_epoch == 4 and not gone.active
    with pytest.raises(LoginRefused):
        accounts.authenticate(ctx, "alice", GOOD, source="x")
    kinds = [k for k, _ in staff_events(world)]
    for kind in ("StaffRoleChanged", "StaffSessionsEnded", "StaffDeactivated"):
        assert kind in kinds
    assert ("StaffRoleChanged", {"account": "alice", "from": "support", "to": "legal", "by": BY}) in staff_events(world)
    with pytest.raises(InvalidInput):
        accounts.password_reset_token(ctx, "alice", by=BY)


def test_the_last_active_admin_keeps_the_role_and_stays_active(ctx: ServiceContext) -> None:
    accounts.add_user(ctx, "root", Role.ADMIN, by=BY)
    with pytest.raises(InvalidInput, match="last active admin"):
        accounts.set_role(ctx, "root", Role.SUPPORT, by=BY)
    with pytest.raises(InvalidInput, match="last active admin"):
        accounts.deactivate(ctx, "root", by=BY)
    accounts.add_user(ctx, "root2", Role.ADMIN, by=BY)
    assert accounts.set_role(ctx, "root", Role.SUPPORT, by=BY).role is Role.SUPPORT


def test_training_is_recorded_and_not_in_the_future(world: World, ctx: ServiceContext) -> None:
    accounts.add_user(ctx, "alice", Role.LEGAL, by=BY)
    today = world.clock.now.date()
    with pytest.raises(InvalidInput) as e:
        accounts.record_training(ctx, "alice", today + timedelta(days=1), by=BY)
    assert e.value.problems == ("on: not after today",)
    got = accounts.record_training(ctx, "alice", date(2025, 1, 10), by=BY)
    assert got.trained_on == date(2025, 1, 10) and got.training_overdue(today)
    assert ("StaffTrainingRecorded", {"account": "alice", "on": "2025-01-10", "by": BY}) in staff_events(world)


def test_unknown_accounts_are_not_found(ctx: ServiceContext) -> None:
    with pytest.raises(NotFound):
        accounts.set_role(ctx, "nobody", Role.LEGAL, by=BY)
    with pytest.raises(NotFound):
        accounts.end_sessions(ctx, 42, by=BY)
    assert accounts.get_account(ctx, 42) is None and accounts.find_account(ctx, "bad name") is None


def test_the_legal_roster_lists_active_legal_accounts(ctx: ServiceContext) -> None:
    accounts.add_user(ctx, "root", Role.ADMIN, by=BY)
    accounts.add_user(ctx, "lena", Role.LEGAL, by=BY)
    accounts.add_user(ctx, "lars", Role.LEGAL, by=BY)
    accounts.add_user(ctx, "sam", Role.SUPPORT, by=BY)
    accounts.deactivate(ctx, "lars", by=BY)
    assert [a.name for a in accounts.legal_roster(ctx)] == ["lena"]


def test_api_tokens_authenticate_by_secret_and_scope(world: World, ctx: ServiceContext) -> None:
    new = accounts.create_token(ctx, "helpdesk", ["requests:write"], by=BY)
    assert new.secret.startswith("dsar_") and len(new.secret) > 40
    assert new.token.prefix == new.secret[:13]
    with world.uow() as uow:
        assert new.secret not in repr(uow.state)
    world.clock.advance(minutes=1)
    got = accounts.authenticate_token(ctx, new.secret, TokenScope.REQUESTS_WRITE)
    assert got.id == new.token.id and got.last_used_at == world.clock.now
    assert [t.last_used_at for t in accounts.list_tokens(ctx)] == [world.clock.now]
    with pytest.raises(ScopeMissing):
        accounts.authenticate_token(ctx, new.secret, TokenScope.REQUESTS_READ)
    for wrong in (new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B"), "dsar_x", "Bearer", ""):
        with pytest.raises(TokenRefused):
            accounts.authenticate_token(ctx, wrong, TokenScope.REQUESTS_WRITE)
    accounts.revoke_token(ctx, new.token.id, by=BY)
    with pytest.raises(TokenRefused):
        accounts.authenticate_token(ctx, new.secret, TokenScope.REQUESTS_WRITE)
    kinds = [k for k, _ in staff_events(world)]
    assert kinds == ["ApiTokenCreated", "ApiTokenRevoked"]
    assert staff_events(world)[0][1] == {"token_id": new.token.id, "name": "helpdesk", "scopes": ["requests:write"], "by": BY}


def test_tokens_need_a_known_scope_and_revoking_an_unknown_one_is_not_found(ctx: ServiceContext) -> None:
    with pytest.raises(InvalidInput) as e:
        accounts.create_token(ctx, "helpdesk", ["requests:delete"], by=BY)
    assert e.value.problems[0].startswith("scope:")
    with pytest.raises(InvalidInput):
        accounts.create_token(ctx, "helpdesk", [], by=BY)
    assert accounts.list_tokens(ctx) == []
    with pytest.raises(NotFound):
        accounts.revoke_token(ctx, 7, by=BY)
