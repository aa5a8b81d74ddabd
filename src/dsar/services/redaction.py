"""What an access package must never hold, taken out before anything is written.

11 CCR 7024(d) forbids disclosing Social Security numbers, driver's licence and other
government identification numbers, financial account numbers, health insurance or medical
identification numbers, account passwords and security questions and answers; GDPR Art. 15(4)
forbids adversely affecting others. Three layers:

* the data map: a field marked ``withhold: REASON`` (government_id, financial_account,
  credential, security_answer, third_party) is left out, its name listed in the package's index
  with the reason, its value nowhere;
* field names that can only mean a secret (``password``, ``ssn``, ``security_answer`` ...)
  are left out even when the data map forgot to mark them;
* free text: every string value (at any depth) is scanned, and Social Security numbers and
  ITINs (``123-45-6789``, or nine digits after "SSN"/"ITIN"), and card numbers (13 to 19
  digits, spaces or dashes allowed, Luhn-valid) are replaced by ``[withheld: ...]``.

Counts of what was withheld (never values) go into the package's record and audit event.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from dsar.connectors.schema import FieldMap

REASONS = {
    "government_id": "a government identification number (11 CCR 7024(d))",
    "financial_account": "a financial account number (11 CCR 7024(d))",
    "credential": "a password or other credential (11 CCR 7024(d))",
    "security_answer": "a security question or answer (11 CCR 7024(d))",
    "third_party": "data about other people (GDPR Art. 15(4); Cal. Civ. Code 1798.145(k))",
}

# Names that can only hold a secret or a government id, whatever the data map says.
_SECRET_NAMES = re.compile(
    r"(^|_)(password|passwd|pwd|password_hash|secret|security_(question|answer)|ssn|social_security(_number)?|itin|tax_id|"
    r"drivers?_licen[cs]e(_number)?|passport(_number)?|iban|account_number|routing_number|card_number|cvv|cvc|pin)$",
    re.IGNORECASE,
)
_NAME_REASON = [
    (re.compile(r"password|passwd|pwd|secret|pin$", re.I), "credential"),
    (re.compile(r"security_(question|answer)", re.I), "security_answer"),
    (re.compile(r"iban|account_number|routing_number|card_number|cvv|cvc", re.I), "financial_account"),
]

_SSN = re.compile(r"(?<![\d-])(\d{3})[- ](\d{2})[- ](\d{4})(?![\d-])")
_SSN_WORD = re.compile(r"(?i)\b(ssn|itin|social security( number)?|tax id)\b(\s*(no\.?|number|#)?\s*[:=]?\s*)(\d{9})(?!\d)")
_CARD = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
# What every SSN, ITIN and card number above holds: nine digits, each after at most one space or
# dash. A text without it can hold none of them, whatever its length: the one pattern is the
# only scan most texts get (the three above run only on a line that has it).
_CANDIDATE = re.compile(r"\d(?:[- ]?\d){8}")
# Narrower, slower to run, still true of every one of them: three digits, two and four (an
# SSN's shape); nine in a row; thirteen with single separators (a card). Run only where the
# first found something, so that dates and times ("2025-01-02 10:05") cost no full scan.
_SHAPE = re.compile(r"\d(?:\d\d[- ]\d\d[- ]\d{4}|\d{8}|(?:[- ]?\d){12})")
# Where str.splitlines() breaks a text (the lines of a document are scrubbed one by one).
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")

SSN_MARK = "[withheld: SSN/ITIN]"
CARD_MARK = "[withheld: card number]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _name_reason(name: str) -> str | None:
    if not _SECRET_NAMES.search(name):
        return None
    for pattern, reason in _NAME_REASON:
        if pattern.search(name):
            return reason
    return "government_id"


@dataclass
class Redactor:
    """Applies the three layers to one system's records. ``marked`` is the data map's
    ``withhold`` marks: entity -> field -> reason (entity ``*``: any entity of the system)."""

    marked: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    withheld: Counter[str] = field(default_factory=Counter)  # reason -> fields left out
    scrubbed: Counter[str] = field(default_factory=Counter)  # ssn / card -> values replaced in text
    withheld_fields: dict[str, dict[str, str]] = field(default_factory=dict)  # entity -> field -> reason (for the index)
    # (entity, field) -> its reason or None, judged once per name (a system's records repeat them)
    _reasons: dict[tuple[str, str], str | None] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def for_system(cls, system: BaseModel | None) -> Redactor:
        return cls(withhold_marks(system) if system is not None else {})

    def reason(self, entity: str, name: str) -> str | None:
        known = self._reasons.get((entity, name), _UNKNOWN)
        if known is _UNKNOWN:
            known = self.marked.get(entity, {}).get(name) or self.marked.get("*", {}).get(name) or _name_reason(name)
            self._reasons[(entity, name)] = known
        return known  # type: ignore[return-value]

    def fields(self, entity: str, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        reasons = self._reasons
        for name, value in values.items():
            why = reasons[(entity, name)] if (entity, name) in reasons else self.reason(entity, name)
            if why is not None:
                self.withheld[why] += 1
                self.withheld_fields.setdefault(entity, {})[name] = why
                continue
            out[name] = self.text(value) if type(value) is str else self.scrub(value)
        return out

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: v for k, v in ((k, self._nested(k, v)) for k, v in value.items()) if v is not _DROP}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def _nested(self, key: Any, value: Any) -> Any:
        why = _name_reason(str(key))
        if why is not None:
            self.withheld[why] += 1
            return _DROP
        return self.scrub(value)

    def text(self, value: str) -> str:
        if _CANDIDATE.search(value) is None or _SHAPE.search(value) is None:
            return value  # no nine digits close together: neither an SSN nor a card number
        value = _SSN_WORD.sub(self._ssn_word, value)
        value = _SSN.sub(self._ssn, value)
        return _CARD.sub(self._card, value)

    def lines(self, text: str) -> str:
        """``text`` scrubbed line by line, as ``"".join(self.text(line) for line in
        text.splitlines(keepends=True))`` (no number spans two lines), but only the lines
        holding nine digits close together (:data:`_CANDIDATE`) are looked at: the rest of a
        document is one scan by one compiled pattern."""
        out: list[str] = []
        done = 0  # text[:done] is in out
        at = 0  # where the next candidate is looked for: a line's start
        while (m := _CANDIDATE.search(text, at)) is not None:
            start = max(at, text.rfind("\n", at, m.start()) + 1)
            while (other := _LINE_BREAK.search(text, start, m.start())) is not None:
                start = other.end()  # a rarer break (\r, \f, U+2028 ...) nearer to the number
            brk = _LINE_BREAK.search(text, m.end())
            end = brk.end() if brk is not None else len(text)
            if _SHAPE.search(text, start, end) is not None:  # else a date, a time: nothing the patterns take
                line = text[start:end]
                scrubbed = self.text(line)
                if scrubbed != line:
                    out.append(text[done:start])
                    out.append(scrubbed)
                    done = end
            at = end
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

    def _ssn(self, m: re.Match[str]) -> str:
        if m.group(1) == "000" or m.group(2) == "00" or m.group(3) == "0000":
            return m.group(0)
        self.scrubbed["ssn"] += 1
        return SSN_MARK

    def _ssn_word(self, m: re.Match[str]) -> str:
        self.scrubbed["ssn"] += 1
        return m.group(1) + m.group(3) + SSN_MARK

    def _card(self, m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            self.scrubbed["card"] += 1
            return CARD_MARK
        return m.group(0)

    def counts(self) -> dict[str, int]:
        return {**{f"field:{k}": v for k, v in sorted(self.withheld.items())}, **{f"text:{k}": v for k, v in sorted(self.scrubbed.items())}}


_DROP = object()
_UNKNOWN = object()


def withhold_marks(system: BaseModel) -> dict[str, dict[str, str]]:
    """entity -> field -> reason of every :class:`FieldMap` marked ``withhold`` in a system's
    data map, whatever its type (``*`` for fields not under a named entity)."""
    out: dict[str, dict[str, str]] = {}

    def walk(value: object, entity: str) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), entity)
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, FieldMap):
                    if v.withhold is not None:
                        out.setdefault(entity, {})[str(k)] = v.withhold
                else:
                    walk(v, str(k) if isinstance(v, BaseModel) else entity)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, entity)

    walk(system, "*")
    return out


def field_maps(system: BaseModel) -> dict[str, dict[str, FieldMap]]:
    """entity -> field -> its data-map entry (category, description), for the package's index."""
    out: dict[str, dict[str, FieldMap]] = {}

    def walk(value: object, entity: str) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), entity)
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, FieldMap):
                    out.setdefault(entity, {})[str(k)] = v
                else:
                    walk(v, str(k) if isinstance(v, BaseModel) else entity)

    walk(system, "*")
    return out


# --- documents ----------------------------------------------------------------------------------
#
# A document a system holds (an S3 blob exported with its content) is checked before it goes into
# a package: text is scrubbed line by line like any other text; a PDF's text and an office
# document's (OOXML, OpenDocument) are read, and the document is withheld whole when they hold an
# SSN or a card number (a PDF cannot be redacted in place); a document whose text cannot be read
# (an image, an unknown binary, a damaged or oversized PDF) is withheld unless the data map says
# ``unscannable: include`` for its set.

DOCUMENT_SCAN_LIMIT = 32 * 1024 * 1024  # a PDF or office document larger than this is not parsed
UNSCANNABLE = "unscannable"  # the reason of a document withheld because it could not be checked
DOCUMENT_REASONS = {
    "government_id": "it holds a Social Security number or another government identification number (11 CCR 7024(d))",
    "financial_account": "it holds a card or financial account number (11 CCR 7024(d))",
    UNSCANNABLE: (
        "its content (an image or a file whose text cannot be read) could not be checked for government identification, "
        "card or account numbers, or passwords (11 CCR 7024(d)); ask us and we will review it by hand"
    ),
}

# An office document's XML: the end of a paragraph, cell or row is a line break; any other tag
# (a run of text split by formatting or spell-checking) joins its neighbours.
_OFFICE_BREAK = re.compile(rb"</(?:w:p|w:tc|w:tr|a:p|text:p|text:h|table:table-cell|c|si|row)>")
_OFFICE_TAG = re.compile(rb"<[^>]{0,4096}>")


@dataclass(frozen=True)
class DocumentVerdict:
    """What a package does with one document: ``content`` to write (the text scrubbed, or the
    bytes as they were), or None and ``withheld`` the reason (a key of :data:`DOCUMENT_REASONS`).
    ``kind``: text, pdf, office, image or binary."""

    kind: str
    content: bytes | None
    withheld: str | None = None


def document_kind(data: bytes, name: str = "") -> str:
    """text, pdf, office (OOXML or OpenDocument), image or binary, from the bytes (the name's
    extension only breaks a tie)."""
    head = data[:8]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "office" if name.lower().rsplit(".", 1)[-1] in _OFFICE or _zip_is_office(data) else "binary"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM")):
        return "image"
    if (head.startswith(b"RIFF") and data[8:12] == b"WEBP") or data[4:8] == b"ftyp":  # WebP; HEIC, AVIF
        return "image"
    if b"\x00" in data[:65536]:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


_OFFICE = {"docx", "xlsx", "pptx", "odt", "ods", "odp"}


def _zip_is_office(data: bytes) -> bool:
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "[Content_Types].xml" in names or "content.xml" in names


class DocumentScanner:
    """Checks documents for one system (see above), counting what it scrubbed or withheld (no
    values) into ``redactor``'s counters."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.withheld: Counter[str] = Counter()  # reason -> documents withheld

    def check(self, data: bytes, name: str, *, include_unscannable: bool = False) -> DocumentVerdict:
        kind = document_kind(data, name)
        if kind == "text":
            before = sum(self.redactor.scrubbed.values())
            scrubbed = self.redactor.lines(data.decode("utf-8"))
            return DocumentVerdict(kind, scrubbed.encode("utf-8") if sum(self.redactor.scrubbed.values()) != before else data)
        text = self._text_of(kind, data)
        if text is None:
            if include_unscannable:
                return DocumentVerdict(kind, data)
            return self._withhold(kind, UNSCANNABLE)
        probe = Redactor()
        probe.lines(text)
        if probe.scrubbed["ssn"]:
            return self._withhold(kind, "government_id")
        if probe.scrubbed["card"]:
            return self._withhold(kind, "financial_account")
        return DocumentVerdict(kind, data)

    def _withhold(self, kind: str, reason: str) -> DocumentVerdict:
        self.withheld[reason] += 1
        return DocumentVerdict(kind, None, reason)

    @staticmethod
    def _text_of(kind: str, data: bytes) -> str | None:
        """The readable text of a PDF or an office document; None when there is none to read
        (an image, a binary, a damaged, encrypted or oversized file)."""
        if kind not in ("pdf", "office") or len(data) > DOCUMENT_SCAN_LIMIT:
            return None
        if kind == "office":
            return _office_text(data)
        return _pdf_text(data)

    def counts(self) -> dict[str, int]:
        return {f"document:{k}": v for k, v in sorted(self.withheld.items())}


def _pdf_text(data: bytes) -> str | None:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file's warnings would name nothing useful
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            return None
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError, AttributeError, IndexError):
        return None


def _office_text(data: bytes) -> str | None:
    import io
    import zipfile

    try:
        parts = []
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                if info.filename.endswith(".xml") and info.file_size <= DOCUMENT_SCAN_LIMIT:
                    xml = _OFFICE_BREAK.sub(b"\n", z.read(info))
                    parts.append(_OFFICE_TAG.sub(b"", xml).decode("utf-8", "replace"))
        return "\n".join(parts)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError):
        return None
