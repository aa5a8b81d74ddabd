"""The access package's records as files: the spool's lines are the JSON file's items (joined,
never parsed again), the CSV file's rows are written as the csv module writes them, and a
spool of an earlier build (``spool-1``) still makes the same files."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dsar.services import package
from tests.unit.services.conftest import World

_CELLS = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.sampled_from(list('ab ,"\r\n\x00=+-@\t1é\u2028')), max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["x", "y"]), st.text(max_size=2), max_size=2),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(["key", "a", "b", "c"]), _CELLS), max_size=6),
    st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4),
)
def test_csv_rows_are_what_the_csv_module_writes(items: list[dict[str, object]], more: list[str]) -> None:
    columns = ["key", *more]
    ref = io.StringIO()
    w = csv.writer(ref, lineterminator="\r\n")
    for item in items:
        w.writerow([package._cell(item.get(c)) for c in columns])
    assert package.csv_rows(items, columns) == ref.getvalue()


def test_a_formula_is_shown_as_text_on_either_path() -> None:
    rows = package.csv_rows([{"key": "1", "a": "=SUM(A1)"}, {"key": "2", "a": '=HYPERLINK("x, y")'}], ["key", "a"])
    assert rows == '1,\'=SUM(A1)\r\n2,"\'=HYPERLINK(""x, y"")"\r\n'


def test_a_spool_line_is_the_json_the_standard_library_would_write() -> None:
    value = {
        "key": "7",
        "at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "price": Decimal("9.90"),
        "big": 2**70,  # past what orjson writes: the standard library writes it
        "note": "Grüße \u2028 <b>",
        "nested": {"1": [1, 2.5, None, True]},
    }
    line = package._json_line(value)
    assert b"\n" not in line
    assert json.loads(line) == json.loads(json.dumps(value, default=str, ensure_ascii=False))


def test_an_earlier_builds_spool_makes_the_same_files(world: World) -> None:
    rid = world.log()
    records = [
        {"key": "1", "fields": {"email": "jane@example.com", "n": 3, "tags": ["a", "b"]}, "categories": {"email": "contact"}},
        {"key": "2", "fields": {"email": "=cmd", "note": 'a, "b"\nc'}, "categories": {}},
    ]
    with package.sealed_writer(world.ctx, rid, "spool/old/shop/customer.jsonl") as w:
        for rec in records:
            w.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
    with package.sealed_writer(world.ctx, rid, "spool/new/shop/customer.jsonl") as w:
        for rec in records:
            w.write(package._json_line({"key": rec["key"], **rec["fields"]}) + b"\n")  # type: ignore[dict-item]
    columns = ["email", "n", "tags", "note"]
    old = {"spool": "spool/old/shop/customer.jsonl", "records": 2, "columns": columns}
    new = {"spool": "spool/new/shop/customer.jsonl", "records": 2, "columns": columns}
    old_json = b"".join(package._json_entity(world.ctx, rid, "shop", "customer", old, items=False))
    new_json = b"".join(package._json_entity(world.ctx, rid, "shop", "customer", new, items=True))
    assert (
        json.loads(old_json)
        == json.loads(new_json)
        == {
            "system": "shop",
            "entity": "customer",
            "records": 2,
            "items": [{"key": r["key"], **r["fields"]} for r in records],  # type: ignore[dict-item]
        }
    )
    old_csv = b"".join(package._csv_entity(world.ctx, rid, old, items=False))
    new_csv = b"".join(package._csv_entity(world.ctx, rid, new, items=True))
    assert old_csv == new_csv
    assert list(csv.reader(io.StringIO(new_csv.decode("utf-8-sig")))) == [
        ["key", *columns],
        ["1", "jane@example.com", "3", '["a", "b"]', ""],
        ["2", "'=cmd", "", "", 'a, "b"\nc'],
    ]


def test_an_empty_spool_makes_an_empty_list(world: World) -> None:
    rid = world.log()
    with package.sealed_writer(world.ctx, rid, "spool/empty/shop/customer.jsonl"):
        pass
    info = {"spool": "spool/empty/shop/customer.jsonl", "records": 0, "columns": []}
    assert json.loads(b"".join(package._json_entity(world.ctx, rid, "shop", "customer", info)))["items"] == []


def test_an_exempt_content_field_keeps_a_documents_bytes_out() -> None:
    from dsar.connectors.base import ExportRecord
    from dsar.domain.exemptions import Exemption, LegalGround
    from dsar.domain.plan import ExportStep
    from dsar.services.processing import _exempted

    rec = ExportRecord("uploads", "k", {"key": "k", "size": 3}, {"key": "documents"}, b"abc")
    ground = LegalGround.LEGAL_HOLD
    kept = _exempted(ExportStep("files", 1, ("uploads",), exemptions=(Exemption("files/uploads.size", ground),)), rec)
    assert kept is not None and kept.content == b"abc" and dict(kept.fields) == {"key": "k"}
    dropped = _exempted(ExportStep("files", 1, ("uploads",), exemptions=(Exemption("files/uploads.content_base64", ground),)), rec)
    assert dropped is not None and dropped.content is None and dict(dropped.fields) == {"key": "k", "size": 3}
    assert _exempted(ExportStep("files", 1, ("uploads",), exemptions=(Exemption("files/uploads", ground),)), rec) is None
