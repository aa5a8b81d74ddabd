"""Legal's reasons in the subject's language, with nothing new recorded: a refusal's reason code
and an exemption's ground reach the letter as the recorded English that knows its code, so a
German, French or Spanish letter prints the approved vocabulary's sentence; legal's own words
stay as typed; a data map's retain reason prints in the letter's language while the map still
says what the plan recorded."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dsar.connectors.schema import EntityMap, FieldMap, Retain, SqlSystem
from dsar.domain.decisions import DENIAL_REASON_TEXT, DenialReason, denial_reason_text, sign_off
from dsar.domain.exemptions import GROUND_TEXT, Exemption, LegalGround, apply_exemptions
from dsar.domain.plan import EraseStep, ErasureAction, ErasureKind
from dsar.domain.request import Status
from dsar.domain.texts import LocalText
from dsar.letters.render import LetterRenderer
from dsar.services import processing as svc
from dsar.services.exemptions import kept_reason
from tests.signoff import LEGAL, code, enrol
from tests.unit.services.conftest import World

ROOT = Path(__file__).resolve().parents[3]
VOCABULARY = tomllib.loads((ROOT / "templates" / "vocabulary.toml").read_text(encoding="utf-8"))


def test_the_vocabulary_gives_every_reason_code_and_ground_in_every_language_and_its_english_is_the_engines() -> None:
    for reason, english in DENIAL_REASON_TEXT.items():
        if reason is DenialReason.OTHER:
            assert reason.value not in VOCABULARY["denial_reasons"]  # legal's own words, as typed
            continue
        entry = VOCABULARY["denial_reasons"][reason.value]
        assert entry["en"] == english and set(entry) == {"en", "de", "fr", "es"}
    for ground, english in GROUND_TEXT.items():
        entry = VOCABULARY["grounds"][ground.value]
        assert entry["en"] == english and set(entry) == {"en", "de", "fr", "es"}
        assert all(entry[lang] != english for lang in ("de", "fr", "es"))
    for phrase in VOCABULARY["phrases"].values():
        assert set(phrase) == {"de", "fr", "es"}  # English: as the plan recorded it


def waiting(world: World, **overrides: object) -> str:
    rid = world.log(**overrides)
    world.verify(rid)
    assert svc.plan_request(world.ctx, rid) is Status.AWAITING_SIGN_OFF
    return rid


@pytest.mark.parametrize("typed", ["", "Sie sind Geschäftskunde"])
def test_a_refusals_reason_code_reaches_the_letter_in_its_language_legals_words_as_typed(world: World, typed: str) -> None:
    rid = waiting(world, language="de")
    given = sign_off("deny", "not_a_consumer", typed, "internal")
    assert svc.record_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, enrol(world.ctx)), via="test").status is Status.DENIED
    svc.send_response(world.ctx, rid)
    (context,) = world.letters.contexts("denial")
    reason = context["denial_reason"]
    assert reason == denial_reason_text(DenialReason.NOT_A_CONSUMER, typed)  # the recorded English, as before
    german = VOCABULARY["denial_reasons"]["not_a_consumer"]["de"] + (f" ({typed})" if typed else "")
    assert isinstance(reason, LocalText) and reason.in_language("de", VOCABULARY) == german
    letter = LetterRenderer(ROOT / "templates").render("denial", "gdpr", {**context, "appeal_url": None}, "de")
    assert german in " ".join(letter.body.split()) and DENIAL_REASON_TEXT[DenialReason.NOT_A_CONSUMER] not in letter.body
    with world.uow() as uow:  # nothing new recorded: the decision keeps the English
        assert uow.decisions.get(rid, "denial").note == str(reason)


def test_an_other_reason_is_printed_as_legal_typed_it(world: World) -> None:
    rid = waiting(world, language="fr")
    given = sign_off("deny", "other", "Vous nous avez demandé de ne plus traiter cette demande", "")
    svc.record_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, enrol(world.ctx)), via="test")
    svc.send_response(world.ctx, rid)
    (context,) = world.letters.contexts("denial")
    assert context["denial_reason"] == "Vous nous avez demandé de ne plus traiter cette demande"
    assert not isinstance(context["denial_reason"], LocalText)


def test_an_exemptions_ground_reaches_the_letter_in_its_language(world: World) -> None:
    rid = waiting(world, type="deletion", language="es")
    given = sign_off("approve", exempt=[("shop/orders", "gdpr-17-3-e"), ("shop/customer.phone", "legal-hold")])
    assert svc.record_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, enrol(world.ctx)), via="test").recorded
    svc.execute_plan(world.ctx, rid)
    svc.send_response(world.ctx, rid)
    (letter,) = world.letters.contexts("deletion_response")
    claims, hold = VOCABULARY["grounds"]["gdpr-17-3-e"], VOCABULARY["grounds"]["legal-hold"]
    (kept,) = [e for e in letter["erasure"] if e["action"] == "retain"]
    assert kept["reason"] == GROUND_TEXT[LegalGround.GDPR_17_3_E] and kept["reason"].in_language("es", VOCABULARY) == claims["es"]
    # the customer is anonymised but for the phone, which is kept on legal's ground
    (customer,) = [e for e in letter["erasure"] if e["entity"] == "customer"]
    assert (customer["action"], customer["fields"], customer["keep"]) == ("anonymise", ["email"], ["phone"])
    assert customer["reason"] == f"the field phone must be kept: {hold['en']}"
    assert customer["reason"].in_language("es", VOCABULARY) == (
        VOCABULARY["phrases"]["kept_field"]["es"].replace("{field}", "número de teléfono").replace("{ground}", hold["es"])
    )
    assert [(k["field"], k["ground"], k["reason"].in_language("es", VOCABULARY)) for k in customer["kept"]] == [
        ("phone", "legal-hold", hold["es"])
    ]
    body = " ".join(LetterRenderer(ROOT / "templates").render("deletion_response", "gdpr", letter, "es").body.split())
    assert f"anonimizado (borrado: correo electrónico); conservado: número de teléfono, porque la ley lo exige: {hold['es']}." in body
    parts = {str(x["part"]): x["part"].in_language("es", VOCABULARY) for x in letter["exemptions"]}
    assert parts == {"orders": "sus pedidos", "customer, the field phone": "su cuenta de cliente, campo «número de teléfono»"}
    assert {x["reason"].in_language("es", VOCABULARY) for x in letter["exemptions"]} == {claims["es"], hold["es"]}


SHOP = SqlSystem(
    system="shop",
    title={"en": "Online shop", "de": "Onlineshop"},  # type: ignore[arg-type]
    type="sql",
    connection="SHOP_URL",
    purposes=["Orders"],
    legal_basis="Contract",
    retention="10 years",
    source="You",
    entities={
        "customer": EntityMap(table="customer", key="id", identity={"email": "email"}, fields={"email": FieldMap(category="contact")}),
        "orders": EntityMap.model_validate(
            {
                "table": "orders",
                "key": "id",
                "parent": {"entity": "customer", "column": "customer_id", "parent_column": "id"},
                "fields": {"total": {"category": "commercial"}},
                "erase": {"retain": {"en": "orders: 10 years (commercial law)", "de": "Bestellungen: 10 Jahre (Handelsrecht)"}},
            }
        ),
    },
)


def test_a_data_map_retain_reason_prints_in_the_letters_language_while_the_map_still_says_it(world: World) -> None:
    recorded = ErasureAction("orders", ErasureKind.RETAIN, 2, "orders: 10 years (commercial law)")
    step = EraseStep("shop", 2, (recorded,))
    world.ctx = world.ctx.__class__(**{**world.ctx.__dict__, "data_map": (SHOP,)})
    reason = kept_reason(world.ctx, step, recorded)
    assert isinstance(reason, LocalText) and reason.in_language("de") == "Bestellungen: 10 Jahre (Handelsrecht)"
    assert isinstance(SHOP.entities["orders"].erase, Retain)
    # the map says something else since the plan was made: the letter prints what was recorded
    older = ErasureAction("orders", ErasureKind.RETAIN, 2, "orders: 6 years")
    assert kept_reason(world.ctx, EraseStep("shop", 2, (older,)), older) == "orders: 6 years"
    assert not isinstance(kept_reason(world.ctx, EraseStep("shop", 2, (older,)), older), LocalText)
    # an exemption's ground, recorded in English in the plan, is found again from the step's exemptions
    anonymise = EraseStep("shop", 1, (ErasureAction("customer", ErasureKind.ANONYMISE, 1),))
    (exempt,) = apply_exemptions([anonymise], [Exemption("shop/customer", LegalGround.LEGAL_HOLD)])
    assert isinstance(exempt, EraseStep) and exempt.actions[0].reason == GROUND_TEXT[LegalGround.LEGAL_HOLD]
    reason = kept_reason(world.ctx, exempt, exempt.actions[0])
    assert isinstance(reason, LocalText)
    assert reason.in_language("de", VOCABULARY) == VOCABULARY["grounds"]["legal-hold"]["de"]
    # a data map's own retain reason is not legal's: an exemption on top of it keeps it as it is
    (both,) = apply_exemptions([step], [Exemption("shop/orders", LegalGround.LEGAL_HOLD)])
    assert isinstance(both, EraseStep) and kept_reason(world.ctx, both, both.actions[0]).in_language("de") == reason_de(SHOP)


def reason_de(system: SqlSystem) -> str:
    rule = system.entities["orders"].erase
    assert isinstance(rule, Retain)
    return rule.retain.in_language("de")


def test_several_kept_fields_and_records_kept_whole_print_in_the_letters_language(world: World) -> None:
    plan = [EraseStep("shop", 1, (ErasureAction("customer", ErasureKind.DELETE, 1),))]
    exempt = [Exemption("shop/customer.email", LegalGround.GDPR_17_3_E), Exemption("shop/customer.phone", LegalGround.LEGAL_HOLD)]
    (step,) = apply_exemptions(plan, exempt, {("shop", "customer"): None})  # a type that deletes whole records
    assert isinstance(step, EraseStep)
    (action,) = step.actions
    reason = kept_reason(world.ctx, step, action)
    assert isinstance(reason, LocalText) and reason == action.reason  # the recorded English
    phrases, grounds = VOCABULARY["phrases"], VOCABULARY["grounds"]

    def kept(field: str, words: str, ground: str) -> str:
        return phrases["kept_field"]["fr"].replace("{field}", words).replace("{ground}", grounds[ground]["fr"])

    both = phrases["and_then"]["fr"].replace("{first}", kept("email", "adresse e-mail", "gdpr-17-3-e"))
    both = both.replace("{second}", kept("phone", "numéro de téléphone", "legal-hold"))
    assert reason.in_language("fr", VOCABULARY) == phrases["kept_whole_type"]["fr"].replace("{kept}", both)
    assert " ; " in reason.in_language("fr", VOCABULARY) and "field" not in reason.in_language("fr", VOCABULARY)
    # every phrase is there in every letter language
    for key in ("kept_field", "exempt_field", "and_then", "kept_whole_type", "kept_whole_no_fields"):
        assert set(phrases[key]) == {"de", "fr", "es"}
