"""Erasure counts checked against what is left afterwards (dsar.domain.plan.counted_after_the_fact)."""

from __future__ import annotations

from dsar.domain.plan import ErasureAction, ErasureKind, counted_after_the_fact

CUSTOMER = ErasureAction("customer", ErasureKind.ANONYMISE, 1)
ORDERS = ErasureAction("orders", ErasureKind.DELETE, 3)
INVOICES = ErasureAction("invoices", ErasureKind.RETAIN, 2, "tax law")
ROOTS = {"customer"}


def test_a_run_that_did_everything_itself_keeps_its_own_counts() -> None:
    reported = {"customer": {"anonymise": 1}, "orders": {"delete": 3}, "invoices": {"retain": 2}}
    assert counted_after_the_fact([CUSTOMER, ORDERS, INVOICES], reported, {}, ROOTS) == (reported, False)


def test_a_re_run_after_the_first_erased_and_died_counts_what_is_gone() -> None:
    counts, raised = counted_after_the_fact([CUSTOMER, ORDERS, INVOICES], {"invoices": {"retain": 2}}, {}, ROOTS)
    # the roots are gone; their children went in the same transaction; retained stays as reported
    assert raised and counts == {"invoices": {"retain": 2}, "customer": {"anonymise": 1}, "orders": {"delete": 3}}


def test_records_still_there_are_not_counted_and_children_are_not_guessed() -> None:
    two_roots = [ErasureAction("contact", ErasureKind.DELETE, 2), ErasureAction("lead", ErasureKind.DELETE, 1), ORDERS]
    counts, raised = counted_after_the_fact(two_roots, {"contact": {"delete": 1}}, {"lead": 1}, {"contact", "lead"})
    # one contact deleted now, one before the kill; the lead is still there (not counted) and
    # so the children of the roots are not assumed erased either
    assert raised and counts == {"contact": {"delete": 2}}


def test_more_than_planned_reported_is_kept() -> None:
    action = ErasureAction("records", ErasureKind.DELETE, 2)
    assert counted_after_the_fact([action], {"records": {"delete": 3}}, {}, {"records"}) == ({"records": {"delete": 3}}, False)
