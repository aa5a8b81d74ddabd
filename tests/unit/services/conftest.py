"""The services against the in-memory unit of work and fakes of the other ports: no database,
no network, no file system."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from dsar.connectors.base import Capability, ErasureKind
from dsar.connectors.schema import EntityMap, FieldMap, ManualSystem, SqlSystem
from dsar.domain.letter_sign_off import LetterSignOffPolicy
from dsar.domain.letters import TemplateApproval
from dsar.domain.request import Status
from dsar.domain.verification_policy import Proof
from dsar.services import identity, processing
from dsar.services.context import Policy, ServiceContext
from dsar.services.intake import log_request
from dsar.services.memory import InMemoryDatabase, MemoryTextMessenger
from tests.signoff import approve
from tests.unit.services.fakes import (
    FakeClock,
    FakeConnectorFactory,
    FakeRenderer,
    FakeSystem,
    MemoryObjectStore,
    RecordingMailer,
    counting_factory,
    fake_version,
)

JANE = "jane.doe@example.com"
JANE_PHONE = "+44 20 7946 0001"  # on file in the shop: the data point the subject can give
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
LETTER_KINDS = (
    "acknowledgement",
    "verification_code",
    "verification_reminder",
    "could_not_verify",
    "extension",
    "access_response",
    "deletion_response",
    "correction_response",
    "partial_refusal",
    "denial",
    "appeal_outcome",
    "recipient_notice",
    "package_code",
    "package_link",
    "verification_sms",
    "verification_sms_reminder",
    "letter_sms",
    "letter_sms_code",
)


def shop_map(recipients: tuple[str, ...] = ("Parcel carrier",)) -> SqlSystem:
    fields = {"email": FieldMap(category="contact", correctable="email"), "phone": FieldMap(category="contact", correctable="phone")}
    return SqlSystem(
        system="shop",
        title="Online shop",
        type="sql",
        connection="SHOP_URL",
        purposes=["Orders"],
        legal_basis="Contract",
        recipients=list(recipients),
        retention="10 years",
        source="You",
        entities={"customer": EntityMap(table="customer", key="id", identity={"email": "email"}, fields=fields)},
    )


def archive_map(erase: Any = None) -> ManualSystem:
    return ManualSystem(
        system="paper-archive",
        title="Paper archive",
        type="manual",
        purposes=["Contracts"],
        legal_basis="Contract",
        retention="10 years",
        source="You",
        instructions="Look in the binders under the subject's name.",
        categories=["contract"],
        erase=erase,
    )


def shop_data() -> FakeSystem:
    return FakeSystem(
        "shop",
        rows={
            "customer": [
                {"key": "1", "email": JANE, "phone": JANE_PHONE},
                {"key": "2", "email": "someone@example.org", "phone": "+44 20 7946 0002"},
            ],
            "orders": [{"key": "10", "email": JANE}, {"key": "11", "email": JANE}],
        },
        erasure={"customer": ErasureKind.ANONYMISE, "orders": ErasureKind.DELETE},
        correctable={"phone": "phone"},
    )


class World:
    """Everything a service test looks at afterwards."""

    def __init__(
        self,
        systems: list[FakeSystem],
        data_map: tuple[SqlSystem | ManualSystem, ...],
        manual: tuple[str, ...] = (),
        *,
        approve: bool = True,
        letter_sign_off: LetterSignOffPolicy | None = None,
    ) -> None:
        self.db = InMemoryDatabase()
        self.counts: Counter[str] = Counter()
        self.clock = FakeClock(START)
        self.mailer = RecordingMailer()
        self.objects = MemoryObjectStore()
        self.letters = FakeRenderer()
        self.texts = MemoryTextMessenger()
        self.connectors = FakeConnectorFactory(systems, manual)
        self.systems = {s.name: s for s in systems}
        self.ctx = ServiceContext(
            uow=counting_factory(self.db, self.counts),
            clock=self.clock,
            mailer=self.mailer,
            objects=self.objects,
            letters=self.letters,
            connectors=self.connectors,
            data_map=data_map,
            code_key=b"k" * 32,
            # Legal's letter sign-off (DSAR_LETTER_SIGN_OFF) is off in this world unless a test
            # asks for it: these tests are about the steps before and around the letter; the
            # sign-off itself is tested with it on in test_letter_sign_off.py.
            policy=Policy(
                organisation_name="Example Shop Ltd",
                privacy_contact="privacy@example-shop.test",
                letter_sign_off=letter_sign_off if letter_sign_off is not None else LetterSignOffPolicy(),
            ),
            texts=self.texts,
        )

        if approve:
            self.approve_letters()

    def approve_letters(self, languages: tuple[str, ...] = ("en", "de", "fr", "es")) -> None:
        """Legal approved the fake renderer's template of every letter kind (as `dsar templates
        approve` records it)."""
        with self.uow() as uow:
            for kind in LETTER_KINDS:
                for lang in languages:
                    path = f"{kind}/default.{lang}.j2"
                    if uow.templates.approved(path, fake_version(path)) is None:
                        uow.templates.add(TemplateApproval(path, fake_version(path), "fake", "lena.legal", 1, START, 1))
            uow.commit()

    def uow(self) -> Any:
        return self.ctx.uow()

    def events(self, request_id: str) -> list[str]:
        with self.uow() as uow:
            return [e.kind for e in uow.audit.events(request_id)]

    def details(self, request_id: str, kind: str) -> list[dict[str, Any]]:
        with self.uow() as uow:
            return [e.details for e in uow.audit.events(request_id) if e.kind == kind]

    def log(self, **overrides: Any) -> str:
        raw: dict[str, Any] = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": [JANE]}}
        raw.update(overrides)
        return log_request(self.ctx, raw).request.id

    def verify(self, request_id: str) -> None:
        processing.start_verification(self.ctx, request_id)
        assert prove(self, request_id).outcome is identity.StepOutcome.VERIFIED

    def approve(self, request_id: str) -> Status:
        self.verify(request_id)
        processing.plan_request(self.ctx, request_id)
        return approve(self.ctx, request_id)

    def reads(self) -> Counter[str]:
        """The reads of requests since the last call."""
        out = Counter({k: v for k, v in self.counts.items() if k in ("get", "facts")})
        self.counts.clear()
        return out


def prove(w: World, request_id: str, phone: str = JANE_PHONE) -> identity.Step:
    """The subject gives what their level asks for: the code from the letter, then their
    phone number on file as a data point and the declaration, as the web pages take them."""
    step = identity.use_code(w.ctx, request_id, w.letters.last_code())
    while step.outcome is identity.StepOutcome.MORE and step.session:
        if step.next is Proof.DATA_POINTS:
            step = identity.give_points(w.ctx, step.session, {"phone": phone})
        elif step.next is Proof.DECLARATION:
            step = identity.declare(w.ctx, step.session, "Jane Doe", True)
        else:
            break
    return step


@pytest.fixture
def world() -> World:
    return World([shop_data()], (shop_map(),))


@pytest.fixture
def manual_world() -> World:
    return World([shop_data()], (shop_map(), archive_map()), manual=("paper-archive",))


@pytest.fixture
def read_only_world() -> World:
    """A shop whose connector can only find and export (no erasure, no correction)."""
    data = shop_data()
    data.capabilities = frozenset({Capability.LOCATE, Capability.EXPORT})
    return World([data], (shop_map(),))


def download_package(world: World, request_id: str) -> dict[str, bytes]:
    """Follow the access letter's link as the subject does: ask for a code (it goes to the
    verified address), give it, and unzip what the download streams."""
    import io
    import zipfile

    from dsar.services import package

    (context,) = world.letters.contexts("access_response")
    token = context["package"]["url"].split("#", 1)[1]
    assert package.send_code(world.ctx, token) is None
    code = str(world.letters.contexts("package_code")[-1]["code"])
    got = package.open_download(world.ctx, token, code)
    assert isinstance(got, package.Download), got
    data = b"".join(got.chunks)
    assert len(data) == got.size
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return {name: z.read(name) for name in z.namelist()}
