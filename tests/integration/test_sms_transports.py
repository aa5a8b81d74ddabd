"""The SNS text-message transport through moto: a transactional SMS published to the number,
with the sender id when one is configured; the mail ledger (SQLite) keeps a re-run from
texting twice; throttling is tried again, a refusal is not, and no failure names the number or
the text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsar.domain.errors import DeliveryFailed
from dsar.letters.sms import SnsTexter
from dsar.persistence.database import make_engine, upgrade
from dsar.persistence.mail_ledger import SqlMailLedger
from dsar.services.ports import TextMessage

REGION = "eu-west-1"
NUMBER = "+49305550199"
BODY = "Example Shop Ltd: please confirm your privacy request DSR-2026-000001 with the code 48213907"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqlMailLedger]:
    engine = make_engine(f"sqlite:///{tmp_path / 'dsar.db'}")
    upgrade(engine)
    yield SqlMailLedger(engine)
    engine.dispose()


@pytest.fixture
def sns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("sns", region_name=REGION)


def sms_sent() -> dict[str, tuple[str, str]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return dict(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages)


def text(message_id: str = "DSR-2026-000001.verify-sms-1-1@dsar") -> TextMessage:
    return TextMessage(message_id, NUMBER, BODY)


def no_pause(_: float) -> None:
    return None


class Recording:
    """A boto3 SNS client that keeps the arguments of each publish and fails the first ``n``
    calls with ``code`` (SNS's own error shape)."""

    def __init__(self, client: Any, n: int = 0, code: str = "Throttled") -> None:
        self.client, self.n, self.code = client, n, code
        self.calls: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        self.calls.append(kwargs)
        if self.n > 0:
            self.n -= 1
            raise ClientError({"Error": {"Code": self.code, "Message": f"about {NUMBER}: {BODY}"}}, "Publish")
        return self.client.publish(**kwargs)


def test_sns_publishes_a_transactional_sms_once_and_the_ledger_drops_a_re_run(sns: Any, ledger: SqlMailLedger) -> None:
    client = Recording(sns)
    texter = SnsTexter(client, ledger, sender_id="ExampleShop", pause=no_pause)
    assert texter.send(text()) is True
    assert texter.send(text()) is False  # a re-run: the ledger has it, SNS is not called again
    assert SnsTexter(client, ledger, pause=no_pause).send(text()) is False  # another process, the same ledger
    assert list(sms_sent().values()) == [(NUMBER, BODY)]
    (call,) = client.calls
    assert call["PhoneNumber"] == NUMBER and call["Message"] == BODY
    assert call["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "ExampleShop"},
    }
    assert ledger.sent("DSR-2026-000001.verify-sms-1-1@dsar")


def test_without_a_sender_id_none_is_sent(sns: Any, ledger: SqlMailLedger) -> None:
    client = Recording(sns)
    assert SnsTexter(client, ledger, pause=no_pause).send(text()) is True
    assert set(client.calls[0]["MessageAttributes"]) == {"AWS.SNS.SMS.SMSType"}


def test_throttling_is_tried_again_then_held_with_a_reason_that_names_neither_number_nor_text(sns: Any, ledger: SqlMailLedger) -> None:
    pauses: list[float] = []
    assert SnsTexter(Recording(sns, 2), ledger, pause=pauses.append).send(text()) is True
    assert pauses == [1.0, 2.0] and len(sms_sent()) == 1
    with pytest.raises(DeliveryFailed, match=r"sns: SNS answered Throttled \(after 3 attempts\)") as failed:
        SnsTexter(Recording(sns, 9), ledger, pause=no_pause).send(text("again@dsar"))
    assert NUMBER not in str(failed.value) and "48213907" not in str(failed.value)
    assert not ledger.sent("again@dsar") and len(sms_sent()) == 1


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("InvalidParameter", r"sns: SNS refused the message \(InvalidParameter\) \(after 1 attempt\)"),
        ("AuthorizationError", r"sns: SNS refused the message \(AuthorizationError\) \(after 1 attempt\)"),
        ("InvalidClientTokenId", r"sns: no usable AWS credentials or region \(InvalidClientTokenId\) \(after 1 attempt\)"),
    ],
)
def test_a_refusal_is_not_tried_again(sns: Any, ledger: SqlMailLedger, code: str, reason: str) -> None:
    client = Recording(sns, 1, code)
    with pytest.raises(DeliveryFailed, match=reason) as failed:
        SnsTexter(client, ledger, pause=no_pause).send(text())
    assert len(client.calls) == 1 and NUMBER not in str(failed.value)
    assert not ledger.sent(text().message_id)


def test_an_unreachable_endpoint_is_transient(ledger: SqlMailLedger) -> None:
    from botocore.exceptions import EndpointConnectionError

    class Down:
        calls = 0

        def publish(self, **kwargs: Any) -> Any:
            Down.calls += 1
            raise EndpointConnectionError(endpoint_url="https://sns.eu-west-1.amazonaws.com/")

    with pytest.raises(DeliveryFailed, match=r"sns: SNS could not be reached \(EndpointConnectionError\) \(after 2 attempts\)"):
        SnsTexter(Down(), ledger, attempts=2, pause=no_pause).send(text())
    assert Down.calls == 2
