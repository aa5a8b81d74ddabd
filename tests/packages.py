"""Following an access letter's package link as the subject does, through the outbox."""

from __future__ import annotations

import io
import re
import zipfile
from email import message_from_bytes, policy
from pathlib import Path

from dsar.services import package
from dsar.services.context import ServiceContext

LINK = re.compile(r"/package\?lang=[a-z]{2}#([0-9a-f]{64})")  # the page in the letter's language, the secret in the fragment
CODE = re.compile(r"^\s+(\d{6})\s*$", re.M)


def body_of(path: Path) -> str:
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_token(letter_body: str) -> str | None:
    m = LINK.search(letter_body)
    return m.group(1) if m else None


def latest_package_code(outbox: Path, reference: str) -> str:
    mails = sorted(outbox.glob(f"{reference}.package-code-*.eml"), key=lambda p: p.stat().st_mtime_ns)
    assert mails, "no download code was mailed"
    m = CODE.search(body_of(mails[-1]))
    assert m, "the code mail carries no code"
    return m.group(1)


def download(ctx: ServiceContext, outbox: Path, reference: str) -> dict[str, bytes]:
    """The files of the package the request's access letter links to."""
    token = link_token(body_of(outbox / f"{reference}.access_response_dsar.eml"))
    assert token, "the access letter carries no package link"
    assert package.send_code(ctx, token) is None
    got = package.open_download(ctx, token, latest_package_code(outbox, reference))
    assert isinstance(got, package.Download), got
    data = b"".join(got.chunks)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return {n: z.read(n) for n in z.namelist()}
