"""The verification risk rules (dsar.domain.verification_risk), pure: addresses, counts and claims
in, a flag with a reason that names the rule and counts or kinds, never a value."""

from __future__ import annotations

import pytest

from dsar.domain.verification_risk import (
    ASCII_FOLDS,
    DEFAULT_RISK_CLAIMS,
    RiskFlag,
    RiskRule,
    account_risk_claims,
    contact_correction,
    edit_distance,
    look_alike_address,
    mixed_script,
    near_miss,
    parse_claim_names,
    skeleton,
    tries_exhausted,
    truthy,
)

ON_FILE = "jane.doe@example.com"

# --- 1. look-alike address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("jane.m.doe@example.com", "1 edit on the local part"),  # threats 1's own example
        ("jnae.doe@example.com", "1 edit on the local part"),  # two letters swapped
        ("jane.doee@example.com", "1 edit on the local part"),
        ("janedoe@example.com", "dots or a +tag"),
        ("jane.doe+dsar@example.com", "dots or a +tag"),
        ("j.a.n.e.d.o.e@example.com", "dots or a +tag"),
        ("j\u0430ne.doe@example.com", "confusable characters"),  # Cyrillic а
        ("jane.d\u043ee@example.com", "confusable characters"),  # Cyrillic о
        ("\uff4a\uff41\uff4e\uff45.doe@example.com", "confusable characters"),  # full-width
        ("jane.d0e@example.com", "confusable characters"),  # zero for o
        ("jane.doe@exarnple.com", "confusable characters"),  # rn for m
        ("jane.doe@examp1e.com", "confusable characters"),  # one for l
        ("jane.doe@example.co", "1 edit on the domain"),
        ("jane.doe@exmaple.com", "1 edit on the domain"),
    ],
)
def test_a_near_miss_of_the_address_on_file_is_named_by_its_kind(typed: str, kind: str) -> None:
    assert kind in near_miss(typed, ON_FILE)


def test_a_long_local_part_allows_two_edits_a_short_one_one_and_a_tiny_one_none() -> None:
    assert near_miss("jane.m.doe.smyth@example.com", "jane.doe.smith@example.com") == ("2 edits on the local part",)
    assert near_miss("jane.m.doee@example.com", ON_FILE) == ()  # seven letters: one edit at most
    assert near_miss("ab@x.test", "abc@x.test") == ()  # two letters: other people's names
    assert near_miss("abd@x.test", "abc@x.test") == ("1 edit on the local part",)
    assert near_miss("abde@x.test", "abc@x.test") == ()  # two edits on a short name: another name


@pytest.mark.parametrize(
    "typed",
    [
        ON_FILE,
        "JANE.DOE@EXAMPLE.COM",  # the same address in capitals
        "jane.doe@example.org",  # another domain altogether: another address, not a look-alike
        "john.smith@example.com",
        "jane.doe@gmail.com",
        "someone.else@example.com",
        "not-an-address",
    ],
)
def test_the_same_address_or_plainly_another_one_is_no_near_miss(typed: str) -> None:
    assert near_miss(typed, ON_FILE) == ()


def test_mixed_scripts_are_named_beside_the_look_alike_but_alone_they_flag_nothing() -> None:
    assert set(near_miss("j\u0430ne.doe@example.com", ON_FILE)) == {"confusable characters", "mixed scripts"}
    assert mixed_script("j\u0430ne") and not mixed_script("jane.doe") and not mixed_script("\u0436\u0430\u043d")
    assert near_miss("\u0436\u0430\u043d.doe@example.com", ON_FILE) == ()  # Cyrillic-only, and no look-alike


def test_the_skeleton_reads_an_address_as_a_person_sees_it() -> None:
    assert skeleton("J\u0430NE.D0E@EXARNPLE.COM") == skeleton(ON_FILE) == "jane.doe@example.com"
    assert skeleton("\U0001d423ane") == "jane"  # mathematical bold j (NFKC)


def test_the_ascii_folds_are_pairs_unicode_s_confusables_table_lists() -> None:
    from confusable_homoglyphs.confusables import confusables_data

    listed = {(k.lower(), str(h["c"]).lower()) for k, hs in confusables_data.items() if k.isascii() for h in hs}
    listed |= {(b, a) for a, b in listed}
    for seen, means in ASCII_FOLDS:
        assert (seen, means) in listed, (seen, means)


@pytest.mark.parametrize(
    ("a", "b", "n"),
    [("", "", 0), ("abc", "abc", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("jane", "jnae", 1), ("ca", "abc", 3), ("ab", "ba", 1)],
)
def test_edit_distance_counts_swaps_of_neighbours_as_one(a: str, b: str, n: int) -> None:
    assert edit_distance(a, b) == edit_distance(b, a) == n


def test_the_look_alike_rule_flags_a_near_miss_with_counts_and_kinds_only() -> None:
    flag = look_alike_address(["jane.m.doe@example.com", "jane.m.doe@example.com", "work@elsewhere.test"], ON_FILE)
    assert flag == RiskFlag(RiskRule.LOOK_ALIKE_ADDRESS, "1 of 2 typed email(s) a near miss of the email on file: 1 edit on the local part")
    assert flag.reason.startswith("look_alike_address: ")
    assert "jane" not in flag.reason and "example" not in flag.reason  # no part of either address


def test_the_look_alike_rule_stays_quiet_without_a_near_miss_or_an_email_on_file() -> None:
    assert look_alike_address([ON_FILE], ON_FILE) is None  # the subject was found by the address typed
    assert look_alike_address(["jane.doe@example.org"], ON_FILE) is None
    assert look_alike_address(["jane.m.doe@example.com"], None) is None  # nothing on file to compare with
    assert look_alike_address([], ON_FILE) is None
    # the address on file typed beside a look-alike: still flagged (why would anyone type both?)
    assert look_alike_address([ON_FILE, "jane.doe+x@example.com"], ON_FILE) is not None


# --- 2. tries used up --------------------------------------------------------------------------


def test_tries_used_up_flag_once_the_limit_is_reached() -> None:
    assert tries_exhausted(4, 5, "contact") is None
    flag = tries_exhausted(5, 5, "data_points")
    assert flag is not None and flag.reason == "tries_exhausted: 5 of 5 tries failed (the last: data_points)"


# --- 3. correcting a contact on file -----------------------------------------------------------


def test_correcting_a_contact_on_file_flags_and_names_which() -> None:
    flag = contact_correction({"email", "city"}, {"email", "phone"})
    assert flag is not None and flag.reason == "contact_correction: corrects the email on file (1 of 2 contact(s) on file)"
    both = contact_correction({"phone", "email"}, {"email", "phone"})
    assert both is not None and "corrects the email and phone on file (2 of 2" in both.reason


def test_correcting_other_data_or_a_contact_not_on_file_flags_nothing() -> None:
    assert contact_correction({"city", "name", "postcode"}, {"email", "phone"}) is None
    assert contact_correction({"phone"}, {"email"}) is None  # no phone on file: nothing verified through it
    assert contact_correction(set(), {"email"}) is None


# --- 4. the login's risk claims ----------------------------------------------------------------


@pytest.mark.parametrize("value", [True, 1, 0.5, "true", "yes", "high", ["new_device"], {"reason": "reset"}])
def test_a_truthy_value_is_a_yes(value: object) -> None:
    assert truthy(value)


@pytest.mark.parametrize("value", [False, 0, 0.0, "", "false", "FALSE", " no ", "0", "off", "none", "null", None, [], {}])
def test_a_falsy_value_is_a_no(value: object) -> None:
    assert not truthy(value)


def test_a_watched_claim_that_is_truthy_flags_the_account() -> None:
    claims = {"sub": "acct-1", "risk": False, "pwd_reset_recent": True, "new_device": True}
    flag = account_risk_claims(claims, DEFAULT_RISK_CLAIMS)
    assert (
        flag is not None and flag.reason == "account_risk_claim: the login's assertion carries pwd_reset_recent (1 of 2 watched claim(s))"
    )
    assert account_risk_claims({"sub": "acct-1", "risk": 0}, DEFAULT_RISK_CLAIMS) is None
    assert account_risk_claims({"new_device": True}, DEFAULT_RISK_CLAIMS) is None  # not watched
    assert account_risk_claims({"new_device": True}, ("new_device",)) is not None
    assert account_risk_claims({"risk": True}, ()) is None  # none watched


def test_claim_names_are_read_from_the_setting() -> None:
    assert parse_claim_names("risk, pwd_reset_recent,,risk ") == ("risk", "pwd_reset_recent")
    assert parse_claim_names("") == () and parse_claim_names(None) == ()
    assert parse_claim_names(["a", " b "]) == ("a", "b")
