"""The response letters name what legal kept out at sign-off and why (templates/_partials/
exemptions.LANG.j2), and say nothing of it when nothing was kept out. The text is reflowed to
72 columns: it is read as one line here."""

from __future__ import annotations

import pytest

from dsar.letters.render import LetterRenderer
from tests.unit.test_letters import ROOT, context

KEPT = [
    {
        "system": "Online shop",
        "part": "orders",
        "reason": "it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e))",
        "ground": "gdpr-17-3-e",
    },
    {"system": "Helpdesk", "part": "contacts, the field phone", "reason": "it is under a legal hold", "ground": "legal-hold"},
]


@pytest.mark.parametrize("kind", ["access_response", "deletion_response", "correction_response"])
@pytest.mark.parametrize("regime", ["gdpr", "ccpa"])
def test_each_response_letter_names_what_was_kept_out_and_why(kind: str, regime: str) -> None:
    ctx = {**context(regime=regime), "erasure": [], "manual": [], "corrections": [], "recipients": [], "notified": [], "exemptions": KEPT}
    body = " ".join(LetterRenderer(ROOT / "templates").render(kind, regime, ctx).body.split())
    assert "Some of your data is not part of this answer, because an exemption in the law applies:" in body
    claims = "it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e))"
    assert f"- Online shop, orders: kept out because {claims}." in body
    assert "- Helpdesk, contacts, the field phone: kept out because it is under a legal hold." in body
    without = LetterRenderer(ROOT / "templates").render(kind, regime, {**ctx, "exemptions": []}).body
    assert "exemption in the law" not in without and "\n\n\n" not in without
