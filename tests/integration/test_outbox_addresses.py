"""The outbox builds each header from exactly one parsed address (security probe, items 1-2)."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from dsar.domain.errors import InvalidInput
from dsar.letters.outbox import FolderOutbox
from dsar.services.ports import OutgoingMail


def mail(to: str, message_id: str = "DSR-2026-000001.test@dsar") -> OutgoingMail:
    return OutgoingMail(message_id=message_id, to=to, sender="privacy@example-shop.test", subject="Your request", body="Hello")


@pytest.mark.parametrize(
    "to",
    [
        "=?utf-8?q?hostile3=40evil.example=2C=20third.party?=@evil.example",
        "=?utf-8?q?=0D=0ABcc=3A_x=40evil.example?=@evil.example",
        "a@example.com, b@evil.example",
        "Jane <a@example.com>",
        "a@example.com\r\nBcc: x@evil.example",
    ],
)
def test_a_recipient_that_is_not_exactly_one_address_is_refused_and_nothing_is_written(tmp_path: Path, to: str) -> None:
    box = FolderOutbox(tmp_path)
    with pytest.raises(InvalidInput) as err:
        box.send(mail(to))
    assert err.value.problems == ("recipient: not exactly one valid email address",)
    assert "evil" not in str(err.value)
    assert not list(tmp_path.glob("*.eml"))


def test_a_valid_recipient_is_the_only_one_the_message_names(tmp_path: Path) -> None:
    box = FolderOutbox(tmp_path)
    assert box.send(mail("jane.doe@example.com"))
    (written,) = tmp_path.glob("*.eml")
    msg = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert [a.addr_spec for a in msg["To"].addresses] == ["jane.doe@example.com"]
    assert msg["Bcc"] is None and msg["Cc"] is None
