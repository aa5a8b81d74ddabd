"""Signed checkpoints, the auditor's evidence bundle and its offline verification, and
crypto-shredding, on SQLite and PostgreSQL. Every tamper case must be caught and named."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from dsar.app import App, build_signer
from dsar.audit.bundle import read_member, rewrite_member, verify_bundle
from dsar.crypto.signing import Signer
from dsar.domain.errors import IntegrityError, InvalidInput
from dsar.services import audit
from dsar.services.admin import withdraw_request
from dsar.services.context import ServiceContext
from dsar.services.deadlines import extend_request
from dsar.services.intake import log_request


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


@pytest.fixture
def ctx(engine_app: App) -> ServiceContext:
    return dataclasses.replace(engine_app.ctx, clock=Clock())


def log(ctx: ServiceContext, name: str, email: str) -> Any:
    raw = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": name, "emails": [email]}}
    return log_request(ctx, raw | {"received_at": ctx.clock().isoformat()}).request


@pytest.fixture
def history(ctx: ServiceContext) -> dict[str, Any]:
    """Three requests with a few events each, interleaved in the log."""
    a = log(ctx, "Jane Doe", "jane.doe@example.com")
    b = log(ctx, "Max Mustermann", "max.mustermann@example.de")
    extend_request(ctx, a.id, "ten years of orders", "Lena Legal")
    c = log(ctx, "Lee Chan", "lee.chan@example.com")
    withdraw_request(ctx, b.id, "withdrew by phone")
    return {"a": a, "b": b, "c": c}


@pytest.fixture
def signer(engine_app: App) -> Signer:
    return build_signer(engine_app)


def export(ctx: ServiceContext, signer: Signer, tmp_path: Path, **sel: Any) -> Path:
    out = tmp_path / "bundle.zip"
    audit.export_evidence(ctx, signer, out, **sel)
    return out


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in read_member(path, "events.jsonl").decode().splitlines()]


def put_lines(path: Path, events: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for e in events)
    rewrite_member(path, "events.jsonl", data.encode())


def test_a_request_bundle_verifies_and_reads_like_the_story(
    ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    a = history["a"]
    path = export(ctx, signer, tmp_path, reference=a.reference)
    verdict = verify_bundle(path, signer.public_pem)
    assert verdict.ok, verdict.message
    events = lines(path)
    assert {e["reference"] for e in events} == {a.reference}
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "RequestLogged" and "DeadlineExtended" in kinds
    extended = next(e for e in events if e["kind"] == "DeadlineExtended")
    assert extended["details"]["reason"] == "ten years of orders"  # readable for the auditor
    summary = read_member(path, "summary.md").decode()
    assert a.reference in summary and "extended" in summary and "Lena Legal" in summary
    assert history["b"].reference not in summary
    # the export itself is on the record
    with ctx.uow() as uow:
        assert uow.audit.events(a.id)[-1].kind == "EvidenceExported"


def test_a_period_bundle_holds_every_event_of_the_period(
    ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    with ctx.uow() as uow:
        all_events = [e.seq for e in uow.audit.iter_chain()]
    path = export(ctx, signer, tmp_path, since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 3, 3, tzinfo=UTC))
    assert verify_bundle(path).ok
    assert [e["seq"] for e in lines(path)] == all_events


def tamper_cases() -> dict[str, Any]:
    def flip_sealed(es: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sealed = bytearray(base64.b64decode(es[1]["sealed"]))
        sealed[5] ^= 0x01
        es[1]["sealed"] = base64.b64encode(bytes(sealed)).decode()
        return es

    def edit_details(es: list[dict[str, Any]]) -> list[dict[str, Any]]:
        es[2]["details"] = {**es[2]["details"], "reason": "nothing to see"}
        return es

    return {
        "flipped byte": (flip_sealed, 1, "altered"),
        "edited details": (edit_details, 2, "altered"),
        "dropped": (lambda es: es[:1] + es[2:], 1, "removed"),
        "truncated": (lambda es: es[:-1], -1, "removed"),
        "reordered": (lambda es: [es[0], es[2], es[1], *es[3:]], 2, "out of order"),
        "inserted": (lambda es: [*es[:2], {**es[1], "seq": 999}, *es[2:]], None, "inserted"),
    }


@pytest.mark.parametrize("case", list(tamper_cases()))
def test_every_tamper_case_is_caught_and_names_the_event(
    ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path, case: str
) -> None:
    fn, index, words = tamper_cases()[case]
    path = export(ctx, signer, tmp_path, reference=history["a"].reference)
    original = lines(path)
    assert len(original) >= 4
    put_lines(path, fn([dict(e) for e in original]))
    verdict = verify_bundle(path, signer.public_pem)
    assert not verdict.ok
    assert words in verdict.message
    expected_seq = 999 if index is None else original[index]["seq"]
    assert verdict.bad_seq == expected_seq
    assert f"event {expected_seq}" in verdict.message


def test_a_swapped_checkpoint_is_caught(ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path) -> None:
    first = export(ctx, signer, tmp_path, reference=history["a"].reference)
    log(ctx, "New Person", "new@example.com")  # the log grows: a later, validly signed checkpoint
    later = tmp_path / "later.zip"
    audit.export_evidence(ctx, signer, later, reference=history["c"].reference)
    rewrite_member(first, "checkpoint.json", read_member(later, "checkpoint.json"))
    verdict = verify_bundle(first, signer.public_pem)
    assert not verdict.ok and "swapped" in verdict.message


def test_a_wrong_public_key_is_caught(ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path) -> None:
    path = export(ctx, signer, tmp_path, reference=history["a"].reference)
    other = (
        Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # an impostor's key in the bundle: the signatures no longer match
    rewrite_member(path, "public_key.pem", other)
    verdict = verify_bundle(path)
    assert not verdict.ok and "signature does not match" in verdict.message
    # the right key in the bundle, but the auditor pins another
    fresh = export(ctx, signer, tmp_path / "fresh", reference=history["a"].reference)
    verdict = verify_bundle(fresh, other)
    assert not verdict.ok and "not by the trusted key" in verdict.message


def test_a_corrupted_bundle_is_an_error_not_a_crash(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    verdict = verify_bundle(junk)
    assert not verdict.ok and "not a readable zip" in verdict.message
    assert not verify_bundle(tmp_path / "missing.zip").ok


def test_nothing_is_signed_over_a_log_that_does_not_verify(
    engine_app: App, ctx: ServiceContext, signer: Signer, history: dict[str, Any]
) -> None:
    with engine_app.engine.begin() as c:
        c.execute(text("UPDATE audit_event SET kind = 'Nothing' WHERE seq = 3"))
    with pytest.raises(IntegrityError, match="event 3"):
        audit.sign_checkpoint(ctx, signer)
    with ctx.uow() as uow:
        assert uow.audit.latest_checkpoint() is None


def test_checkpoints_are_signed_once_per_head(ctx: ServiceContext, signer: Signer, history: dict[str, Any]) -> None:
    first = audit.sign_checkpoint(ctx, signer)
    assert audit.sign_checkpoint(ctx, signer) == first
    log(ctx, "New Person", "new@example.com")
    second = audit.sign_checkpoint(ctx, signer)
    assert second.tree_size > first.tree_size and second.root_hash != first.root_hash


def test_export_refuses_an_unclear_selection(ctx: ServiceContext, signer: Signer, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        audit.export_evidence(ctx, signer, tmp_path / "x.zip")
    with pytest.raises(InvalidInput):
        audit.export_evidence(
            ctx, signer, tmp_path / "x.zip", since=datetime(2026, 3, 2, tzinfo=UTC), until=datetime(2026, 3, 1, tzinfo=UTC)
        )
    assert not (tmp_path / "x.zip").exists()


def test_shredding_after_retention_keeps_the_log_verifiable(
    engine_app: App, ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    b = history["b"]  # withdrawn on 2 Mar 2026
    assert audit.shred_expired(ctx, 24) == []
    later = dataclasses.replace(ctx, clock=lambda: datetime(2028, 3, 3, tzinfo=UTC))
    assert audit.shred_expired(later, 24) == [b.reference]
    assert audit.shred_expired(later, 24) == []
    with ctx.uow() as uow:
        events = uow.audit.events(b.id)
        shell = uow.requests.get(b.id)
    assert all(e.details == {"shredded": True} for e in events)
    assert shell.subject.name == "[shredded]" and shell.subject.emails == ()
    with engine_app.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM request_key WHERE request_id = :r"), {"r": b.id}).scalar_one() == 0
    path = export(ctx, signer, tmp_path, reference=b.reference)
    assert verify_bundle(path, signer.public_pem).ok
    assert {e["kind"] for e in lines(path)} >= {"RequestLogged", "KeyShredded"}
    assert "Max" not in read_member(path, "events.jsonl").decode()


def test_a_large_selection_carries_all_leaves_instead_of_proofs(
    ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "big.zip"
    audit.export_evidence(ctx, signer, out, since=datetime(2026, 3, 1, tzinfo=UTC), proof_limit=0)
    assert all("proof" not in e for e in lines(out))
    assert verify_bundle(out, signer.public_pem).ok
    leaves = bytearray(read_member(out, "leaves.bin"))
    leaves[40] ^= 0x01
    rewrite_member(out, "leaves.bin", bytes(leaves))
    verdict = verify_bundle(out, signer.public_pem)
    assert not verdict.ok and "leaves.bin" in verdict.message


def rewrite_log_consistently(engine_app: App, ctx: ServiceContext, seq: int) -> None:
    """What an administrator with write access to the database could do: backdate one event by
    a day and recompute every later hash, so the hash chain alone verifies again."""
    from dsar.audit.chain import GENESIS, chain_hash, leaf_bytes

    with ctx.uow() as uow:
        chain = list(uow.audit.iter_chain())
    prev = GENESIS
    with engine_app.engine.begin() as c:
        for e in chain:
            at = e.at - timedelta(days=1) if e.seq == seq else e.at
            digest = chain_hash(prev, leaf_bytes(e.seq, e.request_id, e.kind, at, e.idempotency_key, e.details_enc))
            c.execute(
                text("UPDATE audit_event SET at = :at, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"at": at, "p": prev, "h": digest, "s": e.seq},
            )
            prev = digest
        c.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


def test_each_bundle_proves_the_log_only_grew_since_every_earlier_checkpoint(
    ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    audit.sign_checkpoint(ctx, signer)
    first = export(ctx, signer, tmp_path / "first", reference=history["a"].reference)  # signs a second one
    log(ctx, "New Person", "new@example.com")
    audit.sign_checkpoint(ctx, signer)
    log(ctx, "Another Person", "another@example.com")

    later = export(ctx, signer, tmp_path / "later", reference=history["c"].reference)
    entries = json.loads(read_member(later, "history.json"))["checkpoints"]
    assert len(entries) == 3 and all(e["proof"] for e in entries)
    kept = read_member(first, "checkpoint.json")
    verdict = verify_bundle(later, signer.public_pem, [kept])
    assert verdict.ok, verdict.message
    assert "consistent with 3 earlier checkpoint(s) including the 1 you kept" in verdict.message
    # a large selection carries every leaf hash instead: the roots are recomputed in one pass
    big = tmp_path / "big.zip"
    audit.export_evidence(ctx, signer, big, since=datetime(2026, 3, 1, tzinfo=UTC), proof_limit=0)
    assert all("proof" not in e for e in json.loads(read_member(big, "history.json"))["checkpoints"])
    verdict = verify_bundle(big, signer.public_pem, [kept, read_member(later, "checkpoint.json")])
    assert verdict.ok and "consistent with 4 earlier checkpoint(s)" in verdict.message


def test_a_log_rewritten_after_a_checkpoint_is_not_signed_and_a_kept_checkpoint_exposes_it(
    engine_app: App, ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    first = export(ctx, signer, tmp_path / "first", reference=history["a"].reference)
    kept = read_member(first, "checkpoint.json")
    rewrite_log_consistently(engine_app, ctx, seq=2)
    with pytest.raises(IntegrityError, match="no longer extends the checkpoint"):
        audit.sign_checkpoint(ctx, signer)
    with pytest.raises(IntegrityError, match="no longer extends the checkpoint"):
        export(ctx, signer, tmp_path / "second", reference=history["a"].reference)
    # the administrator also deletes the checkpoints: the database alone can no longer tell,
    # but the checkpoint the auditor kept from the first bundle does
    with engine_app.engine.begin() as c:
        c.execute(text("DELETE FROM audit_checkpoint"))
    forged = export(ctx, signer, tmp_path / "forged", reference=history["a"].reference)
    assert verify_bundle(forged, signer.public_pem).ok  # consistent in itself
    verdict = verify_bundle(forged, signer.public_pem, [kept])
    assert not verdict.ok and "is not among the checkpoints this bundle's log provably extends" in verdict.message


def test_a_kept_checkpoint_must_be_signed_and_the_bundle_must_carry_history(
    ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    first = export(ctx, signer, tmp_path / "first", reference=history["a"].reference)
    doc = json.loads(read_member(first, "checkpoint.json"))
    doc["statement"]["tree_size"] = 1  # altered after signing
    later = export(ctx, signer, tmp_path / "later", reference=history["a"].reference)
    verdict = verify_bundle(later, signer.public_pem, [json.dumps(doc).encode()])
    assert not verdict.ok and "kept checkpoint 1: the signature does not match" in verdict.message
    assert not verify_bundle(later, signer.public_pem, [b"not json"]).ok
    # a bundle from before checkpoint history (no history.json): fine alone, not with a kept one
    old = tmp_path / "old.zip"
    audit.export_evidence(ctx, signer, old, reference=history["a"].reference)
    _drop_history(old, signer)
    assert verify_bundle(old, signer.public_pem).ok
    verdict = verify_bundle(old, signer.public_pem, [read_member(later, "checkpoint.json")])
    assert not verdict.ok and "carries no checkpoint history" in verdict.message


def _drop_history(path: Path, signer: Signer) -> None:
    """Rebuild a bundle as the format before history.json was (re-signed by the same key)."""
    from dsar.audit.bundle import canonical

    manifest = json.loads(read_member(path, "manifest.json"))
    del manifest["files"]["history.json"]
    body = canonical(manifest)
    rewrite_member(path, "manifest.json", body)
    rewrite_member(path, "manifest.sig", base64.b64encode(signer.sign(body)))


def _truncate(engine_app: App, ctx: ServiceContext, keep: int, *, move_head: bool) -> None:
    """Delete every event after ``keep``; with ``move_head`` also set the head back to the last
    kept event, as someone covering their tracks would."""
    with ctx.uow() as uow:
        last = [e for e in uow.audit.iter_chain() if e.seq == keep][0]
    with engine_app.engine.begin() as c:
        c.execute(text("DELETE FROM audit_event WHERE seq > :k"), {"k": keep})
        if move_head:
            c.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": keep, "h": last.hash})


def test_a_truncated_log_is_never_re_signed(engine_app: App, ctx: ServiceContext, signer: Signer, history: dict[str, Any]) -> None:
    """Security probe, item 8: events removed and the head moved back is tampering, not a
    shorter log to sign."""
    signed = audit.sign_checkpoint(ctx, signer)
    _truncate(engine_app, ctx, signed.tree_size - 2, move_head=True)
    with pytest.raises(IntegrityError, match=f"fewer than the {signed.tree_size} of the checkpoint signed"):
        audit.sign_checkpoint(ctx, signer)
    with ctx.uow() as uow:
        assert uow.audit.latest_checkpoint() == signed  # nothing new was signed


def test_a_truncated_log_with_its_head_left_is_an_integrity_error_not_a_crash(
    engine_app: App, ctx: ServiceContext, signer: Signer, history: dict[str, Any]
) -> None:
    """Security probe, item 10: events removed but the head untouched raised KeyError."""
    with ctx.uow() as uow:
        size, _ = uow.audit.head()
    _truncate(engine_app, ctx, size - 3, move_head=False)
    with pytest.raises(IntegrityError, match=f"head says {size} event"):
        audit.sign_checkpoint(ctx, signer)


def test_the_witness_outside_the_database_catches_a_rewrite_with_the_checkpoints_deleted(
    engine_app: App, ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    """Security probe, item 9: backdate an event, recompute chain and head, delete
    audit_checkpoint: the database alone cannot tell; the witness file can, and nothing is signed."""
    from dsar.storage.witness import FileWitness

    witness = FileWitness(tmp_path / "witness" / "checkpoint-witness.jsonl")
    first = audit.sign_checkpoint(ctx, signer, witness=witness)
    assert witness.latest() is not None and witness.latest().root_hash == first.root_hash  # type: ignore[union-attr]
    assert (witness.path.stat().st_mode & 0o777) == 0o600
    log(ctx, "New Person", "new@example.com")
    second = audit.sign_checkpoint(ctx, signer, witness=witness)
    assert len(witness.path.read_text().splitlines()) == 2 and second.tree_size > first.tree_size
    rewrite_log_consistently(engine_app, ctx, seq=2)
    with engine_app.engine.begin() as c:
        c.execute(text("DELETE FROM audit_checkpoint"))
    with pytest.raises(IntegrityError, match="witnessed at .* outside the database: it was rewritten"):
        audit.sign_checkpoint(ctx, signer, witness=witness)
    with pytest.raises(IntegrityError, match="outside the database"):
        export(ctx, signer, tmp_path / "forged", reference=history["a"].reference, witness=witness)
    # ... and a truncation below the witnessed size, with the checkpoints gone too
    _truncate(engine_app, ctx, 3, move_head=True)
    with pytest.raises(IntegrityError, match=f"fewer than the {second.tree_size} of the checkpoint witnessed"):
        audit.sign_checkpoint(ctx, signer, witness=witness)
    with ctx.uow() as uow:
        assert uow.audit.latest_checkpoint() is None


def test_a_damaged_witness_stops_signing(ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path) -> None:
    from dsar.storage.witness import FileWitness

    witness = FileWitness(tmp_path / "checkpoint-witness.jsonl")
    audit.sign_checkpoint(ctx, signer, witness=witness)
    with open(witness.path, "a") as f:
        f.write("{not json\n")
    log(ctx, "New Person", "new@example.com")
    with pytest.raises(IntegrityError, match="witness .* is damaged"):
        audit.sign_checkpoint(ctx, signer, witness=witness)


def test_the_bundle_summary_gives_legal_s_decision_with_its_reason_note_and_proof(
    ctx: ServiceContext, signer: Signer, tmp_path: Path
) -> None:
    from dsar.domain.events import SignOffRecorded, SignOffRefused

    r = log_request(
        ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Kim Lee", "emails": ["kim@example.com"]}}
    ).request
    now = ctx.clock()
    with ctx.uow() as uow:
        uow.audit.append(
            [
                SignOffRefused(r.id, now, "release", 1, "replayed_code", "lena.legal", None, "console"),
                SignOffRecorded(r.id, now, "release", "deny", "lena.legal", "exempt", "", "legal hold, matter 12", "totp", "console"),
            ]
        )
        uow.commit()
    path = export(ctx, signer, tmp_path, reference=r.reference)
    assert verify_bundle(path, signer.public_pem).ok
    summary = read_member(path, "summary.md").decode()
    assert "SignOffRecorded deny by lena.legal" in summary and "proven by an authenticator code; given in console" in summary
    assert "reason given to the subject: exempt" in summary and "internal note: legal hold, matter 12" in summary
    assert "Refused sign-off attempts: 1 (replayed code)" in summary
    recorded = next(e for e in lines(path) if e["kind"] == "SignOffRecorded")
    assert recorded["details"]["note"] == "legal hold, matter 12"


def _resigned(path: Path, signer: Signer, name: str, data: bytes) -> None:
    """An insider with the signing key swaps a letter's PDF and signs the manifest again."""
    import hashlib
    import zipfile

    from dsar.audit.bundle import canonical

    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    members[name] = data
    members["manifest.json"] = canonical(manifest)
    members["manifest.sig"] = base64.b64encode(signer.sign(members["manifest.json"]))
    with zipfile.ZipFile(path, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)


def test_a_request_bundle_carries_the_pdf_of_each_letter_and_any_change_to_one_is_caught(
    ctx: ServiceContext, signer: Signer, history: dict[str, Any], tmp_path: Path
) -> None:
    import zipfile

    a = history["a"]
    path = export(ctx, signer, tmp_path, reference=a.reference)
    with zipfile.ZipFile(path) as z:
        pdfs = [n for n in z.namelist() if n.startswith("letters/")]
    assert pdfs and all(n.startswith(f"letters/{a.reference}/") and n.endswith(".pdf") for n in pdfs), pdfs
    assert any(n.endswith("-extension.pdf") for n in pdfs)  # the extension notice legal's extension sent
    sent = {e["details"]["pdf_sha256"] for e in lines(path) if e["kind"] == "LetterSent" and "pdf_sha256" in e["details"]}
    for name in pdfs:
        data = read_member(path, name)
        assert data.startswith(b"%PDF") and __import__("hashlib").sha256(data).hexdigest() in sent
    verdict = verify_bundle(path, signer.public_pem)
    assert verdict.ok and f"{len(pdfs)} letter PDF(s)" in verdict.message, verdict.message

    name = pdfs[0]
    original = read_member(path, name)
    rewrite_member(path, name, original[:-10] + b"%%EOF-edit")
    changed = verify_bundle(path, signer.public_pem)
    assert not changed.ok and name in changed.message and "altered" in changed.message

    path = export(ctx, signer, tmp_path, reference=a.reference)
    _resigned(path, signer, name, b"%PDF-1.7 a letter that was never sent")
    forged = verify_bundle(path, signer.public_pem)
    assert not forged.ok and "is not the PDF any LetterSent event" in forged.message, forged.message

    path = export(ctx, signer, tmp_path, reference=a.reference)
    _resigned(path, signer, f"letters/{a.reference}/99999999-access_response.pdf", original)  # an extra copy, listed and signed
    assert verify_bundle(path, signer.public_pem).ok  # the same PDF again proves nothing new, and is still the one sent
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members.pop(name)
    with zipfile.ZipFile(path, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    removed = verify_bundle(path, signer.public_pem)
    assert not removed.ok and "removed" in removed.message and name in removed.message
