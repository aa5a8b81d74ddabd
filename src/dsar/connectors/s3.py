"""The `s3` connector: objects in one Amazon S3 (or S3-compatible) bucket, or in a local folder.

The connection variable holds ``s3://<bucket>`` or ``s3://<bucket>/<root/prefix>``; the root
prefix is put before every set's prefix. Region, credentials and an endpoint override come from
the standard AWS environment (``AWS_REGION``, ``AWS_ENDPOINT_URL`` ...). ``file:///<absolute
path>`` (``"file://" + path``, the path taken literally) makes a local folder the bucket, with
no AWS at all: object keys are ``/``-separated paths relative to it. The connector makes its
S3 calls through :class:`~dsar.connectors.s3_api.S3Api`, answered by boto3's client or, for a
folder, by :class:`~dsar.connectors.folder_store.FolderClient` with S3's semantics and error
codes, so the same code runs on both (see its docstring for how keys are kept inside the
folder); failures are read by :mod:`dsar.connectors.aws`. A folder is never
versioned; a missing one fails ``check()`` and every operation. Each entry of ``objects`` maps
one set of objects in one of two layouts:

* **blob** (``prefix: "avatars/{account_id}/"`` or ``pattern: "invoices/*/{account_id}/*.pdf"``):
  the subject's objects live under a prefix built from their identifiers, or have keys that
  match a pattern built from them. With a prefix every object under it matches; each
  placeholder must be followed by ``/``: identity values never contain ``/``, so one subject's
  prefix can never be the start of another's (``avatars/42`` would also list ``avatars/420``).
  A pattern is matched against the whole key: a placeholder is the subject's value (written as
  below), ``*`` any run of characters within one path segment (never ``/``; at most two per
  segment, never ``**``). Locate lists under the pattern up to its first ``*``, placeholders
  filled (so never outside its literal part before the first placeholder or ``*``), and keeps
  the keys that match. A placeholder must end exactly where the value ends, so that one
  subject's pattern never matches another's keys: it is followed by ``/``, by the end of the
  pattern, by plain text up to the end of its path segment (``profiles/{account_id}.json``), or
  by a character no value written into a key holds (anything but letters, digits and
  ``@ . + - _ ~ %``, e.g. ``{account_id}#*.pdf``); and no ``*`` stands before it in its segment.
  So ``{account_id}-*.pdf`` is refused (for ``42`` it would match ``42-7-x.pdf`` of account
  ``42-7``), as is ``*{account_id}.json`` (``142.json``). Both layouts: one match per object,
  its key is the object key; export returns the object's key, size, last modification, content
  type and, up to 5 MB, its content (the record's ``content``, bytes as they are); a deletion removes the object, and in a
  versioned bucket every version and delete marker of its key.
* **jsonl** (``prefix: "events/"``, ``match: {email: email}``): uncompressed JSON Lines objects
  shared by many subjects. Every object under the literal part of the prefix (up to the first
  placeholder) is read; a line (a JSON object) matches when one of the ``match`` fields (a
  top-level field) equals an identity value (emails case-insensitively, account ids also as JSON
  integers). A match's key is ``<object key>#<line number>`` (1-based); malformed lines are
  skipped. A line number means something only in the object version locate read, so locate
  remembers that version's ETag: export, erase and correct must run on the connector that
  located the lines, read exactly that version (If-Match) and stop with a retryable error
  ("locate again") when the object changed meanwhile. A deletion rewrites each object without
  the subject's lines (conditionally, with If-Match, so a concurrent writer is never
  overwritten), deletes the object when nothing is left, and in a versioned bucket removes
  every older version of the key (they still hold the lines): only the newly written version
  remains. ``correctable: {phone_number: phone}`` (jsonl only) lets a correction request for
  ``phone`` set that top-level field: each located line that holds the field gets the new
  value (a string; a line without the field is left as it is, so no personal data is added
  where there was none); the object is rewritten the same way as for a deletion (the located
  version, conditionally; older versions removed in a versioned bucket) and not written at all
  when every field already holds its value. Only the corrected lines are re-serialised (keys
  in their order); every other line stays byte for byte. Lines keep their numbers, so this
  connector finds lines it located before a correction in the version it wrote.

Placeholders are ``{email}``, ``{account_id}`` and ``{phone}``. Values are put in URL-quoted
(``urllib.parse.quote(value, safe="@.+-_")``, emails lower-cased; in a pattern's regex also
``re.escape``-d), so ``/``, ``..``, ``*``, ``%`` or NUL in a value can never reach outside the
subject's prefix or match more than their own keys; values longer than 1000 characters or
holding NUL match nothing, and a set whose prefix or pattern needs a kind the subject lacks is
skipped. Keys of located objects are checked against the set's layout before anything is
read or deleted.

Known limits: a jsonl locate reads every object under the literal prefix (keep those prefixes
narrow), and a pattern with a ``*`` before its first placeholder lists every key under the part
before that ``*``; gzip-compressed objects are not read; a rewritten jsonl object keeps its
content type, user metadata and server-side encryption but not its tags; objects whose current
version is a delete marker are not located (their older versions stay until a lifecycle rule
expires them); if removing a rewritten jsonl object's older versions fails, a later run does not
find them.
A folder has no atomic compare-and-swap: If-Match is checked just before the atomic replace, so
an application writing the same file at that very moment can still lose its write; an
application appending to jsonl files in place should pause during erasures and corrections.
Messages name the system and the set, never a key or a value.
"""

from __future__ import annotations

import itertools
import json
import re
import string
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from dsar.connectors.aws import RETRYABLE_FAULTS, Fault, connector_error, error_code, fault_of, http_status
from dsar.connectors.base import (
    Capability,
    Connector,
    CorrectionAction,
    CorrectionReceipt,
    ErasureAction,
    ErasureKind,
    ErasureReceipt,
    ExportRecord,
    FieldChange,
    Health,
    LocateResult,
    Match,
    SubjectKeys,
    corrections_by_attribute,
    receipt_key,
    value_hash,
)
from dsar.connectors.s3_api import S3Api, open_backend
from dsar.connectors.schema import CORRECTION_ATTRIBUTE, IDENTITY_KINDS, FieldMap, Retain, SystemBase, identity_kind
from dsar.domain.errors import PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Correction

_SET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TOKEN = re.compile(r"\{([^{}]*)\}|\*")  # in a pattern: a placeholder or a wildcard
_KEY_SAFE = "@.+-_"  # kept as they are when an identity value is written into a key
# Every character of an identity value as written into a key (see _quoted): what quote() never
# escapes, the safe characters above, and % for the escapes.
_IDENTITY_CHARS = frozenset(string.ascii_letters + string.digits + "_.-~%" + _KEY_SAFE)
_IDENTITY = "[" + "".join(re.escape(c) for c in sorted(_IDENTITY_CHARS)) + "]+"
_MAX_WILDCARDS = 2  # per path segment of a pattern: more makes matching a long key slow
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_VALUE = 1000
_MAX_KEY_BYTES = 1024  # S3's limit for an object key
_MAX_INLINE = 5 * 1024 * 1024  # blobs up to this size are exported with their content
_READ_CHUNK = 1024 * 1024
_SPOOL = 64 * 1024 * 1024  # a rewritten jsonl object stays in memory up to this size
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
_MISSING_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})
_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})


# --- configuration --------------------------------------------------------------------------


def _placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def _literal(template: str) -> str:
    """The part of a prefix template before its first placeholder."""
    m = _PLACEHOLDER.search(template)
    return template if m is None else template[: m.start()]


def _pattern_problem(pattern: str) -> str | None:
    """Why a blob set's pattern could match one subject's key for another subject (None when it
    cannot). Each placeholder must end exactly where the identity value ends: an identity value
    is written into a key with letters, digits and ``@ . + - _ ~ %`` only and never holds ``/``,
    so a placeholder must be followed by ``/``, by the end of the pattern, by a character outside
    that set, or by plain text up to the end of its path segment; and no ``*`` may stand before
    it in its segment. Then every placeholder's value is read off a key unambiguously."""
    for segment in pattern.split("/"):
        tokens = [m.group(0) for m in _TOKEN.finditer(segment)]
        if "**" in segment or tokens.count("*") > _MAX_WILDCARDS:
            return f"at most {_MAX_WILDCARDS} '*' per path segment, never two in a row"
        wildcard_before = False
        for m in _TOKEN.finditer(segment):
            if m.group(1) is None:  # a '*'
                wildcard_before = True
                continue
            name = m.group(1)
            if wildcard_before:
                return (
                    f"a '*' before placeholder {{{name}}} in the same path segment could take in the start of an identifier "
                    f"(*{{{name}}} would match 142 for 42): put the placeholder first in its segment or after plain text"
                )
            rest = segment[m.end() :]
            if rest and rest[0] not in _IDENTITY_CHARS and rest[0] not in "*{":
                continue  # ends at a character no identifier written into a key holds
            if not _TOKEN.search(rest):
                continue  # plain text up to the end of the segment (or '/', or the end of the pattern)
            return (
                f"placeholder {{{name}}} must end where the identifier ends, so that one subject's keys never match "
                f"another's ({{{name}}}-*.pdf for 42 would match 42-7-x.pdf of 42-7): follow it with '/', the end of the "
                f"pattern, plain text up to the next '/' (profiles/{{{name}}}.json) or a character no identifier written "
                f"into a key holds (anything but letters, digits and @ . + - _ ~ %, e.g. {{{name}}}#*.pdf)"
            )
    return None


_Template = Annotated[str, Field(min_length=1, max_length=512)]


class S3ObjectSet(BaseModel):
    """One set of objects: where it lies (a key template), how it is read and what a deletion does."""

    model_config = ConfigDict(extra="forbid")
    # Exactly one of: every object under a key prefix (blob or jsonl), or (blob only) every
    # object whose whole key matches a pattern with placeholders and `*` wildcards.
    prefix: _Template | None = None
    pattern: _Template | None = None
    format: Literal["blob", "jsonl"] = "blob"
    # jsonl only: identity kind -> the top-level JSON field compared for equality.
    match: dict[str, str] = Field(default_factory=dict)
    category: str = Field(min_length=1, max_length=64)
    # On a deletion request: delete the subject's objects (blob) or lines (jsonl), or keep them
    # with a stated reason. No rule: the plan says so and a person decides.
    erase: Literal["delete"] | Retain | None = None
    # jsonl only: top-level JSON field -> the attribute a correction request names to correct it
    # (e.g. {phone_number: phone}); fields not listed are never corrected.
    correctable: dict[str, str] = Field(default_factory=dict)
    # blob only: an object whose text cannot be checked for government ids, card numbers or
    # passwords (an image, an unreadable file) is withheld from access packages, or included.
    unscannable: Literal["withhold", "include"] = "withhold"
    # jsonl only: a line's top-level fields as the data map knows them, like an SQL entity's
    # (category, the access package index's description, withhold: a field never written into an
    # access package, its name listed with the reason). Fields not listed take the set's category.
    fields: dict[Annotated[str, Field(min_length=1, max_length=128)], FieldMap] = Field(default_factory=dict)

    @property
    def template(self) -> str:
        """The set's prefix or pattern (after the connection's root prefix)."""
        return self.prefix if self.prefix is not None else self.pattern or ""

    @field_validator("prefix", "pattern")
    @classmethod
    def _syntax(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        what = info.field_name
        if _CONTROL.search(v):
            raise ValueError(f"{what} must not contain control characters")
        if "{" in _PLACEHOLDER.sub("", v) or "}" in _PLACEHOLDER.sub("", v):
            raise ValueError(f"{what} {v!r}: unbalanced brace (placeholders are {{email}}, {{account_id}}, {{phone}})")
        for name in _placeholders(v):
            if name not in IDENTITY_KINDS:
                raise ValueError(f"{what} {v!r}: placeholder {{{name}}} is not one of {', '.join(sorted(IDENTITY_KINDS))}")
        if what == "pattern" and (problem := _pattern_problem(v)) is not None:
            raise ValueError(f"pattern {v!r}: {problem}")
        return v

    @field_validator("match")
    @classmethod
    def _match(cls, v: dict[str, str]) -> dict[str, str]:
        for kind, field in v.items():
            identity_kind(kind, "match kind")
            if not field or len(field) > 255 or _CONTROL.search(field):
                raise ValueError(f"match {kind!r}: the JSON field name must be 1 to 255 printable characters")
        return v

    @field_validator("correctable")
    @classmethod
    def _correctable(cls, v: dict[str, str]) -> dict[str, str]:
        for field, attribute in v.items():
            if not field or len(field) > 255 or _CONTROL.search(field):
                raise ValueError("correctable: each JSON field name must be 1 to 255 printable characters")
            if not re.match(CORRECTION_ATTRIBUTE, attribute):
                raise ValueError(f"correctable {field!r}: attribute {attribute!r} must be lower-case letters, digits and _ (e.g. phone)")
        return v

    @model_validator(mode="after")
    def _layout(self) -> S3ObjectSet:
        if (self.prefix is None) == (self.pattern is None):
            raise ValueError(
                "give exactly one of prefix (every object under the subject's prefix, e.g. avatars/{account_id}/) "
                "or pattern (a blob set's keys matched whole, e.g. profiles/{account_id}.json)"
            )
        if self.pattern is not None and self.format != "blob":
            raise ValueError("pattern is for blob sets only: a jsonl set reads every object under its prefix")
        names = _placeholders(self.template)
        if self.format == "blob":
            if not names:
                what = "prefix" if self.prefix is not None else "pattern"
                raise ValueError(
                    f"a blob set's {what} needs a placeholder ({{email}}, {{account_id}} or {{phone}}): "
                    "it says which keys are the subject's"
                )
            if self.match:
                raise ValueError("match is for jsonl sets only: a blob set matches by its prefix")
            if self.correctable:
                raise ValueError("correctable is for jsonl sets only: a blob is deleted or retained whole, never corrected field by field")
            if self.fields:
                raise ValueError("fields is for jsonl sets only: a blob is a document, checked as a whole (unscannable: withhold|include)")
            for m in _PLACEHOLDER.finditer(self.prefix or ""):  # a pattern's rules are checked with its syntax
                if not self.template.startswith("/", m.end()):
                    raise ValueError(
                        f"prefix {self.prefix!r}: placeholder {{{m.group(1)}}} must be followed by '/' "
                        "so that one subject's prefix is never the start of another's (e.g. avatars/{account_id}/)"
                    )
        elif not self.match:
            raise ValueError("a jsonl set needs match: the JSON field compared with each identity kind (e.g. {email: email})")
        for name, known in self.fields.items():
            if known.correctable is not None or known.erase != "null":
                raise ValueError(
                    f"fields.{name}: a jsonl line is deleted or kept whole, and corrected through the set's correctable; "
                    "a field takes only category, description and withhold"
                )
        return self


class S3System(SystemBase):
    """Objects in one S3 bucket: per-subject prefixes or key patterns (blob) or shared JSON Lines objects (jsonl)."""

    type: Literal["s3"]
    objects: dict[str, S3ObjectSet] = Field(min_length=1)

    @field_validator("objects")
    @classmethod
    def _names(cls, v: dict[str, S3ObjectSet]) -> dict[str, S3ObjectSet]:
        for name in v:
            if not _SET_NAME.match(name):
                raise ValueError(f"object set name {name!r} is not a plain identifier")
        return v


# --- values ---------------------------------------------------------------------------------


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _head(s: S3ObjectSet) -> str:
    """What a blob set lists under, before its placeholders are filled: the whole prefix, or a
    pattern up to its first wildcard."""
    return s.prefix if s.prefix is not None else (s.pattern or "").partition("*")[0]


def _key_regex(s: S3ObjectSet, values: Mapping[str, str] | None) -> str:
    """The regex (matched against a whole key, after the root prefix) of a blob set's keys: each
    placeholder is its value as written into a key (any identifier so written when ``values`` is
    None), each ``*`` of a pattern any run of characters but ``/``; a prefix is followed by anything."""
    template, wildcards = s.template, s.pattern is not None
    out: list[str] = []
    pos = 0
    for m in (_TOKEN if wildcards else _PLACEHOLDER).finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        if m.group(1) is None:
            out.append("[^/]*")
        else:
            out.append(_IDENTITY if values is None else re.escape(values[m.group(1)]))
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return "".join(out) + ("" if wildcards else ".*")


def _usable(value: str) -> bool:
    return bool(value) and "\x00" not in value and len(value) <= _MAX_VALUE


def _quoted(kind: str, value: str) -> str | None:
    """An identity value as it appears in a key, or None when it matches nothing."""
    if not _usable(value):
        return None
    q = quote(value.lower() if kind == "email" else value, safe=_KEY_SAFE)
    return q.replace(".", "%2E") if q in (".", "..") else q


def _lines(body: Any) -> Iterator[tuple[int, bytes]]:
    """The physical lines of a streamed object, numbered from 1, each with its newline (the last
    may lack one)."""
    pending = b""
    n = 0
    for chunk in body.iter_chunks(_READ_CHUNK):
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) != -1:
            n += 1
            yield n, pending[start : end + 1]
            start = end + 1
        pending = pending[start:]
    if pending:
        yield n + 1, pending


def _parse(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or absurdly nested
        return None
    return value if isinstance(value, dict) else None


def _dump(obj: dict[str, Any]) -> bytes:
    """A corrected line's JSON (keys in their order; other values as they were parsed)."""
    try:
        return json.dumps(obj, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate (written escaped in the original line)
        return json.dumps(obj).encode()


class S3Connector(Connector):
    capabilities = frozenset({Capability.LOCATE, Capability.EXPORT, Capability.ERASE, Capability.CORRECT})

    def __init__(self, system_map: S3System, url: str, pseudonym_key: bytes = b"", client: S3Api | None = None) -> None:
        self.system = system_map.system
        self.map = system_map
        self._receipt_key = receipt_key(pseudonym_key, self.system)  # correction receipts hash values under it
        backend = open_backend(self.system, url, client)
        self._owns_client = client is None  # a client handed in is closed by whoever made it
        self.folder = backend.local
        self.bucket, self.root = backend.bucket, backend.root
        self._client: S3Api = backend.client
        self._store, self._service = backend.store, backend.service
        # How a failure reads here, beyond the shared wording of dsar.connectors.aws.
        self._messages = {
            Fault.CHANGED: "{where}: an object changed since it was located; locate again",
            Fault.MISSING: f"{{where}}: the {self._store} does not exist",
            Fault.UNSUPPORTED: "{where}: the store does not support this request ({code})",
            Fault.REFUSED: f"{{where}}: request refused ({{code}}); do the {self._store} and the data map match?",
        }
        if self.folder:
            self._messages[Fault.DENIED] = "{where}: access refused ({code}); check the folder's permissions"
        # The layout every located key of a blob set is checked against (any subject's keys).
        self._layouts = {
            name: re.compile(re.escape(self.root) + _key_regex(s, None), re.DOTALL)
            for name, s in system_map.objects.items()
            if s.format == "blob"
        }
        self._versioning: str | None = None
        # A jsonl line number means something only in the object version it was read from:
        # locate notes the ETag of that version for every matched line ("key#n" -> ETag), and
        # export, erase and correct read exactly that version again (If-Match) or stop.
        self._line_etags: dict[str, str] = {}
        # (object key, ETag) whose located lines this connector erased: running it again is a no-op.
        self._erased: set[tuple[str, str]] = set()
        # A correction rewrites lines in place (line numbers stay): object key -> (the ETags it
        # superseded here, the ETag it wrote last), so lines located in an older version are
        # found again in the version this connector wrote.
        self._corrected: dict[str, tuple[frozenset[str], str]] = {}

    # --- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connections of the client this connector made (boto3's; a folder holds none)."""
        closer = getattr(self._client, "close", None) if self._owns_client else None
        if callable(closer):
            closer()

    def _fail(self, exc: Exception, where: str) -> Exception:
        return connector_error(self.system, exc, where, self._service, self._messages)

    def _call(self, where: str, op: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
        """One S3 call on the connector's bucket; every failure becomes the engine's error."""
        try:
            return op(Bucket=self.bucket, **params)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, where) from None

    def _get(self, where: str, key: str, if_match: str | None = None) -> Any | None:
        """GetObject, or None when the key is gone."""
        params: dict[str, Any] = {"Key": key}
        if if_match:
            params["IfMatch"] = if_match
        try:
            return self._client.get_object(Bucket=self.bucket, **params)
        except ClientError as exc:
            if error_code(exc) in _MISSING_KEY:
                return None
            raise self._fail(exc, where) from None
        except BotoCoreError as exc:
            raise self._fail(exc, where) from None

    def _list(self, where: str, prefix: str) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"Prefix": prefix}
        while True:
            page = self._call(where, self._client.list_objects_v2, **params)
            yield from page.get("Contents", []) or []
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            params["ContinuationToken"] = token

    def _versions(self, where: str, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every version (newest first) and delete marker of exactly this key."""
        versions: list[dict[str, Any]] = []
        markers: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Prefix": key}
        while True:
            page = self._call(where, self._client.list_object_versions, **params)
            versions += [v for v in page.get("Versions", []) or [] if v.get("Key") == key]
            markers += [d for d in page.get("DeleteMarkers", []) or [] if d.get("Key") == key]
            if not page.get("IsTruncated"):
                return versions, markers
            params["KeyMarker"] = page.get("NextKeyMarker")
            params["VersionIdMarker"] = page.get("NextVersionIdMarker")
            if not params["KeyMarker"]:
                return versions, markers

    def _delete_versions(self, where: str, key: str, version_ids: Sequence[str]) -> None:
        for start in range(0, len(version_ids), _DELETE_BATCH):
            batch = [{"Key": key, "VersionId": v} for v in version_ids[start : start + _DELETE_BATCH]]
            result = self._call(where, self._client.delete_objects, Delete={"Objects": batch, "Quiet": True})
            errors = result.get("Errors") or []
            if errors:
                code = str(errors[0].get("Code", "Unknown"))
                if fault_of(code) in RETRYABLE_FAULTS:
                    raise RetryableConnectorError(self.system, f"{where}: {self._service} is busy or unavailable ({code})")
                raise PermanentConnectorError(
                    self.system, f"{where}: {len(errors)} object version(s) could not be deleted ({code}); object lock or legal hold?"
                )

    def _versioning_status(self) -> str:
        if self._versioning is None:
            answer = self._call(self._store, self._client.get_bucket_versioning)
            self._versioning = str(answer.get("Status") or "Disabled")
        return self._versioning

    def _check_key(self, name: str, key: str) -> str:
        """A located key back to its object key, refused unless it fits the set's layout."""
        s = self.map.objects[name]
        if s.format == "jsonl":
            obj, _, line = key.rpartition("#")
            if obj.startswith(self.root + _literal(s.template)) and line.isdigit() and int(line) >= 1:
                return obj
        elif self._layouts[name].fullmatch(key):
            return key
        what = "prefix" if s.prefix is not None else "pattern"
        raise PermanentConnectorError(self.system, f"set {name}: a located key does not fit the set's {what}")

    # --- health -----------------------------------------------------------------------------
    def check(self) -> Health:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = error_code(exc)
            if code in _MISSING_BUCKET:
                if self.folder:
                    return Health(self.system, False, "the folder does not exist (or is not a directory)")
                return Health(self.system, False, "the bucket does not exist")
            if code in ("403", "AccessDenied", "Forbidden"):
                if self.folder:
                    return Health(self.system, False, "the folder cannot be read: check its permissions")
                return Health(self.system, False, "access to the bucket is refused (403): check the credentials and the bucket policy")
            raise self._fail(exc, self._store) from None
        except BotoCoreError as exc:
            raise self._fail(exc, self._store) from None
        self._versioning = None
        status = self._versioning_status()
        if self.folder:
            return Health(self.system, True, "reachable; local folder (no versions: erased objects are removed at once)")
        notes: list[str] = []
        if status != "Enabled":
            notes.append(f"bucket versioning is {status.lower()}: erased objects are removed at once, without older versions to clean up")
        return Health(self.system, True, f"reachable; bucket versioning {status.lower()}", tuple(notes))

    # --- locate -----------------------------------------------------------------------------
    def locate(self, subject: SubjectKeys) -> LocateResult:
        by_kind = subject.by_kind()
        found: dict[tuple[str, str], set[str]] = {}
        for name, s in self.map.objects.items():
            hits = self._locate_blobs(name, s, by_kind) if s.format == "blob" else self._locate_lines(name, s, by_kind)
            for key, kinds in hits:
                found.setdefault((name, key), set()).update(kinds)
        matches = tuple(Match(entity, key, tuple(sorted(kinds))) for (entity, key), kinds in sorted(found.items()))
        return LocateResult(self.system, matches)

    def _locate_blobs(self, name: str, s: S3ObjectSet, by_kind: Mapping[str, Sequence[str]]) -> Iterator[tuple[str, list[str]]]:
        """The subject's objects of a blob set: listed under the prefix (a pattern: its part up to
        the first wildcard) filled with the subject's values, each key matched whole against the
        filled prefix or pattern."""
        kinds = sorted(set(_placeholders(s.template)))
        choices: list[list[str]] = []
        for kind in kinds:
            values = sorted({q for v in by_kind.get(kind, ()) if (q := _quoted(kind, v)) is not None})
            if not values:
                return  # the subject lacks a kind the template needs
            choices.append(values)
        listings: dict[str, list[re.Pattern[str]]] = {}  # listing prefix -> the subject's layouts under it
        for combo in itertools.product(*choices):
            filled = dict(zip(kinds, combo, strict=True))
            prefix = self.root + _fill(_head(s), filled)
            if len(prefix.encode()) > _MAX_KEY_BYTES:
                continue
            listings.setdefault(prefix, []).append(re.compile(re.escape(self.root) + _key_regex(s, filled), re.DOTALL))
        for prefix, layouts in listings.items():
            for obj in self._list(f"set {name}", prefix):
                key = str(obj["Key"])
                if any(layout.fullmatch(key) for layout in layouts):
                    yield key, kinds

    def _wanted(self, s: S3ObjectSet, by_kind: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, set[str]]]:
        """kind -> (JSON field, the subject's usable values of that kind, emails lower-cased)."""
        wanted: dict[str, tuple[str, set[str]]] = {}
        for kind, field in s.match.items():
            values = {v.lower() if kind == "email" else v for v in by_kind.get(kind, ()) if _usable(v)}
            if values:
                wanted[kind] = (field, values)
        return wanted

    @staticmethod
    def _line_kinds(obj: Mapping[str, Any], wanted: Mapping[str, tuple[str, set[str]]]) -> list[str]:
        kinds = []
        for kind, (field, values) in wanted.items():
            v = obj.get(field)
            if isinstance(v, int) and not isinstance(v, bool) and kind != "email":
                v = str(v)
            if isinstance(v, str) and (v.lower() if kind == "email" else v) in values:
                kinds.append(kind)
        return kinds

    def _locate_lines(self, name: str, s: S3ObjectSet, by_kind: Mapping[str, Sequence[str]]) -> Iterator[tuple[str, list[str]]]:
        wanted = self._wanted(s, by_kind)
        if not wanted:
            return
        where = f"set {name}"
        for entry in self._list(where, self.root + _literal(s.template)):
            key = str(entry["Key"])
            response = self._get(where, key)
            if response is None:
                continue  # deleted since it was listed
            body = response["Body"]
            hits: list[tuple[int, list[str]]] = []
            try:
                for n, raw in _lines(body):
                    obj = _parse(raw)
                    kinds = self._line_kinds(obj, wanted) if obj is not None else []
                    if kinds:
                        hits.append((n, kinds))
            except BotoCoreError as exc:
                raise self._fail(exc, where) from None
            finally:
                body.close()
            etag = str(response.get("ETag") or "")
            for n, kinds in hits:
                self._line_etags[f"{key}#{n}"] = etag
                yield f"{key}#{n}", kinds

    # --- export -----------------------------------------------------------------------------
    def _keys(self, located: LocateResult, name: str) -> list[str]:
        return sorted({m.key for m in located.matches if m.entity == name})

    def _lines_by_object(self, located: LocateResult, name: str) -> dict[tuple[str, str], set[int]]:
        """Line numbers per (object key, ETag of the version they were located in)."""
        out: dict[tuple[str, str], set[int]] = {}
        for key in self._keys(located, name):
            obj = self._check_key(name, key)
            etag = self._line_etags.get(key)
            if etag is None:
                raise PermanentConnectorError(
                    self.system, f"set {name}: JSON Lines are exported and erased only by the connector that located them"
                )
            out.setdefault((obj, etag), set()).add(int(key.rpartition("#")[2]))
        return out

    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        for name, s in self.map.objects.items():
            if s.format == "blob":
                yield from self._export_blobs(located, name, s)
            else:
                yield from self._export_lines(located, name, s)

    def _export_blobs(self, located: LocateResult, name: str, s: S3ObjectSet) -> Iterator[ExportRecord]:
        where = f"set {name}"
        for key in self._keys(located, name):
            self._check_key(name, key)
            response = self._get(where, key)
            if response is None:
                continue  # gone since it was located
            body = response["Body"]
            size = int(response.get("ContentLength") or 0)
            modified = response.get("LastModified")
            fields: dict[str, Any] = {
                "key": key,
                "size": size,
                "last_modified": modified.isoformat() if modified is not None else None,
                "content_type": response.get("ContentType"),
            }
            content = None
            try:
                if size <= _MAX_INLINE:
                    content = body.read()  # the bytes themselves, to the package as they are (no base64)
            except BotoCoreError as exc:
                raise self._fail(exc, where) from None
            finally:
                body.close()
            categories = {f: s.category for f in fields}
            if content is not None:
                categories["content_base64"] = s.category  # the document's category (its name in earlier builds)
            yield ExportRecord(name, key, fields, categories, content)

    def _export_lines(self, located: LocateResult, name: str, s: S3ObjectSet) -> Iterator[ExportRecord]:
        where = f"set {name}"
        for (obj_key, etag), numbers in sorted(self._lines_by_object(located, name).items()):
            response = self._get(where, obj_key, self._resolve(obj_key, etag))
            if response is None:
                continue
            body = response["Body"]
            try:
                records = [(n, obj) for n, raw in _lines(body) if n in numbers and (obj := _parse(raw)) is not None]
            except BotoCoreError as exc:
                raise self._fail(exc, where) from None
            finally:
                body.close()
            for n, obj in records:
                yield ExportRecord(name, f"{obj_key}#{n}", obj, {f: s.fields[f].category if f in s.fields else s.category for f in obj})

    # --- erasure ----------------------------------------------------------------------------
    def plan_erasure(self, located: LocateResult) -> list[ErasureAction]:
        actions = []
        for name, s in self.map.objects.items():
            n = len(self._keys(located, name))
            if not n:
                continue
            if s.erase is None:
                actions.append(ErasureAction(name, ErasureKind.UNMAPPED, n, "the data map has no erasure rule for this object set"))
            elif isinstance(s.erase, Retain):
                actions.append(ErasureAction(name, ErasureKind.RETAIN, n, s.erase.retain))
            else:
                actions.append(ErasureAction(name, ErasureKind.DELETE, n))
        return actions

    def erase(self, located: LocateResult, approved: list[ErasureAction]) -> ErasureReceipt:
        """Carry out the approved actions; objects and lines already gone count 0, so running it
        again reports nothing more."""
        if any(a.action is ErasureKind.UNMAPPED for a in approved):
            raise PermanentConnectorError(self.system, "the approved plan holds an object set without an erasure rule")
        unsupported = sorted({a.action for a in approved} - {"delete", "retain"})
        if unsupported:
            raise PermanentConnectorError(self.system, f"S3 objects are deleted or retained, not {', '.join(unsupported)}")
        by_entity = {a.entity: a for a in approved}
        counts: dict[str, dict[str, int]] = {}
        for name, s in self.map.objects.items():
            action = by_entity.get(name)
            keys = self._keys(located, name)
            if action is None or not keys:
                continue
            if action.action is ErasureKind.RETAIN:
                counts[name] = {"retain": len(keys)}
            elif s.format == "blob":
                counts[name] = {"delete": sum(self._delete_blob(name, self._check_key(name, key)) for key in keys)}
            else:
                lines = self._lines_by_object(located, name)
                counts[name] = {
                    "delete": sum(self._erase_lines(name, obj, etag, numbers) for (obj, etag), numbers in sorted(lines.items()))
                }
        return ErasureReceipt(self.system, counts)

    def _delete_blob(self, name: str, key: str) -> int:
        """Delete one object (every version and delete marker of its key); 1 if anything was there."""
        where = f"set {name}"
        if self._versioning_status() == "Disabled":
            try:
                self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if error_code(exc) in _MISSING_KEY:
                    return 0
                raise self._fail(exc, where) from None
            except BotoCoreError as exc:
                raise self._fail(exc, where) from None
            self._call(where, self._client.delete_object, Key=key)
            return 1
        versions, markers = self._versions(where, key)
        ids = [str(v["VersionId"]) for v in versions + markers]
        self._delete_versions(where, key, ids)
        return 1 if ids else 0

    def _erase_lines(self, name: str, key: str, located_etag: str, numbers: set[int]) -> int:
        """Rewrite one jsonl object without the given lines (see :meth:`_rewrite`)."""
        if (key, located_etag) in self._erased:
            return 0  # these lines are gone already: erased by an earlier run of this connector
        removed = 0

        def drop(n: int, raw: bytes) -> bytes:
            nonlocal removed
            if n in numbers and _parse(raw) is not None:
                removed += 1
                return b""
            return raw

        etag = self._resolve(key, located_etag)

        def written(_: str) -> None:  # the line numbers mean nothing any more in what was written
            superseded, _latest = self._corrected.pop(key, (frozenset(), ""))
            self._erased.update((key, e) for e in {located_etag, etag, *superseded})

        return removed if self._rewrite(f"set {name}", key, etag, drop, written) else 0

    def _rewrite(self, where: str, key: str, etag: str, edit: Callable[[int, bytes], bytes], written: Callable[[str], None]) -> bool:
        """Rewrite one jsonl object line by line: ``edit`` returns each line's new bytes (``b""``
        drops it). Reads exactly the located version (If-Match) and writes conditionally on it,
        so a concurrent writer is never overwritten (a retryable "locate again" error instead);
        ``written`` hears the new version's ETag at once. Then deletes the object when nothing
        is left, and in a versioned bucket removes every older version of the key (they still
        hold what was changed). False when nothing changed or the object is gone."""
        response = self._get(where, key, etag)
        if response is None:
            return False
        current = str(response.get("ETag") or "")
        body = response["Body"]
        changed = kept = False
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as out:
            try:
                for n, raw in _lines(body):
                    new = edit(n, raw)
                    changed = changed or new != raw
                    kept = kept or bool(new.strip())
                    out.write(new)
            except BotoCoreError as exc:
                raise self._fail(exc, where) from None
            finally:
                body.close()
            if not changed:
                return False
            out.seek(0)
            params: dict[str, Any] = {"Key": key, "Body": out}
            if current:
                params["IfMatch"] = current  # never overwrite what a writer added meanwhile
            if response.get("ContentType"):
                params["ContentType"] = response["ContentType"]
            if response.get("Metadata"):
                params["Metadata"] = response["Metadata"]
            if response.get("ServerSideEncryption"):
                params["ServerSideEncryption"] = response["ServerSideEncryption"]
                if response.get("SSEKMSKeyId"):
                    params["SSEKMSKeyId"] = response["SSEKMSKeyId"]
            answer = self._call(where, self._client.put_object, **params)
        new_etag = str(answer.get("ETag") or "")
        written(new_etag)
        if self._versioning_status() == "Disabled":
            if not kept:
                self._delete_if_unchanged(where, key, new_etag)
            return True
        ours = str(answer.get("VersionId") or "null")
        versions, markers = self._versions(where, key)
        ids = [str(v["VersionId"]) for v in versions]
        # Versions are listed newest first: everything after ours is older and still holds the
        # old content; anything before ours was written meanwhile by someone else and stays.
        older = ids[ids.index(ours) + 1 :] if ours in ids else [v for v, e in zip(ids, versions, strict=True) if not e.get("IsLatest")]
        doomed = older + [str(d["VersionId"]) for d in markers if not d.get("IsLatest")]
        if not kept and ids and ids[0] == ours:
            doomed.append(ours)  # nothing left: the object goes
        self._delete_versions(where, key, doomed)
        return True

    def _resolve(self, key: str, etag: str) -> str:
        """The ETag to read lines located in version ``etag`` from: the version a correction here
        wrote since (same lines, same numbers), else ``etag`` itself."""
        superseded, latest = self._corrected.get(key, (frozenset(), ""))
        return latest if etag in superseded else etag

    def _delete_if_unchanged(self, where: str, key: str, etag: str) -> None:
        """Delete an emptied object unless someone wrote to it meanwhile (or the store cannot
        delete conditionally: the empty object then stays, holding nothing)."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
        except ClientError as exc:
            if error_code(exc) in _MISSING_KEY or fault_of(error_code(exc), http_status(exc)) in (Fault.CHANGED, Fault.UNSUPPORTED):
                return
            raise self._fail(exc, where) from None
        except BotoCoreError as exc:
            raise self._fail(exc, where) from None

    # --- correction -------------------------------------------------------------------------
    def plan_correction(self, located: LocateResult, corrections: Sequence[Correction]) -> list[CorrectionAction]:
        wanted = corrections_by_attribute(corrections)
        actions = []
        for name, s in self.map.objects.items():
            n = len(self._keys(located, name)) if s.format == "jsonl" else 0
            if not n:
                continue
            for field, attribute in s.correctable.items():
                if attribute in wanted:
                    actions.append(CorrectionAction(name, field, attribute, n))
        return actions

    def correct(self, located: LocateResult, approved: Sequence[CorrectionAction], corrections: Sequence[Correction]) -> CorrectionReceipt:
        """Set every approved field of every located line that holds it to the new value (a
        string), one conditional rewrite per object; fields already holding it count as
        unchanged, and an object with nothing to change is not written."""
        wanted = corrections_by_attribute(corrections)
        todo: dict[str, dict[str, str]] = {}  # set -> JSON field -> new value
        for a in approved:
            s = self.map.objects.get(a.entity)
            if s is None or s.correctable.get(a.field) != a.attribute:
                raise PermanentConnectorError(self.system, f"set {a.entity}: the approved correction does not match the data map")
            if a.attribute not in wanted:
                raise PermanentConnectorError(self.system, f"set {a.entity}: the request asks no new value for {a.attribute}")
            todo.setdefault(a.entity, {})[a.field] = wanted[a.attribute]
        changes: list[FieldChange] = []
        unchanged = 0
        for name in self.map.objects:
            fields = todo.get(name)
            if not fields:
                continue
            for (obj, etag), numbers in sorted(self._lines_by_object(located, name).items()):
                unchanged += self._correct_lines(name, obj, etag, numbers, fields, changes)
        return CorrectionReceipt(self.system, tuple(changes), unchanged)

    def _correct_lines(
        self, name: str, key: str, located_etag: str, numbers: set[int], fields: Mapping[str, str], changes: list[FieldChange]
    ) -> int:
        """Rewrite one jsonl object with the fields set (see :meth:`_rewrite`); appends what
        changed to ``changes`` and returns how many fields already held their value."""
        if (key, located_etag) in self._erased:
            return 0  # erased here since it was located: nothing left to correct
        found: list[FieldChange] = []
        unchanged = 0

        def fix(n: int, raw: bytes) -> bytes:
            nonlocal unchanged
            obj = _parse(raw) if n in numbers else None
            if obj is None:
                return raw
            edited = False
            for field, new in fields.items():
                if field not in obj:
                    continue  # a line without the field is left as it is: nothing to correct
                if obj[field] == new:
                    unchanged += 1
                    continue
                old_hash, new_hash = value_hash(self._receipt_key, obj[field]), value_hash(self._receipt_key, new)
                found.append(FieldChange(name, f"{key}#{n}", field, old_hash, new_hash))
                obj[field] = new
                edited = True
            if not edited:
                return raw
            content = raw.rstrip(b"\r\n")
            try:
                return _dump(obj) + raw[len(content) :]
            except (ValueError, RecursionError):
                raise PermanentConnectorError(self.system, f"set {name}: a located line cannot be written back as JSON") from None

        etag = self._resolve(key, located_etag)

        def written(new_etag: str) -> None:
            self._note_correction(key, etag, new_etag)

        self._rewrite(f"set {name}", key, etag, fix, written)
        changes += found
        return unchanged

    def _note_correction(self, key: str, read: str, written: str) -> None:
        """Lines located in version ``read`` (or in any it superseded) now live in ``written``."""
        superseded, latest = self._corrected.pop(key, (frozenset(), ""))
        if written:
            self._corrected[key] = (((superseded if latest == read else frozenset()) | {read}) - {written}, written)
