"""The auditor's evidence bundle: writing it, and verifying it offline.

A bundle is a zip file:

* ``checkpoint.json`` — the signed tree head: ``statement`` (log, tree size, RFC 9162 Merkle root,
  hash-chain head, time, key id) and its Ed25519 ``signature`` over the canonical statement bytes;
* ``public_key.pem`` — the Ed25519 public key (pin it by its fingerprint, ``key_id``);
* ``events.jsonl`` — one selected audit event per line: its identity, the sealed payload exactly
  as hashed (base64), the decrypted ``details`` for reading, its chain links and its inclusion
  proof in the signed tree;
* ``summary.md`` — a readable account per request;
* ``history.json`` — every earlier signed checkpoint of the log, each with an RFC 9162
  consistency proof to this bundle's checkpoint (or, when ``leaves.bin`` holds every leaf
  hash, the verifier recomputes their roots): the log only grew since each was signed;
* ``letters/REFERENCE/….pdf`` — the PDF of each letter an event in the bundle records as sent
  (``LetterSent`` with ``pdf_sha256``), as it was mailed; letters carrying a one-time link or
  code are never kept. The verifier checks each against the manifest and against its event;
* ``manifest.json`` — the selection, the checkpoint, every event's sequence number and line
  digest, and the SHA-256 of every other file; ``manifest.sig`` signs it.

Verification needs no database and no secret: see :func:`verify_bundle` and docs/audit.md.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsar.audit.chain import chain_hash, leaf_bytes_iso
from dsar.audit.merkle import leaf_hash, prefix_roots, root_of, verify_consistency, verify_inclusion
from dsar.crypto.signing import Signer, key_id_of, load_public_pem, public_raw, verify_signature

FORMAT = "dsar-evidence/1"
LOG_ID = "dsar-audit"
LETTERS_DIR = "letters/"
REQUIRED = ("manifest.json", "manifest.sig", "checkpoint.json", "public_key.pem", "events.jsonl", "summary.md")


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(
    path: Path,
    *,
    signer: Signer,
    checkpoint: dict[str, Any],
    events: Sequence[dict[str, Any]],
    summary_md: str,
    selection: dict[str, Any],
    created_at: str,
    leaves: bytes | None = None,
    history: Sequence[dict[str, Any]] = (),
    letters: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write the bundle atomically (temporary file, then rename); return its manifest.

    ``leaves``: every leaf hash of the signed tree, concatenated. Given for large selections,
    where recomputing the root once is cheaper than a proof per event; events then carry no
    ``proof``."""
    lines = [canonical(e) for e in events]
    files = {
        "checkpoint.json": canonical(checkpoint),
        "public_key.pem": signer.public_pem,
        "events.jsonl": b"".join(line + b"\n" for line in lines),
        "summary.md": summary_md.encode(),
        "README.txt": README.encode(),
        "history.json": canonical({"checkpoints": list(history)}),
    }
    if leaves is not None:
        files["leaves.bin"] = leaves
    extra = sorted((letters or {}).items())
    for name, data in extra:
        if not name.startswith(LETTERS_DIR) or ".." in name:
            raise ValueError("a letter's name must lie under letters/")
        files[name] = data
    manifest = {
        "format": FORMAT,
        "created_at": created_at,
        "selection": selection,
        "checkpoint": checkpoint["statement"],
        "key_id": signer.key_id,
        "events": [[e["seq"], sha256_hex(line)] for e, line in zip(events, lines, strict=True)],
        "files": {name: sha256_hex(data) for name, data in sorted(files.items()) if name != "events.jsonl"},
    }
    manifest_bytes = canonical(manifest)
    files["manifest.json"] = manifest_bytes
    files["manifest.sig"] = base64.b64encode(signer.sign(manifest_bytes))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in (
            "manifest.json",
            "manifest.sig",
            "checkpoint.json",
            "public_key.pem",
            "events.jsonl",
            "summary.md",
            "README.txt",
            "history.json",
            "leaves.bin",
            *(name for name, _ in extra),
        ):
            if name not in files:
                continue
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])
    tmp.replace(path)
    return manifest


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str
    events: int = 0
    bad_seq: int | None = None
    key_id: str | None = None


class _Bad(Exception):
    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


def verify_bundle(path: Path, trusted_public_pem: bytes | None = None, known_checkpoints: Sequence[bytes] = ()) -> Verdict:
    """Check a bundle offline. The first problem found is reported, naming the event.

    ``known_checkpoints``: checkpoint documents the auditor kept from earlier (an earlier
    bundle's checkpoint.json, or a copy from the Object Lock archive); each must be one this
    bundle's log provably extends."""
    try:
        return _verify(path, trusted_public_pem, known_checkpoints)
    except _Bad as bad:
        return Verdict(False, str(bad), bad_seq=bad.seq)


def _verify(path: Path, trusted_public_pem: bytes | None, known_checkpoints: Sequence[bytes]) -> Verdict:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            missing = [n for n in REQUIRED if n not in names]
            if missing:
                raise _Bad(f"bundle is incomplete: {', '.join(missing)} missing")
            files = {n: z.read(n) for n in REQUIRED}
            for optional in ("leaves.bin", "history.json"):
                if optional in names:
                    files[optional] = z.read(optional)
            for name in names:
                if name.startswith(LETTERS_DIR):
                    files[name] = z.read(name)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise _Bad(f"bundle is not a readable zip file ({type(exc).__name__})") from None

    try:
        key = load_public_pem(files["public_key.pem"])
    except ValueError as exc:
        raise _Bad(f"public_key.pem: {exc}") from None
    key_id = key_id_of(public_raw(key))
    if trusted_public_pem is not None:
        try:
            trusted = key_id_of(public_raw(load_public_pem(trusted_public_pem)))
        except ValueError as exc:
            raise _Bad(f"trusted key: {exc}") from None
        if trusted != key_id:
            raise _Bad(f"the bundle is signed by {key_id}, not by the trusted key {trusted}")

    try:
        signature = base64.b64decode(files["manifest.sig"], validate=True)
    except ValueError:
        raise _Bad("manifest.sig is not base64") from None
    if not verify_signature(key, signature, files["manifest.json"]):
        raise _Bad("the manifest signature does not match the public key (manifest altered, or another key)")
    manifest = _json(files["manifest.json"], "manifest.json")
    if manifest.get("format") != FORMAT:
        raise _Bad(f"unknown bundle format {manifest.get('format')!r}")

    checkpoint = _json(files["checkpoint.json"], "checkpoint.json")
    statement = checkpoint.get("statement")
    if not isinstance(statement, dict) or not isinstance(checkpoint.get("signature"), str):
        raise _Bad("checkpoint.json has no statement and signature")
    try:
        cp_sig = base64.b64decode(checkpoint["signature"], validate=True)
    except ValueError:
        raise _Bad("checkpoint signature is not base64") from None
    if not verify_signature(key, cp_sig, canonical(statement)):
        raise _Bad("the checkpoint signature does not match the public key")
    if statement != manifest.get("checkpoint"):
        raise _Bad("checkpoint.json is not the checkpoint the manifest was signed with (swapped)")
    if statement.get("log") != LOG_ID or statement.get("key_id") != key_id:
        raise _Bad("the checkpoint names another log or key")

    for name, digest in manifest.get("files", {}).items():
        if name.startswith(LETTERS_DIR) and name not in files:
            raise _Bad(f"{name} was removed (the manifest lists it)")
        if name in files and sha256_hex(files[name]) != digest:
            raise _Bad(f"{name} was altered (its SHA-256 differs from the manifest)")
    for name in files:
        if name.startswith(LETTERS_DIR) and name not in manifest.get("files", {}):
            raise _Bad(f"{name} was inserted: it is not in the signed manifest")

    root = bytes.fromhex(statement["root_hash"])
    size = int(statement["tree_size"])
    all_leaves: bytes | None = None
    if "leaves.bin" in manifest.get("files", {}):
        if "leaves.bin" not in files:
            raise _Bad("leaves.bin is listed in the manifest but missing")
        all_leaves = files["leaves.bin"]
        if len(all_leaves) != 32 * size or root_of([all_leaves[i : i + 32] for i in range(0, len(all_leaves), 32)]) != root:
            raise _Bad("leaves.bin does not hash to the signed root (altered, or the checkpoint was swapped)")
    expected: list[list[Any]] = manifest.get("events", [])
    expected_seqs = [int(s) for s, _ in expected]
    position = {s: i for i, s in enumerate(expected_seqs)}
    lines = files["events.jsonl"].decode("utf-8", errors="replace").splitlines()
    parsed: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        try:
            e = json.loads(line)
            e["seq"] = int(e["seq"])
        except (ValueError, KeyError, TypeError):
            raise _Bad(f"events.jsonl line {i + 1} is not an event", expected_seqs[i] if i < len(expected_seqs) else None) from None
        parsed.append(e)
    present = {e["seq"] for e in parsed}
    previous: dict[str, Any] | None = None
    for i, (line, e) in enumerate(zip(lines, parsed, strict=True)):
        seq = e["seq"]
        if seq not in position:
            raise _Bad(f"event {seq} was inserted: it is not in the signed manifest", seq)
        if i >= len(expected_seqs):
            raise _Bad(f"event {seq} was inserted: the manifest lists {len(expected_seqs)} event(s)", seq)
        if seq != expected_seqs[i]:
            want = expected_seqs[i] if i < len(expected_seqs) else None
            if want is not None and want not in present:
                raise _Bad(f"event {want} was removed", want)
            raise _Bad(f"event {seq} is out of order" + (f": event {want} belongs here" if want is not None else ""), seq)
        if sha256_hex(line.encode()) != expected[i][1]:
            raise _Bad(f"event {seq} was altered (its line differs from the signed manifest)", seq)
        _check_event(e, size, root, previous, all_leaves)
        previous = e
    if len(lines) < len(expected_seqs):
        raise _Bad(f"event {expected_seqs[len(lines)]} was removed (the bundle is truncated)", expected_seqs[len(lines)])
    history = _check_history(manifest, files, key, key_id, size, root, all_leaves, known_checkpoints)
    letters = _check_letters(files, parsed)
    return Verdict(
        True, f"intact: {len(lines)} event(s) in a signed tree of {size}; {history}{letters}; key {key_id}", len(lines), None, key_id
    )


def _check_letters(files: dict[str, bytes], events: Sequence[dict[str, Any]]) -> str:
    """Each letter PDF is the one a LetterSent event of the bundle recorded (by its digest)."""
    recorded = {
        str(e.get("details", {}).get("pdf_sha256")): e["seq"]
        for e in events
        if e.get("kind") == "LetterSent" and isinstance(e.get("details"), dict) and e["details"].get("pdf_sha256")
    }
    pdfs = sorted(n for n in files if n.startswith(LETTERS_DIR))
    for name in pdfs:
        if sha256_hex(files[name]) not in recorded:
            raise _Bad(f"{name} is not the PDF any LetterSent event of the bundle records")
    return f"; {len(pdfs)} letter PDF(s), each the one its LetterSent event records" if pdfs else ""


def _signed_statement(doc: dict[str, Any], key: Any, what: str) -> dict[str, Any]:
    statement, signature = doc.get("statement"), doc.get("signature")
    if not isinstance(statement, dict) or not isinstance(signature, str):
        raise _Bad(f"{what} has no statement and signature")
    try:
        raw = base64.b64decode(signature, validate=True)
    except ValueError:
        raise _Bad(f"{what}: the signature is not base64") from None
    if not verify_signature(key, raw, canonical(statement)):
        raise _Bad(f"{what}: the signature does not match the public key (altered, or signed by another key)")
    if statement.get("log") != LOG_ID or not isinstance(statement.get("tree_size"), int) or not isinstance(statement.get("root_hash"), str):
        raise _Bad(f"{what} is not a checkpoint of this log")
    return statement


def _check_history(
    manifest: dict[str, Any],
    files: dict[str, bytes],
    key: Any,
    key_id: str,
    size: int,
    root: bytes,
    all_leaves: bytes | None,
    known_checkpoints: Sequence[bytes],
) -> str:
    """Every earlier checkpoint in history.json (and every one the auditor kept) is a prefix
    of the signed tree: the log only grew. Returns what was checked, for the verdict."""
    if "history.json" not in manifest.get("files", {}):
        if known_checkpoints:
            raise _Bad("this bundle carries no checkpoint history (an older format): the checkpoints you kept cannot be checked")
        return "no checkpoint history (older format)"
    if "history.json" not in files:
        raise _Bad("history.json is listed in the manifest but missing")
    entries = _json(files["history.json"], "history.json").get("checkpoints")
    if not isinstance(entries, list):
        raise _Bad("history.json lists no checkpoints")
    other_key = 0
    proven: set[tuple[int, str]] = set()
    pending: list[tuple[int, str, str]] = []  # (size, root, when) to check against leaves.bin
    for i, entry in enumerate(entries):
        what = f"history.json checkpoint {i + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("statement"), dict):
            raise _Bad(f"{what} is malformed")
        if entry["statement"].get("key_id") != key_id:
            other_key += 1  # signed before the signing key changed: not checkable with this key
            continue
        st = _signed_statement(entry, key, what)
        m, old_root, when = int(st["tree_size"]), str(st["root_hash"]), str(st.get("signed_at", "?"))
        if m > size:
            raise _Bad(f"{what} (signed {when}) covers {m} events, more than this bundle's tree of {size}: the log was truncated")
        if m == 0:
            continue
        if "proof" in entry:
            try:
                proof = [bytes.fromhex(p) for p in entry["proof"]]
                ok = verify_consistency(m, size, bytes.fromhex(old_root), root, proof)
            except (ValueError, TypeError):
                ok = False
            if not ok:
                raise _Bad(f"{what} (signed {when}, tree of {m}) is not a prefix of the signed tree: the log was rewritten after it")
        elif all_leaves is not None:
            pending.append((m, old_root, when))
        else:
            raise _Bad(f"{what} carries no consistency proof")
        proven.add((m, old_root))
    if pending and all_leaves is not None:
        roots = prefix_roots((all_leaves[i : i + 32] for i in range(0, len(all_leaves), 32)), {m for m, _, _ in pending})
        for m, old_root, when in pending:
            if roots[m].hex() != old_root:
                raise _Bad(f"the checkpoint signed {when} (tree of {m}) is not a prefix of the signed tree: the log was rewritten after it")
    for i, doc_bytes in enumerate(known_checkpoints):
        what = f"kept checkpoint {i + 1}"
        st = _signed_statement(_json(doc_bytes, what), key, what)
        m, old_root = int(st["tree_size"]), str(st["root_hash"])
        same_as_this = m == size and old_root == root.hex()
        if not same_as_this and (m, old_root) not in proven:
            raise _Bad(
                f"{what} (signed {st.get('signed_at', '?')}, tree of {m}) is not among the checkpoints this bundle's log provably "
                "extends: the log was rewritten or truncated, or that checkpoint is from another log"
            )
    checked = f"consistent with {len(entries) - other_key} earlier checkpoint(s)"
    if known_checkpoints:
        checked += f" including the {len(known_checkpoints)} you kept"
    if other_key:
        checked += f"; {other_key} signed by another key, not checked"
    return checked


def _check_event(e: dict[str, Any], size: int, root: bytes, previous: dict[str, Any] | None, all_leaves: bytes | None) -> None:
    seq = int(e["seq"])
    try:
        sealed = base64.b64decode(e["sealed"], validate=True)
        leaf = leaf_bytes_iso(seq, e["request_id"], e["kind"], e["at"], e["idempotency_key"], sealed)
        proof = [bytes.fromhex(p) for p in e.get("proof", [])]
    except (KeyError, ValueError, TypeError):
        raise _Bad(f"event {seq} is malformed", seq) from None
    if all_leaves is not None:
        inside = 0 < seq <= size and all_leaves[(seq - 1) * 32 : seq * 32] == leaf_hash(leaf)
    else:
        inside = verify_inclusion(leaf_hash(leaf), seq - 1, size, proof, root)
    if not inside:
        raise _Bad(f"event {seq} is not in the signed tree (altered, or the checkpoint was swapped)", seq)
    if chain_hash(e["prev_hash"], leaf) != e["hash"]:
        raise _Bad(f"event {seq}: its hash-chain link does not match its content", seq)
    if previous is not None and int(previous["seq"]) == seq - 1 and previous["hash"] != e["prev_hash"]:
        raise _Bad(f"event {seq} does not follow event {seq - 1} in the hash chain", seq)


def _json(data: bytes, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise _Bad(f"{name} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _Bad(f"{name} is not a JSON object")
    return doc


def read_member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def rewrite_member(path: Path, name: str, data: bytes) -> None:
    """Replace one file of a bundle (used by tests and docs to show tampering is caught)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[name] = data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    path.write_bytes(buf.getvalue())


README = """\
dsar evidence bundle

Verify it offline with `dsar audit verify THIS.zip [--public-key KEY.pem]`, or by hand with
standard tools as docs/audit.md shows:

1. manifest.sig is an Ed25519 signature (base64) over manifest.json by public_key.pem;
2. every file but events.jsonl has the SHA-256 the manifest lists; each line of events.jsonl
   has the SHA-256 listed next to its sequence number, in order;
3. checkpoint.json's signature covers its statement (canonical JSON: sorted keys, no spaces);
4. each event's leaf is JSON [seq, request_id, kind, at, idempotency_key] + 0x00 + the sealed
   bytes; SHA-256(0x00 || leaf) with its proof gives the statement's root_hash (RFC 9162);
5. history.json lists every earlier signed checkpoint with an RFC 9162 consistency proof to
   checkpoint.json: the log only grew since each. Pass checkpoints you kept from earlier
   bundles with --known-checkpoint to have them checked too;
6. letters/ holds the PDF of each letter sent, as mailed: its SHA-256 is the pdf_sha256 of a
   LetterSent event in events.jsonl.

Compare the key_id in manifest.json with the one your organisation published.
"""
