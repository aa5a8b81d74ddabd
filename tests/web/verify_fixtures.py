"""Helpers for the identity pages' tests: the web app over the demo shop (the system of
record), logging a request, starting its verification as the flow's first task does, and
reading the letter the subject got from the outbox (as from a mailbox)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from dsar.services import processing, queries
from dsar.services.intake import log_request
from tests.web.conftest import WebApp, csrf_from

JANE = "jane.doe@example.com"  # the demo shop's customer 1 (Paris, 75001; +49 30 5550101)
ANA = "ana.silva@example.com"  # customer 2 (San Francisco, 94103; +1 415 5550102)
_LINK = re.compile(r"(http://\S+/verify/l/[0-9a-f]+)")
_CODE = re.compile(r"^\s{4}(\d{8})\s*$", re.M)


@dataclass
class Letter:
    to: str
    subject: str
    body: str
    link: str | None
    code: str | None

    @property
    def path(self) -> str:
        assert self.link
        return "/" + self.link.split("://", 1)[1].split("/", 1)[1]


def log(w: WebApp, email: str | None = JANE, **overrides: Any) -> str:
    raw: dict[str, Any] = {
        "type": "access",
        "regime": "gdpr",
        "country": "DE",
        "subject": {"name": "Jane Doe", "emails": [email] if email else []},
    }
    raw.update(overrides)
    return log_request(w.web.ctx, raw).request.id


def start(w: WebApp, request_id: str) -> str:
    """The flow's first task; returns the request's status."""
    return processing.start_verification(w.web.ctx, request_id).value


def reference(w: WebApp, request_id: str) -> str:
    return queries.lookup_id(w.web.ctx, request_id).reference


def status(w: WebApp, request_id: str) -> str:
    return queries.lookup_id(w.web.ctx, request_id).status.value


def letters(w: WebApp, ref: str, kind: str = "verify") -> list[Letter]:
    out = []
    for p in sorted(w.app.settings.effective_outbox_dir.glob(f"{ref}.{kind}*.eml")):
        msg = message_from_bytes(p.read_bytes(), policy=policy.default)
        body_part = msg.get_body(preferencelist=("plain",))
        body = str(body_part.get_content()) if body_part is not None else ""
        link, code = _LINK.search(body), _CODE.search(body)
        out.append(Letter(str(msg["To"]), str(msg["Subject"]), body, link.group(1) if link else None, code.group(1) if code else None))
    return out


def all_mail(w: WebApp) -> list[Path]:
    folder = w.app.settings.effective_outbox_dir
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def open_link(client: TestClient, letter: Letter, confirm: str = "yes") -> Any:
    page = client.get(letter.path)
    assert page.status_code == 200, page.text
    return client.post(letter.path, data={"csrf_token": csrf_from(page.text), "confirm": confirm})


def session_of(page: str) -> str:
    m = re.search(r'name="session" value="([^"]+)"', page)
    assert m, "the page carries no session"
    return m.group(1)


def post(client: TestClient, path: str, fields: dict[str, str]) -> Any:
    token = csrf_from(client.get("/verify").text)
    return client.post(path, data={"csrf_token": token, **fields})


def give_code(client: TestClient, ref: str, code: str) -> Any:
    return post(client, "/verify", {"reference": ref, "code": code})
