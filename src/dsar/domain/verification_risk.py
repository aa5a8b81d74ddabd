"""Verification risk flags: signals met while a requester proves who they are that send the
request to legal (a ``verification_risk`` escalation, :mod:`dsar.domain.escalations`) instead of
letting it run on. Pure: strings, counts and claims in, a :class:`RiskFlag` (or None) out; the
services decide where each is checked and raise the escalation (dsar.services.verification_risk).

Each rule is named by a :class:`RiskRule`; a flag's :attr:`RiskFlag.reason` is the rule's name
and counts or kinds only, never a value the requester typed or the record holds (it is sealed in
the audit trail anyway, and shown to staff). The rules, by docs/threats.md scenario:

1. :func:`look_alike_address` (scenario 1): an email the requester typed is not the email on
   file of the subject found, but a near miss of it: confusable characters or mixed scripts
   (Unicode's confusables table, through ``confusable_homoglyphs``), dots or a ``+tag``, a small
   edit distance on the local part, or a small one on the domain.
2. :func:`tries_exhausted` (brute force): the case's tries (wrong codes, failed data points,
   refused sign-ins) are used up.
3. :func:`contact_correction` (scenario 10): a correction asks to change a contact on file
   (its email or phone): the data identity is verified through.
4. :func:`account_risk_claims` (scenario 13): the organisation's login, vouching for an account
   holder, says the account saw something suspicious lately (a configured claim is truthy).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class RiskRule(StrEnum):
    LOOK_ALIKE_ADDRESS = "look_alike_address"
    TRIES_EXHAUSTED = "tries_exhausted"
    CONTACT_CORRECTION = "contact_correction"
    ACCOUNT_RISK_CLAIM = "account_risk_claim"


RULE_TEXT: dict[RiskRule, str] = {
    RiskRule.LOOK_ALIKE_ADDRESS: "an address typed is a look-alike of the one on file (threats 1)",
    RiskRule.TRIES_EXHAUSTED: "every verification try was used up (brute force)",
    RiskRule.CONTACT_CORRECTION: "the request corrects a contact identity is verified through (threats 10)",
    RiskRule.ACCOUNT_RISK_CLAIM: "the login reports recent suspicious activity on the account (threats 13)",
}


@dataclass(frozen=True)
class RiskFlag:
    """One rule that fired, with what it found in words without personal data."""

    rule: RiskRule
    detail: str

    @property
    def reason(self) -> str:
        """The escalation's reason: the rule's name, then its counts or kinds."""
        return f"{self.rule.value}: {self.detail}"


# --- 1. look-alike address ---------------------------------------------------------------------

# Look-alikes within ASCII itself, as Unicode's confusables table lists them (a test checks each
# pair against it): applied after the address is lower-cased, so ``I`` and ``O`` are folded first.
ASCII_FOLDS: tuple[tuple[str, str], ...] = (("rn", "m"), ("0", "o"), ("1", "l"), ("|", "l"))
# A local part this short is compared for equality only (after the folds): edits of a two-letter
# name are other people's names, not look-alikes.
MIN_LOCAL_FOR_EDITS = 3
# Local parts from this long (folded, dots and tag removed) allow two edits, shorter ones one.
LONG_LOCAL = 8


@cache
def _ascii_homoglyph(ch: str) -> str:
    """The ASCII character(s) Unicode's confusables table gives for ``ch``, else ``ch``."""
    from confusable_homoglyphs.confusables import confusables_data

    for entry in confusables_data.get(ch, ()):
        c = str(entry.get("c", "")).strip("\u200e\u200f")
        if c and c.isascii() and c.isprintable():
            return c.lower()
    return ch


def skeleton(text: str) -> str:
    """``text`` as it looks: NFKC (full-width, mathematical and other compatibility forms),
    lower-cased, every character that Unicode's confusables table says looks like an ASCII one
    replaced by it, and the ASCII look-alikes (``rn``/``m``, ``0``/``o``, ``1``/``l``) folded.
    Two addresses with the same skeleton read the same to a person."""
    folded = unicodedata.normalize("NFKC", text).lower()
    out = "".join(ch if ch.isascii() else _ascii_homoglyph(ch) for ch in folded)
    for seen, means in ASCII_FOLDS:
        out = out.replace(seen, means)
    return out


def scripts(text: str) -> frozenset[str]:
    """The Unicode scripts of ``text``'s characters, COMMON (digits, punctuation) left out."""
    from confusable_homoglyphs.categories import unique_aliases

    return frozenset(str(a) for a in unique_aliases(text)) - {"COMMON"}


def mixed_script(text: str) -> bool:
    """Letters of more than one script in one address (``jаne`` with a Cyrillic ``а``)."""
    return len(scripts(text)) > 1


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    neighbours (``jnae``/``jane`` is one edit), each counting one."""
    if a == b:
        return 0
    if not a or not b:
        return max(len(a), len(b))
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().lower().rpartition("@")
    return local, domain


def _bare(local: str) -> str:
    """A local part without its ``+tag`` and its dots (many mail services deliver
    ``jane.doe+shop@`` and ``janedoe@`` to the same mailbox)."""
    return local.split("+", 1)[0].replace(".", "")


def near_miss(typed: str, on_file: str) -> tuple[str, ...]:
    """Why ``typed`` is a near miss of ``on_file`` (kinds, no part of either address), or ``()``
    when it is the same address or simply another one. Addresses are compared lower-cased."""
    t_local, t_domain = _split(typed)
    f_local, f_domain = _split(on_file)
    if not t_domain or not f_domain or (t_local, t_domain) == (f_local, f_domain):
        return ()
    kinds: list[str] = []
    if skeleton(typed) == skeleton(on_file):
        kinds.append("confusable characters")
    if mixed_script(t_local) or mixed_script(t_domain):
        kinds.append("mixed scripts")
    sl_t, sl_f = skeleton(t_local), skeleton(f_local)
    sd_t, sd_f = skeleton(t_domain), skeleton(f_domain)
    if sd_t == sd_f and sl_t != sl_f:
        bare_t, bare_f = _bare(sl_t), _bare(sl_f)
        if bare_t == bare_f:
            kinds.append("dots or a +tag")
        elif min(len(bare_t), len(bare_f)) >= MIN_LOCAL_FOR_EDITS:
            n = edit_distance(bare_t, bare_f)
            if n <= (2 if min(len(bare_t), len(bare_f)) >= LONG_LOCAL else 1):
                kinds.append(f"{n} edit{'s' if n > 1 else ''} on the local part")
    elif sl_t == sl_f and sd_t != sd_f and edit_distance(sd_t, sd_f) == 1:
        kinds.append("1 edit on the domain")
    if kinds == ["mixed scripts"]:
        return ()  # mixed scripts alone, in an address that looks like nothing on file
    return tuple(kinds)


def look_alike_address(typed: Iterable[str], on_file: str | None) -> RiskFlag | None:
    """Rule 1: an email the requester typed is a near miss of the email on file of the subject
    found (by another identifier, or another address typed). None when there is no email on file,
    or every typed address is that email or plainly another one."""
    if not on_file:
        return None
    given = [e for e in dict.fromkeys(x.strip().lower() for x in typed) if e]
    found = {e: near_miss(e, on_file.strip().lower()) for e in given}
    misses = [kinds for kinds in found.values() if kinds]
    if not misses:
        return None
    kinds = sorted({k for ks in misses for k in ks})
    return RiskFlag(
        RiskRule.LOOK_ALIKE_ADDRESS,
        f"{len(misses)} of {len(given)} typed email(s) a near miss of the email on file: {', '.join(kinds)}",
    )


# --- 2. tries used up --------------------------------------------------------------------------


def tries_exhausted(attempts: int, max_attempts: int, last_proof: str) -> RiskFlag | None:
    """Rule 2: the case's failed tries reached the limit (the request is refused as unverifiable
    with the same words as ever; legal hears of it). ``last_proof``: the proof the last try was."""
    if attempts < max_attempts:
        return None
    return RiskFlag(RiskRule.TRIES_EXHAUSTED, f"{attempts} of {max_attempts} tries failed (the last: {last_proof})")


# --- 3. correcting a contact on file -----------------------------------------------------------

CONTACT_ATTRIBUTES = ("email", "phone")


def contact_correction(corrected: Collection[str], on_file: Collection[str]) -> RiskFlag | None:
    """Rule 3: a correction asks to change a contact the subject has on file (``on_file``: the
    contact kinds held, ``email``/``phone``), the data verification goes through (its link, its
    code, its data points). ``corrected``: the attributes the request asks to correct."""
    hit = [a for a in CONTACT_ATTRIBUTES if a in corrected and a in on_file]
    if not hit:
        return None
    held = sum(1 for a in CONTACT_ATTRIBUTES if a in on_file)
    return RiskFlag(RiskRule.CONTACT_CORRECTION, f"corrects the {' and '.join(hit)} on file ({len(hit)} of {held} contact(s) on file)")


# --- 4. the login's word on the account --------------------------------------------------------

DEFAULT_RISK_CLAIMS = ("risk", "pwd_reset_recent")
_FALSY_TEXT = frozenset({"", "0", "false", "no", "off", "none", "null"})


def truthy(value: object) -> bool:
    """A claim's value read as a yes: ``true``, a number other than 0, a string other than
    ``false``/``0``/``no``/``off``/``none``/``null`` (any case), a non-empty list or object."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY_TEXT
    if isinstance(value, Mapping | list | tuple):
        return len(value) > 0
    return False


def parse_claim_names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``risk,pwd_reset_recent`` (or a list) as claim names: trimmed, empty ones and repeats
    dropped, order kept."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return tuple(dict.fromkeys(x.strip() for x in items if x and x.strip()))


def account_risk_claims(claims: Mapping[str, object], names: Sequence[str]) -> RiskFlag | None:
    """Rule 4: the login's verified assertion carries one of the configured claims ``names``
    with a truthy value (a password reset, a new device, the login's own risk score)."""
    hit = [n for n in names if n in claims and truthy(claims[n])]
    if not hit:
        return None
    detail = f"the login's assertion carries {', '.join(hit)} ({len(hit)} of {len(names)} watched claim(s))"
    return RiskFlag(RiskRule.ACCOUNT_RISK_CLAIM, detail)
