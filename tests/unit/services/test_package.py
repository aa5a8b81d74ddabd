"""The access package (dsar.services.package): built from the spooled exports, sealed at
rest, handed out once through an expiring link and a fresh one-time code; never holding what
must not be disclosed; and never half-built."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import BinaryIO

import pytest

from dsar.connectors.base import ErasureKind
from dsar.connectors.schema import EntityMap, FieldMap, SqlSystem
from dsar.domain.packages import CODE_ATTEMPTS, CodeRefusal, LinkRefusal
from dsar.domain.request import Status
from dsar.domain.verification_policy import Proof
from dsar.services import identity, package
from dsar.services import processing as svc
from dsar.services.streams import MemoryStreamStore, StreamStore
from tests.documents import PNG, make_docx, make_pdf
from tests.signoff import approve
from tests.unit.services.conftest import JANE, JANE_PHONE, World, download_package
from tests.unit.services.fakes import FakeSystem

SSN = "123-45-6789"
CARD = "4111 1111 1111 1111"
TAX = "DE-TAX-998877"
HOSTILE_DOC = "../../../../etc/cron.d/evil"


def shop_with_secrets() -> SqlSystem:
    fields = {
        "email": FieldMap(category="contact", description="The email address you gave us"),
        "phone": FieldMap(category="contact"),
        "nickname": FieldMap(category="profile"),
        "postcode": FieldMap(category="contact"),
        "tax_number": FieldMap(category="identity", withhold="government_id"),
        "referrer": FieldMap(category="referral", withhold="third_party"),
        "note": FieldMap(category="support", description="What support wrote about your calls"),
    }
    return SqlSystem(
        system="shop",
        title="Online shop",
        type="sql",
        connection="SHOP_URL",
        purposes=["Orders"],
        legal_basis="Contract",
        recipients=["Parcel carrier"],
        retention="10 years",
        source="You",
        entities={"customer": EntityMap(table="customer", key="id", identity={"email": "email"}, fields=fields)},
    )


def data() -> FakeSystem:
    doc = make_pdf("Your receipt, order 42")
    return FakeSystem(
        "shop",
        rows={
            "customer": [
                {
                    "key": "1",
                    "email": JANE,
                    "phone": JANE_PHONE,
                    "nickname": '=HYPERLINK("http://evil")',
                    "postcode": "94103",
                    "tax_number": TAX,
                    "referrer": "Bob Smith",
                    "note": f"Caller read out SSN {SSN} and card {CARD} <script>alert(1)</script>",
                },
                {"key": "2", "email": "someone@example.org", "note": "not Jane"},
            ],
            "orders": [{"key": "10", "email": JANE}, {"key": "11", "email": JANE}],
            "uploads": [{"key": HOSTILE_DOC, "email": JANE, "content_base64": base64.b64encode(doc).decode()}],
        },
        erasure={"customer": ErasureKind.ANONYMISE, "orders": ErasureKind.DELETE},
    )


@pytest.fixture
def shop() -> World:
    return World([data()], (shop_with_secrets(),))


def answered(w: World, **overrides: object) -> str:
    rid = w.log(**overrides)
    assert w.approve(rid) is Status.EXECUTING
    assert svc.execute_plan(w.ctx, rid) is Status.RESPONDING
    assert svc.send_response(w.ctx, rid) is Status.CLOSED
    return rid


def token_of(w: World) -> str:
    return str(w.letters.contexts("access_response")[-1]["package"]["url"].split("#", 1)[1])


def all_plaintext(w: World, rid: str) -> bytes:
    """Every byte kept at rest for the request, opened: the package and any spool left."""
    out = []
    for key in w.ctx.streams.keys(""):
        out.append(b"".join(package.sealed_chunks(w.ctx, rid, key)))
    return b"".join(out)


# --- what is in it ----------------------------------------------------------------------------


def test_the_package_holds_json_csv_documents_and_an_index(shop: World) -> None:
    rid = answered(shop)
    ref = svc.reference_of(shop.ctx, rid)
    files = download_package(shop, rid)
    root = f"{ref}-your-data"
    assert set(files) == {
        f"{root}/index.html",
        f"{root}/shop/customer.json",
        f"{root}/shop/customer.csv",
        f"{root}/shop/orders.json",
        f"{root}/shop/orders.csv",
        f"{root}/shop/uploads.json",
        f"{root}/shop/uploads.csv",
        f"{root}/shop/documents/0001-evil",
    }
    assert files[f"{root}/shop/documents/0001-evil"] == make_pdf("Your receipt, order 42")
    (customer,) = json.loads(files[f"{root}/shop/customer.json"])["items"]
    assert customer["email"] == JANE and "tax_number" not in customer and "referrer" not in customer
    (upload,) = json.loads(files[f"{root}/shop/uploads.json"])["items"]
    assert upload["file"] == "shop/documents/0001-evil" and "content_base64" not in upload
    csv_text = files[f"{root}/shop/customer.csv"].decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "key,email,phone,nickname,postcode,note"
    assert "'=HYPERLINK" in csv_text  # a formula is shown as text, never run
    index = files[f"{root}/index.html"].decode()
    assert "The email address you gave us" in index and "What support wrote about your calls" in index
    assert "<code>tax_number</code>: a government identification number" in index
    assert "<code>referrer</code>: data about other people" in index
    assert "<script>" not in index
    with shop.uow() as uow:
        kinds = [e.kind for e in uow.audit.events(rid)]
    assert {"PackageCreated", "PackageCodeSent", "PackageDownloaded"} <= set(kinds)


def test_withheld_values_are_nowhere_not_in_the_package_nor_at_rest(shop: World) -> None:
    rid = answered(shop)
    files = download_package(shop, rid)
    everything = b"".join(files.values()) + all_plaintext(shop, rid)
    for secret in (TAX, "Bob Smith", SSN, CARD, CARD.replace(" ", "")):
        assert secret.encode() not in everything
    note = json.loads(next(v for k, v in files.items() if k.endswith("customer.json")))["items"][0]["note"]
    assert note == "Caller read out SSN [withheld: SSN/ITIN] and card [withheld: card number] <script>alert(1)</script>"
    with shop.uow() as uow:
        (created,) = [e.details for e in uow.audit.events(rid) if e.kind == "PackageCreated"]
    assert created["withheld"] == {"field:government_id": 1, "field:third_party": 1, "text:card": 1, "text:ssn": 1}


def test_documents_are_checked_text_scrubbed_and_what_holds_a_number_or_cannot_be_read_withheld() -> None:
    docs = {
        "call-notes.txt": f"Called 3 May.\nShe read out SSN {SSN} and card {CARD}.\nAll fine.\n".encode(),
        "statement.pdf": make_pdf(f"Card {CARD} charged 12.00"),
        "letter.docx": make_docx("Your SSN ", "123-45-", "6789", " is on file"),  # the number split into runs
        "passport.png": PNG,
        "receipt.pdf": make_pdf("Your receipt, order 42"),
    }
    uploads = [{"key": f"uploads/{name}", "email": JANE, "content_base64": base64.b64encode(body).decode()} for name, body in docs.items()]
    system = FakeSystem("shop", rows={"customer": [{"key": "1", "email": JANE}], "uploads": uploads})
    w = World([system], (shop_with_secrets(),))
    rid = answered(w)
    root = f"{svc.reference_of(w.ctx, rid)}-your-data"
    files = download_package(w, rid)
    included = sorted(k.rsplit("/", 1)[1] for k in files if "/documents/" in k)
    assert included == ["0001-call-notes.txt", "0002-receipt.pdf"]  # numbered as written
    assert files[f"{root}/shop/documents/0001-call-notes.txt"] == (
        b"Called 3 May.\nShe read out SSN [withheld: SSN/ITIN] and card [withheld: card number].\nAll fine.\n"
    )
    assert files[f"{root}/shop/documents/0002-receipt.pdf"] == docs["receipt.pdf"]  # as it was, byte for byte
    records = {r["key"]: r["file"] for r in json.loads(files[f"{root}/shop/uploads.json"])["items"]}
    assert records["uploads/passport.png"] == records["uploads/statement.pdf"] == "[withheld: see the index]"
    index = files[f"{root}/index.html"].decode()
    assert "<code>statement.pdf</code>: not included, because it holds a card or financial account number" in index
    assert "<code>letter.docx</code>: not included, because it holds a Social Security number" in index
    assert "<code>passport.png</code>: not included, because its content (an image" in index and "review it by hand" in index
    everything = b"".join(files.values()) + all_plaintext(w, rid)
    for secret in (SSN, CARD, CARD.replace(" ", ""), "123-45-"):
        assert secret.encode() not in everything
    with w.uow() as uow:
        (created,) = [e.details for e in uow.audit.events(rid) if e.kind == "PackageCreated"]
    assert created["withheld"] == {
        "document:financial_account": 1,
        "document:government_id": 1,
        "document:unscannable": 1,
        "text:card": 1,
        "text:ssn": 1,
    }


def test_a_document_that_cannot_be_read_goes_in_where_the_data_map_says_so() -> None:
    from dsar.services.redaction import DocumentScanner, Redactor, document_kind

    scanner = DocumentScanner(Redactor())
    assert [document_kind(b, n) for n, b in (("a.png", PNG), ("a.pdf", make_pdf("x")), ("a.docx", make_docx("x")))] == [
        "image",
        "pdf",
        "office",
    ]
    assert document_kind(b"\x00\x01binary", "a.bin") == "binary" and document_kind("Grüße".encode(), "a.txt") == "text"
    assert scanner.check(PNG, "photo.png").withheld == "unscannable"
    assert scanner.check(PNG, "photo.png", include_unscannable=True).content == PNG
    # a damaged PDF is not read: it is withheld like an image, never half-checked
    assert scanner.check(b"%PDF-1.4 " + b"\x00garbage" * 50, "broken.pdf").withheld == "unscannable"
    # an office document without a number goes in as it is
    assert scanner.check(make_docx("Order 123-45 shipped"), "a.docx").content == make_docx("Order 123-45 shipped")
    assert scanner.counts() == {"document:unscannable": 2}


def test_the_package_is_sealed_at_rest_and_the_spools_are_gone(shop: World) -> None:
    rid = answered(shop)
    store = shop.ctx.streams
    assert isinstance(store, MemoryStreamStore)
    assert list(store.objects) == [package.package_key(rid)]  # the spools were dropped once packaged
    raw = store.objects[package.package_key(rid)]
    assert JANE.encode() not in raw and b"PK\x03\x04" not in raw and b"receipt" not in raw


def test_a_ccpa_package_says_it_covers_data_back_to_2022(shop: World) -> None:
    rid = shop.log(regime="ccpa", country="US", subdivision="CA", access_scope="specific_pieces")
    svc.start_verification(shop.ctx, rid)
    step = identity.use_code(shop.ctx, rid, shop.letters.last_code())
    assert step.next is Proof.DATA_POINTS and step.session
    step = identity.give_points(shop.ctx, step.session, {"phone": JANE_PHONE, "postcode": "94103"})
    assert step.next is Proof.DECLARATION and step.session
    assert identity.declare(shop.ctx, step.session, "Jane Doe", True).outcome is identity.StepOutcome.VERIFIED
    svc.plan_request(shop.ctx, rid)
    assert approve(shop.ctx, rid) is Status.EXECUTING
    assert svc.execute_plan(shop.ctx, rid) is Status.RESPONDING
    assert svc.send_response(shop.ctx, rid) is Status.CLOSED
    index = next(v for k, v in download_package(shop, rid).items() if k.endswith("index.html")).decode()
    assert "on or after 1 January 2022" in index and "longer than 12 months" in index


def test_a_request_for_categories_gets_no_package_and_no_link(shop: World) -> None:
    # Nothing found can no longer reach a response: a subject must be on file in the system of
    # record to be verified. A categories-only request discloses no data, so no package.
    rid = shop.log(regime="ccpa", country="US", subdivision="CA", access_scope="categories")
    assert shop.approve(rid) is Status.EXECUTING
    svc.execute_plan(shop.ctx, rid)
    assert svc.send_response(shop.ctx, rid) is Status.CLOSED
    (context,) = shop.letters.contexts("access_response")
    assert context["package"] is None
    assert shop.ctx.streams.keys("") == []


# --- the link and the code -----------------------------------------------------------------------


def test_a_link_works_once(shop: World) -> None:
    rid = answered(shop)
    download_package(shop, rid)
    token = token_of(shop)
    assert package.send_code(shop.ctx, token) is LinkRefusal.USED
    assert package.open_download(shop.ctx, token, "000000") is LinkRefusal.USED


def test_an_expired_link_is_refused(shop: World) -> None:
    answered(shop)
    token = token_of(shop)
    shop.clock.advance(days=7)
    assert package.link_refusal(shop.ctx, token) is LinkRefusal.EXPIRED
    assert package.send_code(shop.ctx, token) is LinkRefusal.EXPIRED


def test_unknown_and_altered_links_are_refused_alike(shop: World) -> None:
    answered(shop)
    token = token_of(shop)
    for bad in ("", "x" * 64, token[:-1] + ("0" if token[-1] != "0" else "1"), token + "a", "y" * 5000):
        assert package.send_code(shop.ctx, bad) is LinkRefusal.UNKNOWN
        assert package.open_download(shop.ctx, bad, "123456") is LinkRefusal.UNKNOWN


def test_a_code_opens_only_its_own_link(shop: World) -> None:
    first = answered(shop)
    first_token = token_of(shop)
    shop.systems["shop"].rows["customer"].append({"key": "3", "email": "other@example.org"})
    answered(shop, subject={"name": "Other", "emails": ["other@example.org"]})
    other_token = token_of(shop)
    assert package.send_code(shop.ctx, other_token) is None
    other_code = str(shop.letters.contexts("package_code")[-1]["code"])
    assert package.send_code(shop.ctx, first_token) is None  # the first request's code goes to Jane
    assert shop.mailer.sent[next(k for k in shop.mailer.sent if "package-code" in k and svc.reference_of(shop.ctx, first) in k)].to == JANE
    assert package.open_download(shop.ctx, first_token, other_code) is CodeRefusal.WRONG


def test_wrong_codes_spend_the_link_after_the_last_try(shop: World) -> None:
    rid = answered(shop)
    token = token_of(shop)
    assert package.open_download(shop.ctx, token, "123456") is CodeRefusal.NONE_SENT
    assert package.send_code(shop.ctx, token) is None
    good = str(shop.letters.contexts("package_code")[-1]["code"])
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(CODE_ATTEMPTS - 1):
        assert package.open_download(shop.ctx, token, wrong) is CodeRefusal.WRONG
    assert package.open_download(shop.ctx, token, wrong) is CodeRefusal.TOO_MANY
    assert package.open_download(shop.ctx, token, good) is LinkRefusal.USED
    with shop.uow() as uow:
        refused = [e.details["reason"] for e in uow.audit.events(rid) if e.kind == "PackageDownloadRefused"]
    assert refused == ["none_sent", *["wrong"] * (CODE_ATTEMPTS - 1), "too_many", "used"]


def test_a_code_expires_and_a_fresh_one_replaces_it(shop: World) -> None:
    answered(shop)
    token = token_of(shop)
    assert package.send_code(shop.ctx, token) is None
    old = str(shop.letters.contexts("package_code")[-1]["code"])
    shop.clock.advance(minutes=16)
    assert package.open_download(shop.ctx, token, old) is CodeRefusal.EXPIRED
    assert package.send_code(shop.ctx, token) is None
    new = str(shop.letters.contexts("package_code")[-1]["code"])
    if new != old:
        assert package.open_download(shop.ctx, token, old) is CodeRefusal.WRONG
    assert isinstance(package.open_download(shop.ctx, token, new), package.Download)


def test_a_tampered_package_is_refused_while_streaming(shop: World) -> None:
    rid = answered(shop)
    store = shop.ctx.streams
    assert isinstance(store, MemoryStreamStore)
    key = package.package_key(rid)
    raw = bytearray(store.objects[key])
    raw[len(raw) // 2] ^= 0x40
    store.objects[key] = bytes(raw)
    token = token_of(shop)
    package.send_code(shop.ctx, token)
    got = package.open_download(shop.ctx, token, str(shop.letters.contexts("package_code")[-1]["code"]))
    assert isinstance(got, package.Download)
    from dsar.domain.errors import IntegrityError

    with pytest.raises(IntegrityError):
        b"".join(got.chunks)


# --- a crash mid-build, and purging --------------------------------------------------------------


class FailingStore(StreamStore):
    """The memory store, failing once the package's stream has had ``after`` writes."""

    def __init__(self, inner: MemoryStreamStore, after: int) -> None:
        self.inner, self.after, self.armed = inner, after, True

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        with self.inner.writer(key) as sink:
            if not (self.armed and key.startswith("packages/")):
                yield sink
                return
            store = self

            class Failing(io.RawIOBase):
                n = 0

                def write(self, data: object) -> int:
                    self.n += 1
                    if self.n > store.after:
                        raise OSError("disk full")
                    return sink.write(data)  # type: ignore[arg-type]

            yield Failing()  # type: ignore[misc]

    def reader(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self.inner.reader(key)

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def keys(self, prefix: str) -> list[str]:
        return self.inner.keys(prefix)


def test_a_crash_mid_build_leaves_no_package_and_the_next_run_builds_it() -> None:
    w = World([data()], (shop_with_secrets(),))
    inner = MemoryStreamStore()
    failing = FailingStore(inner, after=1)  # the header, then the first chunk fails
    object.__setattr__(w.ctx, "streams", failing)
    rid = w.log()
    w.approve(rid)
    with pytest.raises(OSError, match="disk full"):
        svc.execute_plan(w.ctx, rid)
    assert not inner.exists(package.package_key(rid))
    with w.uow() as uow:
        assert uow.packages.for_request(rid) is None
        assert uow.requests.facts(rid).status is Status.EXECUTING
    assert w.letters.contexts("access_response") == []
    failing.armed = False
    assert svc.execute_plan(w.ctx, rid) is Status.RESPONDING
    assert svc.send_response(w.ctx, rid) is Status.CLOSED
    assert "customer.json" in " ".join(download_package(w, rid))


def test_purge_deletes_expired_and_downloaded_packages_as_audit_events(shop: World) -> None:
    downloaded = answered(shop)
    download_package(shop, downloaded)
    shop.systems["shop"].rows["customer"].append({"key": "3", "email": "other@example.org"})
    expired = answered(shop, subject={"name": "Other", "emails": ["other@example.org"]})
    assert package.purge_packages(shop.ctx) == 1  # the downloaded one; the other's link still works
    shop.clock.advance(days=8)
    assert package.purge_packages(shop.ctx) == 0  # expired, and kept DSAR_PACKAGE_KEEP_DAYS for a new link
    shop.clock.advance(days=shop.ctx.policy.package_keep_days)
    assert package.purge_packages(shop.ctx, by="cli") == 1
    assert package.purge_packages(shop.ctx) == 0
    assert shop.ctx.streams.keys("") == []
    with shop.uow() as uow:
        deleted = {rid: [e.details for e in uow.audit.events(rid) if e.kind == "PackageDeleted"] for rid in (downloaded, expired)}
    assert deleted[downloaded][0]["reason"] == "downloaded" and deleted[expired][0] == {
        "package": deleted[expired][0]["package"],
        "reason": "expired",
        "by": "cli",
    }
    token = token_of(shop)
    assert package.send_code(shop.ctx, token) is LinkRefusal.DELETED


def test_an_export_written_by_an_earlier_build_is_packaged_when_the_letter_goes(shop: World) -> None:
    """A request exported before packages existed (its records in one sealed JSON, as the old
    export step kept them) gets its package and link when its letter is sent."""
    from dsar.domain.plan import Receipt
    from dsar.domain.request import Move
    from dsar.services import recording

    rid = shop.log()
    shop.approve(rid)
    old = {
        "system": "shop",
        "records": [{"entity": "customer", "key": "1", "fields": {"email": JANE, "note": f"SSN {SSN}"}, "categories": {}}],
    }
    with shop.uow() as uow:
        key = f"exports/{rid}/shop.json.enc"
        shop.ctx.objects.put(key, uow.keys.seal(rid, json.dumps(old).encode(), f"export/{rid}/shop"))
        uow.plans.add_receipt(rid, Receipt("shop", "export", 1, key, shop.clock.now))
        recording.move(uow, uow.requests.facts(rid), Move.FINISH_EXECUTION, shop.clock.now)
        uow.commit()
    assert svc.send_response(shop.ctx, rid) is Status.CLOSED
    (context,) = shop.letters.contexts("access_response")
    assert context["record_count"] == 1 and context["package"] is not None
    files = download_package(shop, rid)
    (customer,) = json.loads(next(v for k, v in files.items() if k.endswith("customer.json")))["items"]
    assert customer["note"] == "SSN [withheld: SSN/ITIN]"
