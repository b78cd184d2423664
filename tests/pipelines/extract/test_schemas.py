"""Named schemas and caller-supplied JSON Schemas: checks, limits, the strict form, validation."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.extract import SCHEMAS, InvalidSchema, custom_target, named_schema, resolve_target
from pipelines.extract.json_schema import (
    MAX_DEPTH,
    MAX_PROPERTIES,
    MAX_SCHEMA_BYTES,
    inline_refs,
    to_strict,
)


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        node = _obj(inner=node)
    return node


@pytest.mark.parametrize(("schema", "needle"), [
    ([1, 2], "JSON object"),
    ("receipt-ish", "JSON object"),
    ([{"type": "object"}], "JSON object"),
    ({"type": 12, "properties": {}}, "not a valid JSON Schema"),
    ({"type": "object", "properties": {"a": {"type": "strng"}}}, "not a valid JSON Schema"),
    ({"type": "array", "items": {"type": "string"}}, "top level must be"),
    (_obj(a={"type": "string", "oneOf": [{"type": "string"}]}), "unsupported keyword"),
    (_obj(a={"description": "no type"}), "give every value a `type`"),
    (_obj(a={"type": "object"}), "objects need `properties`"),
    (_obj(a={"type": "array"}), "arrays need a single `items`"),
    (_obj(a={"$ref": "#/$defs/missing"}), "is not a local"),
    ({**_obj(a={"$ref": "#/$defs/node"}),
      "$defs": {"node": _obj(next={"$ref": "#/$defs/node"})}}, "recursive $ref"),
    (_nested(MAX_DEPTH + 2), "nested deeper"),
    (_obj(**{f"f{i}": {"type": "string"} for i in range(MAX_PROPERTIES + 1)}),
     "more than 200 properties"),
])
def test_bad_schemas_are_refused_with_a_clear_422(schema: Any, needle: str) -> None:
    with pytest.raises(InvalidSchema) as caught:
        custom_target(schema)
    assert caught.value.http_status == 422 and caught.value.code == "invalid_schema"
    assert needle in caught.value.message, caught.value.message
    assert caught.value.details["errors"]


def test_too_big_a_schema_is_refused_by_size() -> None:
    schema = _obj(a={"type": "string", "description": "x" * MAX_SCHEMA_BYTES})
    with pytest.raises(InvalidSchema) as caught:
        custom_target(schema)
    assert caught.value.details["limit"] == MAX_SCHEMA_BYTES
    assert caught.value.details["size"] > MAX_SCHEMA_BYTES


def test_reference_bombs_are_refused() -> None:
    defs: dict[str, Any] = {"l0": {"type": "string"}}
    for i in range(1, 12):
        defs[f"l{i}"] = {"type": "array", "items": {"anyOf": [
            {"$ref": f"#/$defs/l{i - 1}"}, {"$ref": f"#/$defs/l{i - 1}"}]}}
    with pytest.raises(InvalidSchema, match="expands to more than"):
        custom_target({**_obj(a={"$ref": "#/$defs/l11"}), "$defs": defs})


def test_depth_up_to_the_limit_is_accepted() -> None:
    target = custom_target(_nested(MAX_DEPTH))
    assert target.name == "custom"


def test_strict_form_requires_everything_and_makes_optional_nullable() -> None:
    schema = {"type": "object", "required": ["a"], "$defs": {"item": _obj(n={"type": "integer"})},
              "properties": {"a": {"type": "string", "title": "A", "pattern": "^x"},
                             "b": {"type": "integer", "default": 3},
                             "items": {"type": "array", "items": {"$ref": "#/$defs/item"}}}}
    strict = to_strict(schema)
    assert strict["required"] == ["a", "b", "items"] and strict["additionalProperties"] is False
    assert strict["properties"]["a"] == {"type": "string",
                                         "description": 'Constraints: {"pattern": "^x"}'}
    assert strict["properties"]["b"] == {"type": ["integer", "null"]}
    item = strict["properties"]["items"]["items"]
    assert item == {"type": "object", "properties": {"n": {"type": ["integer", "null"]}},
                    "required": ["n"], "additionalProperties": False}
    assert "$defs" not in inline_refs(schema)


def test_custom_validation_strips_optional_nulls_and_reports_paths() -> None:
    target = custom_target({"type": "object", "required": ["n"], "properties": {
        "n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
        "when": {"type": "string", "format": "date"}}})
    assert target.validate({"n": 1, "tags": None, "when": "Dec 25 2018"}) == (
        {"n": 1, "when": "2018-12-25"}, [])
    data, errors = target.validate({"n": None, "tags": ["a", 2], "when": "someday"})
    assert data is None
    assert {e["loc"] for e in errors} == {"n", "tags.1", "when"}


def test_named_schemas_are_listed_with_their_json_schemas() -> None:
    assert list(SCHEMAS) == ["receipt", "invoice"]
    receipt = named_schema("Receipt").json_schema
    assert set(receipt["properties"]) == {"company", "date", "address", "total"}
    invoice = named_schema("invoice").json_schema
    assert {"vendor", "invoice_number", "invoice_date", "due_date", "line_items", "subtotal",
            "tax", "total", "currency"} == set(invoice["properties"])
    line = invoice["$defs"]["LineItem"]["properties"]
    assert set(line) == {"description", "quantity", "unit_price", "amount"}
    with pytest.raises(InvalidSchema, match="unknown schema 'passport'; known: receipt"):
        named_schema("passport")


def test_invoice_validation_normalises_and_refuses_what_it_cannot() -> None:
    target = resolve_target("invoice")
    data, errors = target.validate({
        "vendor": "  Acme   Ltd ", "invoice_number": "INV-0042", "invoice_date": "March 3, 2024",
        "due_date": "", "currency": "€", "total": "1.234,50",
        "line_items": [{"description": "Bolts", "quantity": 2, "unit_price": "$ 10",
                        "amount": 20}]})
    assert errors == []
    assert data is not None and data["vendor"] == "Acme Ltd" and data["due_date"] is None
    assert (data["invoice_date"], data["currency"], data["total"]) == ("2024-03-03", "EUR",
                                                                        "1234.50")
    assert data["line_items"] == [{"description": "Bolts", "quantity": 2.0,
                                   "unit_price": "10.00", "amount": "20.00"}]
    _, errors = target.validate({"currency": "dollars", "line_items": [{"amount": "lots"}],
                                 "extra": 1})
    assert {e["loc"] for e in errors} == {"currency", "line_items.0.amount", "extra"}
