"""Legal's exemptions at sign-off, on the in-memory unit of work: a system, an entity or a field
kept out on a legal ground revises the stored plan, and execution and the letter follow it; an
exemption the plan does not hold, or without a ground, is refused (recorded, the code not
spent); and the lock-out after five wrong codes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from dsar.connectors.schema import SqlSystem
from dsar.domain.decisions import SignOffRefusal, sign_off
from dsar.domain.errors import InvalidInput
from dsar.domain.events import STAFF_STREAM
from dsar.domain.exemptions import (
    GROUND_TEXT,
    Exemption,
    LegalGround,
    apply_exemptions,
    exemptions_from,
    parse_ground,
    targets,
    withheld,
)
from dsar.domain.lockout import LOCKED_FOR, MAX_WRONG_CODES, WINDOW, CodeFailures
from dsar.domain.plan import (
    CorrectionAction,
    CorrectStep,
    EraseStep,
    ErasureAction,
    ErasureKind,
    ExportStep,
    ManualStep,
    Operation,
    PlanStep,
    step_from_json,
    step_to_json,
)
from dsar.domain.request import Status
from dsar.services import processing as svc
from dsar.services.timeline import TimelineEntry, describe
from tests.signoff import LEGAL, code, enrol
from tests.unit.services.conftest import JANE, JANE_PHONE, World, download_package

HOLD = LegalGround.LEGAL_HOLD
CLAIMS = LegalGround.GDPR_17_3_E


def _wrong(good: str) -> str:
    return f"{(int(good) + 1) % 1_000_000:06d}"


# --- the domain -------------------------------------------------------------------------------


def test_a_ground_is_required_known_and_typed_loosely() -> None:
    assert parse_ground("GDPR_17_3_e") is LegalGround.GDPR_17_3_E
    assert parse_ground("-") is None and parse_ground("") is None
    with pytest.raises(InvalidInput) as unknown:
        exemptions_from([("shop", "gdpr-17-3-z")])
    assert unknown.value.problems[0].startswith("ground: one of gdpr-17-3-a")
    with pytest.raises(InvalidInput) as none:
        exemptions_from([("shop/customer", None)])
    assert list(none.value.problems) == ["exempt shop/customer: needs a legal ground"]
    with pytest.raises(InvalidInput, match="system, system/entity or system/entity.field"):
        exemptions_from([("shop/customer.phone.x", "legal-hold")])
    assert exemptions_from([("shop/orders", "legal-hold"), (" ", None)]) == (Exemption("shop/orders", HOLD),)


def test_only_an_approval_takes_exemptions() -> None:
    given = sign_off("approve", exempt=[("shop/orders", "gdpr-17-3-e")])
    assert given.exemptions == (Exemption("shop/orders", LegalGround.GDPR_17_3_E),)
    with pytest.raises(InvalidInput, match="only an approval keeps parts of the plan out"):
        sign_off("deny", "exempt", exempt=[("shop/orders", "gdpr-17-3-e")])


PLAN = [
    EraseStep("shop", 3, (ErasureAction("customer", ErasureKind.ANONYMISE, 1), ErasureAction("orders", ErasureKind.DELETE, 2))),
    ExportStep("files", 0),
    ManualStep("paper-archive", Operation.ERASE),
]


def test_the_targets_are_what_the_plan_holds_with_the_data_maps_fields() -> None:
    fields = {("shop", "customer"): ["email", "phone"], ("shop", "orders"): ["total"]}
    assert targets(PLAN, fields) == [
        "shop",
        "shop/customer",
        "shop/customer.email",
        "shop/customer.phone",
        "shop/orders",
        "shop/orders.total",
        "paper-archive",
    ]  # nothing of a system without matches
    correction = [CorrectStep("crm", 1, (CorrectionAction("contact", "tel", "phone", 1),))]
    assert targets(correction, {}) == ["crm", "crm/contact", "crm/contact.tel"]


def test_an_erasure_keeps_what_is_exempt_with_its_ground() -> None:
    shop, _, archive = apply_exemptions(
        PLAN, [Exemption("shop/orders", LegalGround.GDPR_17_3_E), Exemption("paper-archive", LegalGround.GDPR_17_3_B)]
    )
    assert isinstance(shop, EraseStep) and isinstance(archive, ManualStep)
    assert shop.actions[0] == ErasureAction("customer", ErasureKind.ANONYMISE, 1)
    assert shop.actions[1].action is ErasureKind.RETAIN and "legal claims (GDPR Art. 17(3)(e))" in shop.actions[1].reason
    assert archive.kept is not None and "17(3)(b)" in archive.kept and not archive.needs_person
    # a field exemption where nothing says the system can erase single fields keeps the rows
    # whole, and says so (field exemptions: below)
    (field,) = apply_exemptions(PLAN[:1], [Exemption("shop/customer.phone", HOLD)])
    assert isinstance(field, EraseStep) and field.actions[0].action is ErasureKind.RETAIN
    assert field.actions[0].reason.startswith("the field phone must be kept: it is under a legal hold")
    assert field.actions[0].reason.endswith(
        "(this system cannot erase the other fields of a record one by one, so the records are kept whole)"
    )
    # the stored form round-trips
    assert step_from_json("shop", "erase", 3, step_to_json(shop)) == shop
    assert step_from_json("paper-archive", "erase", 0, step_to_json(archive)) == archive


ERASABLE = {("shop", "customer"): ["email", "name", "phone"], ("shop", "orders"): ["total", "note"]}


def test_a_field_exemption_anonymises_every_other_field_and_keeps_that_one_with_its_ground() -> None:
    hold = GROUND_TEXT[HOLD]
    (shop,) = apply_exemptions(PLAN[:1], [Exemption("shop/customer.phone", HOLD), Exemption("shop/orders.note", CLAIMS)], ERASABLE)
    assert isinstance(shop, EraseStep)
    customer, orders = shop.actions
    # an entity the data map anonymises: the exempt field leaves the anonymised set
    assert customer == ErasureAction(
        "customer", ErasureKind.ANONYMISE, 1, f"the field phone must be kept: {hold}", fields=("email", "name"), keep=("phone",)
    )
    # an entity the data map deletes: its rows stay, every other field is anonymised
    assert (orders.action, orders.fields, orders.keep) == (ErasureKind.ANONYMISE, ("total",), ("note",))
    assert shop.changes_data
    # what legal reads in the sign-off form, the console and the CLI
    assert shop.describe().split("; ") == [
        "customer: anonymise 1, fields email, name",
        f"customer: keep field phone because {hold}",
        "orders: anonymise 2, fields total",
        f"orders: keep field note because {GROUND_TEXT[CLAIMS]}",
    ]
    # the stored form round-trips; a plan without field exemptions keeps its earlier form
    assert step_from_json("shop", "erase", 3, step_to_json(shop)) == shop
    assert step_to_json(shop)["actions"][0]["keep"] == ["phone"]
    assert "keep" not in step_to_json(PLAN[0])["actions"][0] and "fields" not in step_to_json(PLAN[0])["actions"][0]


def test_two_fields_of_one_entity_are_kept_each_on_its_ground_and_a_whole_exemption_wins() -> None:
    both = [Exemption("shop/customer.email", CLAIMS), Exemption("shop/customer.phone", HOLD)]
    (shop,) = apply_exemptions(PLAN[:1], both, ERASABLE)
    assert isinstance(shop, EraseStep)
    customer = shop.actions[0]
    assert (customer.fields, customer.keep) == (("name",), ("email", "phone"))
    assert customer.reason == f"the field email must be kept: {GROUND_TEXT[CLAIMS]}; the field phone must be kept: {GROUND_TEXT[HOLD]}"
    (whole,) = apply_exemptions(PLAN[:1], [*both, Exemption("shop/customer", CLAIMS)], ERASABLE)
    assert isinstance(whole, EraseStep) and whole.actions[0] == ErasureAction("customer", ErasureKind.RETAIN, 1, GROUND_TEXT[CLAIMS])


def test_where_no_field_can_be_erased_alone_the_rows_are_kept_whole_and_the_reason_says_so() -> None:
    erasable = {("shop", "customer"): ["phone"], ("shop", "orders"): None}  # orders: a type that deletes whole records
    (shop,) = apply_exemptions(PLAN[:1], [Exemption("shop/customer.phone", HOLD), Exemption("shop/orders.total", HOLD)], erasable)
    assert isinstance(shop, EraseStep)
    customer, orders = shop.actions
    assert customer.action is ErasureKind.RETAIN and not customer.fields and not customer.keep
    whole = "(the other fields of these records hold no data to erase, so the records are kept whole)"
    assert customer.reason == f"the field phone must be kept: {GROUND_TEXT[HOLD]} {whole}"
    assert orders.action is ErasureKind.RETAIN
    assert orders.reason.endswith("(this system cannot erase the other fields of a record one by one, so the records are kept whole)")
    assert "orders: retain 2 (the field total must be kept:" in shop.describe()
    # an entity already kept for the data map's reason stays as it was
    kept = EraseStep("shop", 1, (ErasureAction("orders", ErasureKind.RETAIN, 1, "orders: 10 years"),))
    (same,) = apply_exemptions([kept], [Exemption("shop/orders.total", HOLD)], ERASABLE)
    assert isinstance(same, EraseStep) and same.actions == kept.actions


def test_an_action_cannot_erase_and_keep_one_field() -> None:
    with pytest.raises(ValueError, match="both erased and kept"):
        ErasureAction("customer", ErasureKind.ANONYMISE, 1, fields=("phone",), keep=("phone",))
    with pytest.raises(ValueError, match="only an anonymisation"):
        ErasureAction("customer", ErasureKind.DELETE, 1, fields=("phone",))


def test_the_sql_map_never_offers_the_key_or_a_link_column_to_anonymise() -> None:
    shop = SqlSystem.model_validate(
        {
            "system": "shop",
            "title": "Shop",
            "type": "sql",
            "connection": "SHOP_URL",
            "purposes": ["Orders"],
            "legal_basis": "Contract",
            "retention": "10 years",
            "source": "You",
            "entities": {
                "customer": {
                    "table": "customer",
                    "key": "id",
                    "identity": {"email": "email"},
                    "erase": "delete",
                    "fields": {
                        "id": {"category": "account"},
                        "email": {"category": "contact", "erase": "pseudonymise"},
                        "address_id": {"category": "postal_address"},
                        "tier": {"category": "account", "erase": "keep"},
                        "name": {"category": "identity"},
                    },
                },
                "address": {
                    "table": "address",
                    "key": "id",
                    "parent": {"entity": "customer", "column": "id", "parent_column": "address_id"},
                    "fields": {"street": {"category": "postal_address"}},
                },
                "orders": {
                    "table": "orders",
                    "key": "id",
                    "parent": {"entity": "customer", "column": "customer_id", "parent_column": "id"},
                    "fields": {"customer_id": {"category": "commercial"}, "note": {"category": "commercial"}},
                },
            },
        }
    )
    assert shop.anonymisable("customer") == ["email", "name"]
    assert shop.anonymisable("orders") == ["note"]
    assert shop.anonymisable("address") == ["street"]


def test_a_correction_drops_the_exempt_field_and_an_export_withholds_it() -> None:
    step = CorrectStep("crm", 2, (CorrectionAction("contact", "tel", "phone", 1), CorrectionAction("contact", "name", "name", 1)))
    (revised,) = apply_exemptions([step], [Exemption("crm/contact.tel", HOLD)])
    assert isinstance(revised, CorrectStep) and revised.actions == (CorrectionAction("contact", "name", "name", 1),)
    assert "not corrected: crm/contact.tel (legal-hold)" in revised.describe()
    (export,) = apply_exemptions([ExportStep("shop", 2, ("customer", "orders"))], [Exemption("shop/customer.phone", HOLD)])
    record = {"entity": "customer", "key": "1", "fields": {"email": "a@b", "phone": "1"}, "categories": {"email": "c", "phone": "c"}}
    assert withheld(export, record) == {**record, "fields": {"email": "a@b"}, "categories": {"email": "c"}}
    assert withheld(export, {**record, "entity": "orders"}) == {**record, "entity": "orders"}
    (whole,) = apply_exemptions([ExportStep("shop", 2, ("customer",))], [Exemption("shop/customer", HOLD)])
    assert withheld(whole, record) is None


def test_five_wrong_codes_in_fifteen_minutes_lock_the_codes_for_fifteen() -> None:
    from datetime import UTC, datetime

    t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    f = CodeFailures()
    for i in range(MAX_WRONG_CODES - 1):
        f = f.after_wrong_code(t + timedelta(minutes=3 * i))
        assert not f.locked(t + timedelta(minutes=3 * i))
    f = f.after_wrong_code(t + timedelta(minutes=12))
    assert f.locked(t + timedelta(minutes=12)) and f.locked(t + timedelta(minutes=12) + LOCKED_FOR - timedelta(seconds=1))
    assert not f.locked(t + timedelta(minutes=12) + LOCKED_FOR)
    # four wrong, then a pause longer than the window: the count starts again
    g = CodeFailures()
    for _ in range(MAX_WRONG_CODES - 1):
        g = g.after_wrong_code(t)
    g = g.after_wrong_code(t + WINDOW + timedelta(seconds=1))
    assert g.count == 1 and not g.locked(t + WINDOW + timedelta(seconds=1))


# --- the services -----------------------------------------------------------------------------


def deletion_waiting(world: World) -> str:
    rid = world.log(type="deletion")
    world.verify(rid)
    assert svc.plan_request(world.ctx, rid) is Status.AWAITING_SIGN_OFF
    return rid


def test_an_exempt_entity_is_kept_by_the_erasure_and_named_in_the_letter(world: World) -> None:
    rid = deletion_waiting(world)
    assert svc.exemptable(world.ctx, rid) == [
        "shop",
        "shop/customer",
        "shop/customer.email",
        "shop/customer.phone",
        "shop/orders",
    ]
    given = sign_off("approve", exempt=[("shop/orders", "gdpr-17-3-e")])
    secret = enrol(world.ctx)
    result = svc.record_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, secret), via="cli", flow_run="run-9")
    assert result.recorded and result.status is Status.EXECUTING
    (recorded,) = world.details(rid, "SignOffRecorded")
    assert recorded["exemptions"] == [{"target": "shop/orders", "ground": "gdpr-17-3-e"}] and recorded["flow_run"] == "run-9"
    # the stored plan is the approved one
    with world.uow() as uow:
        (shop,) = uow.plans.get(rid)
    assert isinstance(shop, EraseStep) and [a.action for a in shop.actions] == [ErasureKind.ANONYMISE, ErasureKind.RETAIN]
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    assert [r["key"] for r in world.systems["shop"].rows["orders"]] == ["10", "11"]  # kept
    assert world.systems["shop"].rows["customer"][0]["email"] is None  # anonymised
    assert svc.send_response(world.ctx, rid) is Status.CLOSED
    (letter,) = world.letters.contexts("deletion_response")
    assert letter["exemptions"] == [
        {
            "system": "Online shop",
            "part": "orders",
            "reason": "it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e))",
            "ground": "gdpr-17-3-e",
        }
    ]


def test_an_exempt_field_is_left_out_of_the_access_copy(world: World) -> None:
    rid = world.log()
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    given = sign_off("approve", exempt=[("shop/customer.phone", "legal-hold")])
    secret = enrol(world.ctx)
    assert svc.record_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, secret), via="test").recorded
    svc.execute_plan(world.ctx, rid)
    svc.send_response(world.ctx, rid)
    sent = next(m for m in world.mailer.sent.values() if m.message_id.endswith(".access_response@dsar"))
    assert [a.mime_type for a in sent.attachments] == ["application/pdf"]  # the copy is the access package, behind the link
    files = download_package(world, rid)
    customers = json.loads(next(v for k, v in files.items() if k.endswith("/shop/customer.json")))["items"]
    assert customers and all("phone" not in r and "email" in r for r in customers)


def test_an_exemption_outside_the_plan_is_refused_before_the_code_is_spent(world: World) -> None:
    rid = deletion_waiting(world)
    secret = enrol(world.ctx)
    typed = code(world.ctx, secret)
    outside = sign_off("approve", exempt=[("warehouse", "legal-hold")])
    result = svc.record_sign_off(world.ctx, rid, outside, LEGAL, typed, via="console")
    assert result == svc.SignOffResult(Status.AWAITING_SIGN_OFF, refused=SignOffRefusal.EXEMPTION_NOT_IN_PLAN)
    assert world.details(rid, "SignOffRefused")[0]["reason"] == "exemption_not_in_plan"
    # the same code still proves the approver: it was not spent on the refused attempt
    assert svc.record_sign_off(world.ctx, rid, sign_off("approve"), LEGAL, typed, via="console").recorded


def test_an_exemption_without_a_ground_from_the_prefect_form_is_a_refused_attempt(world: World) -> None:
    rid = deletion_waiting(world)
    secret = enrol(world.ctx)
    result = svc.sign_off_attempt(
        world.ctx,
        rid,
        decision="approve",
        reason=None,
        reason_text="",
        note="",
        approver=LEGAL,
        code=code(world.ctx, secret),
        via="prefect-ui",
        exempt=[("shop/orders", None)],
    )
    assert result.refused is SignOffRefusal.EXEMPTION_WITHOUT_GROUND
    assert svc.sign_off_state(world.ctx, rid).last_refusal is SignOffRefusal.EXEMPTION_WITHOUT_GROUND
    assert "without its legal ground" in svc.plan_summary(world.ctx, rid, SignOffRefusal.EXEMPTION_WITHOUT_GROUND)


def test_five_wrong_codes_lock_the_approver_out_and_it_is_audited(world: World) -> None:
    rid = deletion_waiting(world)
    secret = enrol(world.ctx)
    for _ in range(MAX_WRONG_CODES):
        world.clock.advance(seconds=40)
        assert svc.record_sign_off(world.ctx, rid, sign_off("approve"), LEGAL, _wrong(code(world.ctx, secret)), via="test").refused is (
            SignOffRefusal.WRONG_CODE
        )
    world.clock.advance(seconds=40)
    locked = svc.record_sign_off(world.ctx, rid, sign_off("approve"), LEGAL, code(world.ctx, secret), via="test")
    assert locked.refused is SignOffRefusal.LOCKED_OUT
    with world.uow() as uow:
        staff = [e.details for e in uow.audit.events(STAFF_STREAM) if e.kind == "StaffCodesLockedOut"]
    assert len(staff) == 1 and staff[0]["account"] == LEGAL and staff[0]["failures"] == MAX_WRONG_CODES
    world.clock.advance(minutes=15)
    assert svc.record_sign_off(world.ctx, rid, sign_off("approve"), LEGAL, code(world.ctx, secret), via="test").recorded
    assert svc.status_of(world.ctx, rid) is Status.EXECUTING
    assert JANE not in json.dumps(world.details(rid, "SignOffRefused"))


def test_an_exempt_field_is_kept_while_the_rest_of_its_rows_is_anonymised_and_everything_says_so(world: World) -> None:
    rid = deletion_waiting(world)
    given = sign_off("approve", exempt=[("shop/customer.phone", "legal-hold")])
    assert svc.record_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, enrol(world.ctx)), via="console").recorded
    # the stored plan is the approved one, and the form and the console say what it does
    with world.uow() as uow:
        (shop,) = uow.plans.get(rid)
    assert isinstance(shop, EraseStep)
    customer = next(a for a in shop.actions if a.entity == "customer")
    assert (customer.action, customer.fields, customer.keep) == (ErasureKind.ANONYMISE, ("email",), ("phone",))
    detail = svc.describe_step(shop)
    assert "customer: anonymise 1, fields email" in detail and f"customer: keep field phone because {GROUND_TEXT[HOLD]}" in detail
    # execution erases exactly that: the email, not the phone
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    row = next(r for r in world.systems["shop"].rows["customer"] if r["key"] == "1")
    assert row["email"] is None and row["phone"] == JANE_PHONE
    # the receipt names the fields erased and kept, never a value
    (erased,) = world.details(rid, "SystemErased")
    assert erased["fields"] == {"customer": {"anonymised": ["email"], "kept": ["phone"]}}
    assert JANE_PHONE not in json.dumps(erased)
    timeline = {line for e in svc_timeline(world, rid) for line in e.lines}
    assert "customer: anonymised email; kept phone" in timeline
    # the letter says what was erased and what was kept, on which ground; so does the partial refusal
    assert svc.send_response(world.ctx, rid) is Status.CLOSED
    (letter,) = world.letters.contexts("deletion_response")
    (line,) = [e for e in letter["erasure"] if e["entity"] == "customer"]
    assert line["fields"] == ["email"] and line["kept"] == [{"field": "phone", "reason": GROUND_TEXT[HOLD], "ground": "legal-hold"}]
    (refusal,) = world.letters.contexts("partial_refusal")
    assert {"system": "Online shop", "entity": "customer", "rows": 1, "reason": f"the field phone must be kept: {GROUND_TEXT[HOLD]}"} in (
        refusal["refused"]
    )


def svc_timeline(world: World, rid: str) -> list[TimelineEntry]:
    with world.uow() as uow:
        return [describe(e.seq, e.kind, e.at, e.details) for e in uow.audit.events(rid)]


def test_the_shipped_data_map_says_which_systems_can_erase_a_single_field(world: World) -> None:
    from dataclasses import replace as with_

    from dsar.connectors.datamap import load_data_map
    from dsar.connectors.http import ENTITY
    from dsar.services.exemptions import anonymisable, revised
    from tests.conftest import ROOT

    ctx = with_(world.ctx, data_map=tuple(load_data_map(ROOT / "connectors")))
    plan: list[PlanStep] = [
        EraseStep("shop", 2, (ErasureAction("customer", ErasureKind.ANONYMISE, 1), ErasureAction("address", ErasureKind.ANONYMISE, 1))),
        EraseStep("helpdesk", 1, (ErasureAction(ENTITY, ErasureKind.DELETE, 1),)),
        EraseStep("files", 1, (ErasureAction("newsletter", ErasureKind.DELETE, 1),)),
    ]
    assert anonymisable(ctx, plan) == {
        ("shop", "customer"): ["email", "name", "phone"],
        ("shop", "address"): ["street", "city", "postcode", "country"],
        ("helpdesk", ENTITY): None,  # an http system deletes the whole record
        ("files", "newsletter"): None,  # so does an object store
    }
    exempt = [Exemption("shop/customer.phone", HOLD), Exemption(f"helpdesk/{ENTITY}.phone", HOLD)]
    shop, helpdesk = revised(ctx, plan, exempt)
    assert isinstance(shop, EraseStep) and isinstance(helpdesk, EraseStep)
    assert (shop.actions[0].fields, shop.actions[0].keep) == (("email", "name"), ("phone",))
    (contact,) = helpdesk.actions
    assert contact.action is ErasureKind.RETAIN and "cannot erase the other fields of a record one by one" in contact.reason
    assert "cannot erase the other fields" in helpdesk.describe()
