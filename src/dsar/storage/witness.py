"""The checkpoint witness as an append-only file outside the database (JSON Lines, one signed
checkpoint a line, 0600, fsynced). By default under the evidence folder; point
``DSAR_CHECKPOINT_WITNESS_FILE`` at storage the database's administrators cannot rewrite (another
host's mount, a WORM volume) for it to witness against them too."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dsar.domain.errors import IntegrityError
from dsar.domain.events import CheckpointRecord
from dsar.services.ports import CheckpointWitness, WitnessedCheckpoint


class FileWitness(CheckpointWitness):
    def __init__(self, path: Path) -> None:
        self.path = path

    def latest(self) -> WitnessedCheckpoint | None:
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 65536))
                tail = f.read()
        except FileNotFoundError:
            return None
        lines = [line for line in tail.split(b"\n") if line.strip()]
        if not lines:
            return None
        try:
            doc = json.loads(lines[-1])
            return WitnessedCheckpoint(int(doc["tree_size"]), str(doc["root_hash"]), str(doc["signed_at"]), str(doc["key_id"]))
        except (ValueError, KeyError, TypeError):
            raise IntegrityError(f"the checkpoint witness {self.path} is damaged (its last line is not a checkpoint)") from None

    def record(self, checkpoint: CheckpointRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = json.dumps(
            {
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "chain_head": checkpoint.chain_head,
                "signed_at": checkpoint.signed_at.isoformat(),
                "key_id": checkpoint.key_id,
                "statement": checkpoint.statement,
                "signature": checkpoint.signature,
            },
            sort_keys=True,
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
