"""Extraction targets, and caller-supplied JSON Schemas: checked, bounded, made strict.

A `Target` is what extraction aims at: the schema shown to the caller, the strict form sent to
the model, and a validator. Named schemas build one in `pipelines.extract.schemas`; a caller's
own JSON Schema goes through `custom_target`, which refuses (422 `InvalidSchema`) anything that
is not a JSON Schema (meta-schema check), is larger than `MAX_SCHEMA_BYTES`, nests deeper than
`MAX_DEPTH`, has more than `MAX_PROPERTIES` properties, or uses keywords outside the subset
that every structured-output mode can enforce (OpenAI strict `json_schema`, llama.cpp grammars,
tool parameters): `type`, `properties`, `required`, `items`, `enum`, `const`, `anyOf`,
`additionalProperties`, local `$ref`/`$defs`, annotations, and value constraints (`format`,
`pattern`, bounds). Constraints stay out of the model's schema (strict modes reject some) and
are enforced by validating the answer against the caller's schema; a miss is re-asked.

`to_strict` gives the model's form: refs inlined, every property required, properties that were
optional made nullable, `additionalProperties: false`, annotations dropped. Nulls the model
then returns for optional properties are removed again before validation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

from pipelines.extract.errors import InvalidSchema
from pipelines.extract.normalize import normalize_date

MAX_SCHEMA_BYTES = 32 * 1024
MAX_DEPTH = 6
MAX_PROPERTIES = 200
MAX_INLINED_NODES = 2000  # refs used many times must not expand into a huge schema
_STRUCTURE = {"type", "properties", "required", "items", "enum", "const", "anyOf",
              "additionalProperties", "$ref", "$defs", "definitions", "description"}
_ANNOTATIONS = {"title", "default", "examples", "$schema", "$id", "$comment", "deprecated",
                "readOnly", "writeOnly"}
_CONSTRAINTS = {"format", "pattern", "minimum", "maximum", "exclusiveMinimum",
                "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems",
                "maxItems"}
SUPPORTED_KEYWORDS = frozenset(_STRUCTURE | _ANNOTATIONS | _CONSTRAINTS)

ValidationErrors = list[dict[str, Any]]
Validate = Callable[[Any], tuple[dict[str, Any] | None, ValidationErrors]]


@dataclass(frozen=True)
class Target:
    """What to extract: `name` ("receipt", or "custom"), the caller-facing `json_schema`, the
    strict `model_schema` for the provider, and `validate(obj) -> (data, errors)`."""

    name: str
    json_schema: dict[str, Any]
    model_schema: dict[str, Any]
    validate: Validate


def _problem(message: str, path: str = "") -> InvalidSchema:
    where = f" at {path}" if path else ""
    return InvalidSchema(f"invalid JSON Schema{where}: {message}", path=path or "/",
                         errors=[{"loc": path or "/", "msg": message}])


def _resolve(ref: str, root: dict[str, Any], path: str) -> dict[str, Any]:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            found = root.get(prefix[2:-1], {}).get(ref[len(prefix):])
            if isinstance(found, dict):
                return found
    raise _problem(f"$ref {ref!r} is not a local #/$defs/... reference that exists", path)


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with every local `$ref` replaced by its target and `$defs` dropped;
    recursive or runaway references raise InvalidSchema."""
    nodes = 0

    def walk(node: Any, path: str, seen: tuple[str, ...]) -> Any:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_INLINED_NODES:
            raise _problem(f"the schema expands to more than {MAX_INLINED_NODES} nodes")
        if isinstance(node, list):
            return [walk(v, f"{path}/{i}", seen) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise _problem(f"recursive $ref {ref!r} is not supported", path)
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return walk({**_resolve(ref, schema, path), **rest}, path, (*seen, ref))
        return {k: walk(v, f"{path}/{k}", seen) for k, v in node.items()
                if k not in ("$defs", "definitions")}

    result: dict[str, Any] = walk(schema, "", ())
    return result


def _check_node(node: dict[str, Any], path: str, depth: int, count: list[int]) -> None:
    unsupported = sorted(set(node) - SUPPORTED_KEYWORDS)
    if unsupported:
        raise _problem(f"unsupported keyword(s) {unsupported}; supported: "
                       f"{sorted(SUPPORTED_KEYWORDS)}", path)
    if depth > MAX_DEPTH:
        raise _problem(f"nested deeper than {MAX_DEPTH} levels", path)
    if not ({"type", "enum", "const", "anyOf"} & node.keys()):
        raise _problem("give every value a `type` (or `enum`, `const`, `anyOf`)", path)
    types = node.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if "object" in types:
        props = node.get("properties")
        if not isinstance(props, dict) or not props:
            raise _problem("objects need `properties` (free-form objects are not supported)",
                           path)
        if node.get("additionalProperties") not in (None, False):
            raise _problem("`additionalProperties` may only be false", path)
        count[0] += len(props)
        if count[0] > MAX_PROPERTIES:
            raise _problem(f"more than {MAX_PROPERTIES} properties in all")
        for key, sub in props.items():
            _check_node(sub, f"{path}/properties/{key}", depth + 1, count)
    if "array" in types:
        if not isinstance(node.get("items"), dict):
            raise _problem("arrays need a single `items` schema", path)
        _check_node(node["items"], f"{path}/items", depth + 1, count)
    for i, option in enumerate(node.get("anyOf") or []):
        _check_node(option, f"{path}/anyOf/{i}", depth, count)


def check_custom_schema(schema: Any) -> dict[str, Any]:
    """The caller's schema with refs inlined, once it passed every check above."""
    if not isinstance(schema, dict):
        raise _problem("the schema must be a JSON object (a JSON Schema) or a schema name")
    size = len(json.dumps(schema).encode())
    if size > MAX_SCHEMA_BYTES:
        raise InvalidSchema(f"invalid JSON Schema: {size} bytes, more than the limit of "
                            f"{MAX_SCHEMA_BYTES}", path="/", size=size, limit=MAX_SCHEMA_BYTES,
                            errors=[{"loc": "/", "msg": "schema too large"}])
    try:
        validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)
    except jsonschema.SchemaError as exc:
        path = "/" + "/".join(str(p) for p in exc.absolute_path)
        raise _problem(f"not a valid JSON Schema: {exc.message}", path) from None
    inlined = inline_refs(schema)
    if inlined.get("type") != "object":
        raise _problem('the top level must be {"type": "object", "properties": {...}}')
    _check_node(inlined, "", 0, [0])
    return inlined


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in node:
        if not any(o.get("type") == "null" for o in node["anyOf"]):
            node["anyOf"] = [*node["anyOf"], {"type": "null"}]
        return node
    types = node.get("type")
    if isinstance(types, str) and types != "null":
        node["type"] = [types, "null"]
    elif isinstance(types, list) and "null" not in types:
        node["type"] = [*types, "null"]
    if "enum" in node and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
    return node


def to_strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The model-facing form of an inlined schema (see the module docstring)."""
    def walk(node: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in node.items() if k in _STRUCTURE}
        rules = {k: node[k] for k in sorted(_CONSTRAINTS & node.keys())}
        if rules:
            note = "Constraints: " + json.dumps(rules)
            out["description"] = f"{out['description']} ({note})" if "description" in out else note
        if "items" in out:
            out["items"] = walk(out["items"])
        if "anyOf" in out:
            out["anyOf"] = [walk(o) for o in out["anyOf"]]
        if "properties" in out:
            required = set(node.get("required") or [])
            props = {}
            for key, sub in out["properties"].items():
                strict = walk(sub)
                props[key] = strict if key in required else _nullable(strict)
            out["properties"] = props
            out["required"] = list(props)
            out["additionalProperties"] = False
        return out

    return walk(inline_refs(schema))


def prepare(value: Any, schema: dict[str, Any]) -> Any:
    """The model's answer shaped for validation against the caller's inlined schema: nulls
    of optional properties removed, strings of `format: date` normalised to ISO 8601."""
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required") or [])
        props = schema["properties"]
        return {k: prepare(v, props.get(k, {})) for k, v in value.items()
                if v is not None or k in required or k not in props}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prepare(v, schema["items"]) for v in value]
    if isinstance(value, str) and schema.get("format") == "date":
        try:
            return normalize_date(value)
        except ValueError:
            return value  # the validator reports it, and the re-ask says why
    return value


def custom_target(schema: Any) -> Target:
    """A `Target` for a caller's JSON Schema (InvalidSchema, 422, if it fails a check)."""
    inlined = check_custom_schema(schema)
    validator_cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = validator_cls(inlined, format_checker=validator_cls.FORMAT_CHECKER)

    def validate(obj: Any) -> tuple[dict[str, Any] | None, ValidationErrors]:
        data = prepare(obj, inlined)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            return None, [{"loc": ".".join(str(p) for p in e.absolute_path) or "(root)",
                           "msg": e.message} for e in errors[:20]]
        return data, []

    return Target("custom", schema, to_strict(inlined), validate)
