"""The sign-off form of the `process-request` flow (flows/process_request.py), as Prefect's UI
renders it from its JSON schema: the approver a dropdown of the legal roster made when the
form is, the reason codes those of the domain, the plan above it as a list."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import get_args

import pytest

from dsar.domain.decisions import DenialReason
from dsar.domain.exemptions import LegalGround
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def flow_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("process_request_under_test", ROOT / "flows" / "process_request.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_reason_dropdown_offers_the_domain_s_reason_codes(flow_module: ModuleType) -> None:
    reasons = get_args(flow_module.SignOff.model_fields["reason"].annotation)
    assert reasons == ("-", *(r.value for r in DenialReason)) == flow_module.REASONS


def test_the_approver_is_a_dropdown_of_the_roster_and_the_code_a_text_field(flow_module: ModuleType) -> None:
    form = flow_module.sign_off_form(["lena.legal", "otto.law"], "### DSR-2026-000001")
    props = form.model_json_schema()["properties"]
    assert list(props) == ["decision", "approver", "code", "reason", "reason_text", "note", "exemptions", "ground"]
    assert props["approver"]["enum"] == ["lena.legal", "otto.law"] and props["approver"]["type"] == "string"
    assert props["decision"]["enum"] == ["approve", "deny"] and "enum" not in props["code"]
    assert "$ref" not in str(props)  # the UI shows a $ref to an enum as an empty dropdown
    assert set(form.model_json_schema()["required"]) == {"decision", "approver", "code"}
    # the flow reads the name as text and the engine checks the roster again
    given = form.model_validate({"decision": "deny", "approver": "someone.removed", "code": "123456", "reason": "exempt"})
    assert (given.approver, given.reason, given.note) == ("someone.removed", "exempt", "")


def test_with_no_one_on_the_roster_the_dropdown_says_what_to_do(flow_module: ModuleType) -> None:
    props = flow_module.sign_off_form([], "x").model_json_schema()["properties"]
    assert props["approver"]["enum"] == ["(no legal account: dsar users add NAME --role legal)"]


def test_the_exemptions_are_a_multi_select_of_the_plan_and_the_ground_a_dropdown_of_the_domain_s(flow_module: ModuleType) -> None:
    grounds = get_args(flow_module.SignOff.model_fields["ground"].annotation)
    assert grounds == ("-", *(g.value for g in LegalGround))
    form = flow_module.sign_off_form(["lena.legal"], "x", ["shop", "shop/orders", "shop/customer.phone"])
    props = form.model_json_schema()["properties"]
    assert props["exemptions"]["type"] == "array" and props["exemptions"]["items"] == {
        "type": "string",
        "enum": ["shop", "shop/orders", "shop/customer.phone"],
    }
    assert props["ground"]["enum"][0] == "-" and props["ground"]["default"] == "-"
    given = form.model_validate(
        {"decision": "approve", "approver": "lena.legal", "code": "1", "exemptions": ["shop/orders"], "ground": "legal-hold"}
    )
    assert (given.exemptions, given.ground) == (["shop/orders"], "legal-hold")
    # nothing to exempt: the multi-select says so (and the engine refuses it as not in the plan)
    assert flow_module.sign_off_form(["lena.legal"], "x", []).model_json_schema()["properties"]["exemptions"]["items"]["enum"] == [
        flow_module.NOTHING_TO_EXEMPT
    ]


def test_the_letter_sign_off_form_is_approve_or_return_with_the_roster_as_a_dropdown(flow_module: ModuleType) -> None:
    from dsar.domain.letter_sign_off import LetterDecision

    form = flow_module.letter_sign_off_form(["lena.legal"], "### DSR-2026-000001: the deletion response letter waits")
    schema = form.model_json_schema()
    props = schema["properties"]
    assert list(props) == ["decision", "approver", "code", "reason", "note"]
    assert props["decision"]["enum"] == [d.value for d in LetterDecision] == ["approve", "return"]
    assert props["approver"]["enum"] == ["lena.legal"] and "$ref" not in str(props)
    assert set(schema["required"]) == {"decision", "approver", "code"}
    assert schema["title"] == "LetterSignOff"
    empty = flow_module.letter_sign_off_form([], "x").model_json_schema()["properties"]
    assert empty["approver"]["enum"] == ["(no legal account: dsar users add NAME --role legal)"]
