"""Audit use cases: signed checkpoints, the auditor's evidence export, crypto-shredding.

The log itself is appended through the AuditLog port (hash chain, payloads sealed under the request's
key). Here the whole log is re-verified before anything is signed, an RFC 9162 Merkle tree is
built over it, its head is signed (Ed25519) and, optionally, archived where it cannot be
rewritten (an S3 bucket with Object Lock in compliance mode).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta

from dsar.audit.bundle import LOG_ID, canonical, write_bundle
from dsar.audit.chain import GENESIS, ChainedEvent, chain_hash, leaf_bytes
from dsar.audit.merkle import MerkleTree, leaf_hash, prefix_roots
from dsar.crypto.signing import Signer
from dsar.domain.errors import IntegrityError, InvalidInput
from dsar.domain.events import STAFF_STREAM, CheckpointRecord, EvidenceExported, KeyShredded
from dsar.domain.request import DEADLINE_STOPPED
from dsar.services.context import ServiceContext
from dsar.services.ports import AuditLog, CheckpointArchive, CheckpointWitness, UnitOfWork

# Legal's decision as the audit summary spells it (the payload is sealed; the summary is for auditors).
SIGN_OFF_PARTS = (("reason", "reason given to the subject"), ("reason_text", "in words"), ("note", "internal note"))


def _leaves(events: Iterable[ChainedEvent]) -> Iterable[tuple[ChainedEvent, bytes]]:
    """Each event with its leaf hash, checking the chain on the way: nothing is signed over a
    log that does not verify."""
    prev, expected = GENESIS, 1
    for e in events:
        leaf = leaf_bytes(e.seq, e.request_id, e.kind, e.at, e.idempotency_key, e.details_enc)
        if e.seq != expected or e.prev_hash != prev or chain_hash(prev, leaf) != e.hash:
            raise IntegrityError(f"the audit log does not verify at event {min(e.seq, expected)}; nothing was signed")
        yield e, leaf_hash(leaf)
        prev, expected = e.hash, expected + 1


def _statement(size: int, root: bytes, head: str, at: datetime, signer: Signer) -> dict[str, Any]:
    return {
        "log": LOG_ID,
        "v": 1,
        "tree_size": size,
        "root_hash": root.hex(),
        "chain_head": head,
        "signed_at": at.isoformat(),
        "key_id": signer.key_id,
    }


@dataclass(frozen=True)
class _Log:
    root: bytes
    hashes: list[bytes]
    earlier: list[CheckpointRecord]
    chosen: list[ChainedEvent]
    tree: MerkleTree | None  # built when the chosen events get inclusion proofs


def _read_log(
    log: AuditLog,
    signer: Signer,
    size: int,
    wanted: Collection[int] = (),
    proof_limit: int = -1,
    witness: CheckpointWitness | None = None,
) -> _Log:
    """The first ``size`` events read once: their leaf hashes (checked as a hash chain on the
    way), the root, the earlier checkpoints, the ``wanted`` events, and the whole tree when at
    most ``proof_limit`` of them were wanted. Refuses (IntegrityError, nothing signed) when the
    log holds fewer events than its head says, is shorter than any checkpoint signed over it or
    than the one the witness holds, or is not an extension of every earlier checkpoint this key
    signed and of the witnessed one (rewritten, even consistently, after they were signed)."""
    checkpoints = log.checkpoints()
    longer = [c for c in checkpoints if c.tree_size > size]
    if longer:
        c = max(longer, key=lambda c: c.tree_size)
        raise IntegrityError(
            f"the audit log holds {size} event(s), fewer than the {c.tree_size} of the checkpoint signed at "
            f"{c.signed_at.isoformat()}: events were removed; nothing was signed"
        )
    witnessed = witness.latest() if witness is not None else None
    if witnessed is not None and witnessed.tree_size > size:
        raise IntegrityError(
            f"the audit log holds {size} event(s), fewer than the {witnessed.tree_size} of the checkpoint witnessed at "
            f"{witnessed.signed_at} outside the database: events were removed; nothing was signed"
        )
    earlier = list(checkpoints)
    hashes: list[bytes] = []
    chosen: list[ChainedEvent] = []
    for e, h in _leaves(log.iter_chain(1, size)):
        hashes.append(h)
        if e.seq in wanted:
            chosen.append(e)
    if len(hashes) != size:
        raise IntegrityError(
            f"the audit log's head says {size} event(s) but the log holds {len(hashes)}: events were removed; nothing was signed"
        )
    ours = [c for c in earlier if c.key_id == signer.key_id]
    sizes = {c.tree_size for c in ours} | {size} | ({witnessed.tree_size} if witnessed is not None else set())
    tree = MerkleTree(hashes) if len(chosen) <= proof_limit else None
    roots = {m: tree.root_at(m) for m in sizes} if tree is not None else prefix_roots(hashes, sizes)
    for c in ours:
        if roots[c.tree_size].hex() != c.root_hash:
            raise IntegrityError(
                f"the audit log no longer extends the checkpoint of {c.tree_size} event(s) signed at "
                f"{c.signed_at.isoformat()}: it was rewritten after that; nothing was signed"
            )
    if witnessed is not None and roots[witnessed.tree_size].hex() != witnessed.root_hash:
        raise IntegrityError(
            f"the audit log no longer extends the checkpoint of {witnessed.tree_size} event(s) witnessed at "
            f"{witnessed.signed_at} outside the database: it was rewritten after that; nothing was signed"
        )
    return _Log(roots[size], hashes, earlier, chosen, tree)


def sign_checkpoint(
    ctx: ServiceContext, signer: Signer, archive: CheckpointArchive | None = None, witness: CheckpointWitness | None = None
) -> CheckpointRecord:
    """Sign the current tree head (a no-op when nothing was appended since the last one and the
    witness holds it)."""
    with ctx.uow() as uow:
        size, head = uow.audit.head()
        latest = uow.audit.latest_checkpoint()
        witnessed = witness.latest() if witness is not None else None
        if (
            latest is not None
            and latest.tree_size == size
            and latest.key_id == signer.key_id
            and (witness is None or (witnessed is not None and witnessed.root_hash == latest.root_hash))
        ):
            return latest
        root = _read_log(uow.audit, signer, size, witness=witness).root
        record = _store_checkpoint(uow.audit, signer, archive, witness, size, root, head, ctx.clock())
        uow.commit()
        return record


def _store_checkpoint(
    log: AuditLog,
    signer: Signer,
    archive: CheckpointArchive | None,
    witness: CheckpointWitness | None,
    size: int,
    root: bytes,
    head: str,
    at: datetime,
) -> CheckpointRecord:
    statement = _statement(size, root, head, at, signer)
    signature = base64.b64encode(signer.sign(canonical(statement))).decode()
    archived = None
    if archive is not None:
        doc = canonical({"statement": statement, "signature": signature, "public_key": signer.public_pem.decode()})
        archived = archive.put(f"checkpoints/{size:012d}-{root.hex()[:16]}.json", doc)
    record = CheckpointRecord(size, root.hex(), head, at, signer.key_id, canonical(statement).decode(), signature, archived)
    if witness is not None:
        witness.record(record)
    log.add_checkpoint(record)
    return record


PROOF_LIMIT = 10_000


@dataclass(frozen=True)
class ExportResult:
    path: Path
    events: int
    requests: list[str]
    tree_size: int
    key_id: str


def export_evidence(
    ctx: ServiceContext,
    signer: Signer,
    out: Path,
    *,
    reference: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    archive: CheckpointArchive | None = None,
    proof_limit: int = PROOF_LIMIT,
    witness: CheckpointWitness | None = None,
) -> ExportResult:
    """Write the evidence bundle for one request or a period, under a fresh signed checkpoint."""
    if reference is None and since is None and until is None:
        raise InvalidInput("say what to export", ["selection: --request REF, or --since and/or --until"])
    if reference is not None and (since is not None or until is not None):
        raise InvalidInput("export one request or one period, not both", ["selection: --request or --since/--until"])
    if since is not None and until is not None and until <= since:
        raise InvalidInput("the period is empty", ["until: must be after since"])
    with ctx.uow() as uow:
        request_ids = [uow.requests.id_for_reference(reference)] if reference is not None else None
        size, head = uow.audit.head()
        # Few events: an RFC 9162 inclusion proof each, and a consistency proof from each
        # earlier checkpoint. Many: all leaf hashes once (32 bytes an event), from which the
        # verifier recomputes the root and every earlier checkpoint's root in one pass.
        log = _read_log(uow.audit, signer, size, set(uow.audit.event_seqs(request_ids, since, until, size)), proof_limit, witness)
        root, hashes, chosen, tree = log.root, log.hashes, log.chosen, log.tree
        now = ctx.clock()
        cp = _store_checkpoint(uow.audit, signer, archive, witness, size, root, head, now)
        refs = uow.requests.references({e.request_id for e in chosen})
        if any(e.request_id == STAFF_STREAM for e in chosen):
            refs[STAFF_STREAM] = STAFF_REFERENCE  # the staff stream is no request
        events = [
            {
                "seq": e.seq,
                "request_id": e.request_id,
                "reference": refs.get(e.request_id, "?"),
                "kind": e.kind,
                "at": e.at.isoformat(),
                "idempotency_key": e.idempotency_key,
                "sealed": base64.b64encode(e.details_enc).decode(),
                "details": uow.audit.open_details(e),
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            | ({"proof": [p.hex() for p in tree.inclusion_proof(e.seq - 1)]} if tree is not None else {})
            for e in chosen
        ]
        ids = sorted({e.request_id for e in chosen})
        shredded = uow.requests.shredded(set(ids))
        summary = _summary(uow, ctx, events, shredded, reference, since, until, cp)
        selection = {"request": reference, "since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
        letters = _letter_pdfs(ctx, uow, events, shredded)
        write_bundle(
            out,
            signer=signer,
            checkpoint={"statement": _json_statement(cp), "signature": cp.signature},
            events=events,
            summary_md=summary,
            selection=selection,
            created_at=now.isoformat(),
            leaves=None if tree is not None else b"".join(hashes),
            history=[
                {"statement": _json_statement(c), "signature": c.signature}
                | ({"proof": [p.hex() for p in tree.consistency_proof(c.tree_size)]} if tree is not None and c.tree_size else {})
                for c in log.earlier
            ],
            letters=letters,
        )
        # The export is recorded on each request it covers; a shredded request has no key left
        # to seal an event with, so its exports are not recorded (docs/audit.md).
        uow.audit.append([EvidenceExported(rid, now, size, len(events), signer.key_id) for rid in ids if rid not in shredded])
        uow.commit()
    return ExportResult(out, len(events), [refs[i] for i in ids], size, signer.key_id)


def _letter_pdfs(ctx: ServiceContext, uow: UnitOfWork, events: list[dict[str, Any]], shredded: set[str]) -> dict[str, bytes]:
    """The PDF of each letter the selected LetterSent events record, opened from its sealed copy
    and checked against the recorded digest (a copy that differs is left out, and the summary's
    count shows it); none for a shredded request (its key is gone)."""
    from dsar.services.correspondence import letter_pdf

    out: dict[str, bytes] = {}
    for e in events:
        details = e["details"] if isinstance(e.get("details"), dict) else {}
        digest = details.get("pdf_sha256")
        if e["kind"] != "LetterSent" or not digest or e["request_id"] in shredded:
            continue
        pdf = letter_pdf(ctx, uow, e["request_id"], str(details.get("message_id", "")))
        if pdf is None or hashlib.sha256(pdf).hexdigest() != digest:
            continue
        kind = re.sub(r"[^a-z0-9_.-]", "_", str(details.get("kind", "letter")).lower())[:60]
        out[f"letters/{e['reference']}/{e['seq']:08d}-{kind}.pdf"] = pdf
    return out


def _json_statement(cp: CheckpointRecord) -> dict[str, Any]:
    doc = json.loads(cp.statement)
    assert isinstance(doc, dict)
    return doc


STAFF_REFERENCE = "staff"  # how the staff stream's events are labelled in a bundle


def _summary(
    uow: UnitOfWork,
    ctx: ServiceContext,
    events: Sequence[dict[str, Any]],
    shredded_ids: Collection[str],
    reference: str | None,
    since: datetime | None,
    until: datetime | None,
    cp: CheckpointRecord,
) -> str:
    what = f"request {reference}" if reference else f"events from {since or 'the start'} until {until or 'now'}"
    out = [
        f"# Evidence: {what}",
        "",
        f"{len(events)} audit event(s), each proven to be in the signed tree of {cp.tree_size} events "
        f"(root `{cp.root_hash}`, signed {cp.signed_at.isoformat()} by `{cp.key_id}`).",
        "",
    ]
    by_request: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_request.setdefault(e["request_id"], []).append(e)
    tz = ctx.policy.timezone
    for rid, evs in by_request.items():
        if rid == STAFF_STREAM:
            out += [f"## {STAFF_REFERENCE}: staff accounts and API tokens", "", "| seq | at | event |", "|---|---|---|"]
            out += [f"| {e['seq']} | {e['at'][:19]} | {e['kind']} |" for e in evs]
            out.append("")
            continue
        r = uow.requests.facts(rid)  # no personal data in the summary: nothing is decrypted
        shredded = rid in shredded_ids
        d = uow.deadlines.get(rid)
        finished = next(
            (e for e in reversed(evs) if e["kind"] == "StatusChanged" and e["details"].get("to") in {s.value for s in DEADLINE_STOPPED}),
            None,
        )
        if finished is not None:
            on = datetime.fromisoformat(finished["at"]).astimezone(tz).date()
            verdict = f"answered on {on}: deadline {'met' if on <= d.due else 'MISSED'}"
        elif r.status in DEADLINE_STOPPED:
            verdict = f"{r.status.value} (the closing event is outside this selection)"
        else:
            verdict = "still open" + (f"; {'past due' if ctx.clock().astimezone(tz).date() > d.due else 'within the deadline'}")
        out += [
            f"## {r.reference}: {r.type.value} under {r.regime} ({r.country}{'-' + r.subdivision if r.subdivision else ''})",
            "",
            f"- Received {r.received_at.isoformat()}; status {r.status.value}" + (" (personal data shredded)" if shredded else ""),
            f"- Due {d.due}" + (f" (statutory {d.statutory_due}, extended)" if d.extended else "") + f"; {verdict}",
        ]
        decisions = [e for e in evs if e["kind"] in ("SignOffRecorded", "DeadlineExtended")]
        for e in decisions:
            det = e["details"]
            who = det.get("approver") or det.get("by") or "?"
            line = f"- Decision: {e['kind']} {det.get('decision', '')} by {who} on {e['at'][:10]}".replace("  ", " ")
            if e["kind"] == "SignOffRecorded":
                proof = "proven by an authenticator code" if det.get("verified_by") == "totp" else "approver not proven"
                line += f" ({proof}{'; given in ' + str(det['via']) if det.get('via') else ''})"
                line += "".join(f"; {label}: {det[k]}" for k, label in SIGN_OFF_PARTS if det.get(k))
            out.append(line)
        refused = [e for e in evs if e["kind"] == "SignOffRefused"]
        if refused:
            why = ", ".join(str(e["details"].get("reason", "?")).replace("_", " ") for e in refused)
            out.append(f"- Refused sign-off attempts: {len(refused)} ({why})")
        for e in (e for e in evs if e["kind"] == "SystemExported"):
            det = e["details"]
            out.append(f"- System {det.get('system')}: exported {det.get('records')} record(s) on {e['at'][:10]}")
        out += ["", "| seq | at | event |", "|---|---|---|"]
        out += [f"| {e['seq']} | {e['at'][:19]} | {e['kind']} |" for e in evs]
        out.append("")
    return "\n".join(out)


# --- crypto-shredding -----------------------------------------------------------------------


def shred_expired(ctx: ServiceContext, retention_months: int) -> list[str]:
    """Destroy the data keys of requests finished more than ``retention_months`` ago. Their
    personal data and event payloads become unreadable; the log still verifies."""
    now = ctx.clock()
    cutoff = now - relativedelta(months=retention_months)
    with ctx.uow() as uow:
        candidates = uow.requests.shred_candidates(cutoff)
    done: list[str] = []
    for rid, ref in candidates:
        with ctx.uow() as uow:
            uow.audit.append([KeyShredded(rid, now, retention_months)])
            uow.requests.shred(rid, now)
            uow.commit()
        done.append(ref)
    return done
