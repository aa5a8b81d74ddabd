"""Signed checkpoints, evidence selection and crypto-shredding (dsar.services.audit). The
evidence bundle itself is a file: tests/integration/test_audit_evidence.py writes and verifies it."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dsar.crypto.signing import Signer
from dsar.domain.accounts import Role
from dsar.domain.errors import InvalidInput
from dsar.services import accounts
from dsar.services.admin import withdraw_request
from dsar.services.audit import export_evidence, shred_expired, sign_checkpoint
from dsar.services.ports import CheckpointArchive
from tests.unit.services.conftest import World


class MemoryArchive(CheckpointArchive):
    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}

    def put(self, name: str, document: bytes) -> str:
        self.documents[name] = document
        return f"memory://{name}"


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def test_a_checkpoint_signs_the_whole_log_once_and_is_archived(world: World, signer: Signer) -> None:
    world.log()
    archive = MemoryArchive()
    first = sign_checkpoint(world.ctx, signer, archive)
    assert first.tree_size == world.db.committed_events == 2 and first.archived_as is not None
    assert sign_checkpoint(world.ctx, signer, archive) == first
    assert len(archive.documents) == 1
    with world.uow() as uow:
        assert uow.audit.checkpoints() == [first]


def test_a_new_checkpoint_follows_new_events(world: World, signer: Signer) -> None:
    world.log()
    first = sign_checkpoint(world.ctx, signer)
    world.log(subject={"name": "Other", "emails": ["other@example.com"]})
    second = sign_checkpoint(world.ctx, signer)
    assert second.tree_size == first.tree_size + 2 and second.root_hash != first.root_hash


@pytest.mark.parametrize(
    ("selection", "problem"),
    [
        ({}, "say what to export"),
        ({"reference": "DSR-2026-000001", "since": datetime(2026, 1, 1)}, "not both"),
        ({"since": datetime(2026, 2, 1), "until": datetime(2026, 1, 1)}, "the period is empty"),
    ],
)
def test_an_evidence_export_needs_one_request_or_one_period(world: World, signer: Signer, selection: dict, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        export_evidence(world.ctx, signer, Path("never-written.zip"), **selection)


def test_requests_finished_past_retention_are_shredded_once_and_the_log_still_signs(world: World, signer: Signer) -> None:
    old = world.log()
    withdraw_request(world.ctx, old, "withdrawn")
    world.clock.advance(days=400)
    young = world.log(subject={"name": "Other", "emails": ["other@example.com"]})
    withdraw_request(world.ctx, young, "withdrawn")
    world.clock.advance(days=1)
    assert shred_expired(world.ctx, retention_months=12) == ["DSR-2026-000001"]
    assert shred_expired(world.ctx, retention_months=12) == []
    with world.uow() as uow:
        assert uow.requests.is_shredded(old) and not uow.requests.is_shredded(young)
        assert uow.requests.get(old).subject.name == "[shredded]"
        kinds = [e.kind for e in uow.audit.events(old)]
    assert kinds[-1] == "KeyShredded"
    assert sign_checkpoint(world.ctx, signer).tree_size == world.db.committed_events


def test_a_period_export_carries_the_staff_streams_events_labelled_as_staff(world: World, signer: Signer, tmp_path: Path) -> None:
    world.log()
    accounts.add_user(world.ctx, "alice", Role.ADMIN, by="cli:ops")
    result = export_evidence(world.ctx, signer, tmp_path / "period.zip", since=datetime(2026, 1, 1).astimezone())
    assert "staff" in result.requests and result.events == 4  # the request's two and the account's two
    with zipfile.ZipFile(tmp_path / "period.zip") as z:
        names = z.namelist()
        summary = next(z.read(n).decode() for n in names if n.endswith(".md"))
    assert "## staff: staff accounts and API tokens" in summary and "StaffAccountAdded" in summary
