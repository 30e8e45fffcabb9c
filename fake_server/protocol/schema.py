"""Loading ``schemas/`` and compiling it into validators that answer like the live service.

Two consumers read the same files:

* client events are checked by validators compiled here, once, into plain Python closures.
  A violation raises :class:`~fake_server.protocol.rules.RealtimeError` carrying the live
  code, message and dotted ``param`` (``item.content[0].type``). The order of checks follows
  what the live service reports first: type, then missing required fields, then unknown
  fields, then each field's value in schema order.
* server events are checked with ``jsonschema`` (an independent implementation), in tests
  and when ``validate_server_events`` is on.

The compiler understands a deliberate subset of JSON Schema (listed in ``_KEYWORDS``); a
schema using anything else is refused at load time rather than half-checked. Unions are
``oneOf`` discriminated by a ``const`` property (dispatched by a dict lookup) or ``anyOf``
whose branches have different JSON types (dispatched by the value's type).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin, urldefrag

from .rules import RealtimeError, quote_values

__all__ = ["Schemas", "load_schemas", "schemas_root", "SchemaCompileError", "ServerEventError", "format_path",
           "describe_value", "json_type", "TYPE_NAMES"]

Check = Callable[[Any], None]

_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "examples"}
_KEYWORDS = _ANNOTATIONS | {
    "$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "const", "oneOf",
    "anyOf", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "maxProperties", "pattern",
    "x-error-values",
}


class SchemaCompileError(Exception):
    """A schema uses something the compiler does not understand."""


class ServerEventError(AssertionError):
    """A server event the fake was about to send does not match ``schemas/``."""


class _Fail(Exception):
    """A violation on its way up; each container level adds its key to ``rev_path``."""

    __slots__ = ("rule", "fields", "rev_path")

    def __init__(self, rule: str, rev_path: list[str | int] | None = None, **fields: Any) -> None:
        self.rule = rule
        self.fields = fields
        self.rev_path = rev_path if rev_path is not None else []


def format_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def describe_value(value: Any) -> str:
    """How the live error names the JSON type of ``value`` (``an integer``, ``a string``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_PY_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "integer": lambda v: (type(v) is int) or (type(v) is float and v.is_integer()),
    "number": lambda v: type(v) in (int, float),
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
}


TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
              "number": "a number", "boolean": "a boolean", "null": "null"}
"""How the live errors name each JSON Schema type (``Invalid type for ...: expected an integer``)."""


def _expected(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "one of " + " or ".join(names)


def _check_length(kind: str, size: int, lo: int | None, hi: int | None) -> None:
    """Raise the platform's ``<kind>_below_min_length`` / ``<kind>_above_max_length``."""
    if lo is not None and size < lo:
        raise _Fail(f"{kind}_below_min_length", limit=lo, given=size)
    if hi is not None and size > hi:
        raise _Fail(f"{kind}_above_max_length", limit=hi, given=size)


def json_type(value: Any) -> str:
    """The JSON Schema type of ``value`` (a whole float is an ``integer``, as the validators read it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "integer" if isinstance(value, int) or value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Compiler:
    def __init__(self, documents: Mapping[str, dict[str, Any]]) -> None:
        self.documents = documents
        self._memo: dict[str, Check] = {}

    # -- references ---------------------------------------------------------------------
    def resolve(self, base: str, ref: str) -> tuple[str, dict[str, Any]]:
        uri = urljoin(base, ref)
        doc_uri, fragment = urldefrag(uri)
        try:
            node: Any = self.documents[doc_uri]
        except KeyError:
            raise SchemaCompileError(f"unresolvable $ref {ref!r} from {base}") from None
        for token in [t for t in fragment.split("/") if t]:
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return uri, node

    def deref(self, base: str, schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        while "$ref" in schema:
            base, schema = self.resolve(base, schema["$ref"])
        return base, schema

    def compile_ref(self, base: str, ref: str) -> Check:
        uri, node = self.resolve(base, ref)
        if uri not in self._memo:
            cell: list[Check] = []
            self._memo[uri] = lambda v: cell[0](v)  # breaks cycles while compiling
            compiled = self.compile(uri, node)
            cell.append(compiled)
            self._memo[uri] = compiled
        return self._memo[uri]

    # -- structure helpers --------------------------------------------------------------
    def const_of(self, base: str, schema: dict[str, Any], prop: str) -> Any:
        """The constant a schema fixes for ``prop``, or a sentinel when it fixes none."""
        base, schema = self.deref(base, schema)
        if "oneOf" in schema:
            values = {json.dumps(self.const_of(base, b, prop)) for b in schema["oneOf"]}
            if len(values) == 1:
                return json.loads(values.pop())
            return _NONE
        sub = schema.get("properties", {}).get(prop)
        if isinstance(sub, dict):
            if "const" in sub:
                return sub["const"]
            if "enum" in sub and len(sub["enum"]) == 1:
                return sub["enum"][0]
        return _NONE

    def json_types(self, base: str, schema: dict[str, Any]) -> set[str]:
        base, schema = self.deref(base, schema)
        declared = schema.get("type")
        if isinstance(declared, str):
            return {declared}
        if isinstance(declared, list):
            return set(declared)
        if "oneOf" in schema or "anyOf" in schema:
            out: set[str] = set()
            for branch in schema.get("oneOf", schema.get("anyOf", [])):
                out |= self.json_types(base, branch)
            return out
        if "const" in schema:
            return {json_type(schema["const"])}
        if "enum" in schema:
            return {json_type(v) for v in schema["enum"]}
        return set(_PY_TYPES)

    # -- compilation --------------------------------------------------------------------
    def compile(self, base: str, schema: dict[str, Any]) -> Check:
        unknown = set(schema) - _KEYWORDS
        if unknown:
            raise SchemaCompileError(f"{base}: unsupported keywords {sorted(unknown)}")
        if "$id" in schema:
            base = urljoin(base, schema["$id"])
        if "$ref" in schema:
            if len(set(schema) - _ANNOTATIONS - {"$ref"}):
                raise SchemaCompileError(f"{base}: $ref with siblings is not supported")
            return self.compile_ref(base, schema["$ref"])
        if "oneOf" in schema:
            return self.compile_one_of(base, schema)
        if "anyOf" in schema:
            return self.compile_any_of(base, schema)

        checks: list[Check] = []
        declared = schema.get("type")
        types = [declared] if isinstance(declared, str) else list(declared or [])
        if types:
            checks.append(self.type_check(base, types, schema))
        if "const" in schema or "enum" in schema:
            allowed = [schema["const"]] if "const" in schema else list(schema["enum"])
            checks.append(self.enum_check(allowed))
        if "object" in types or "properties" in schema:
            checks.append(self.object_check(base, schema))
        if "array" in types or "items" in schema:
            checks.append(self.array_check(base, schema))
        if {"minimum", "maximum"} & set(schema):
            checks.append(self.range_check(schema, "integer" if types == ["integer"] else "decimal"))
        if {"minLength", "maxLength", "pattern"} & set(schema):
            checks.append(self.string_check(schema))
        if len(checks) == 1:
            return checks[0]

        def check_all(value: Any) -> None:
            for c in checks:
                c(value)

        return check_all

    def type_check(self, base: str, types: list[str], schema: dict[str, Any]) -> Check:
        predicates = [_PY_TYPES[t] for t in types]
        names = []
        for t in types:
            if t == "array" and isinstance(schema.get("items"), dict) and self.json_types(
                base, schema["items"]
            ) == {"object"}:
                names.append("an array of objects")
            else:
                names.append(TYPE_NAMES[t])
        expected = _expected(names)
        if len(predicates) == 1:
            pred = predicates[0]

            def check_type(value: Any) -> None:
                if not pred(value):
                    raise _Fail("invalid_type", expected=expected, actual=describe_value(value))

            return check_type

        def check_types(value: Any) -> None:
            if not any(p(value) for p in predicates):
                raise _Fail("invalid_type", expected=expected, actual=describe_value(value))

        return check_types

    def enum_check(self, allowed: list[Any]) -> Check:
        tail = quote_values(allowed)
        hashable = all(isinstance(v, (str, int, float, bool, type(None))) for v in allowed)
        members: Any = frozenset(allowed) if hashable else allowed

        def check_enum(value: Any) -> None:
            try:
                ok = value in members
            except TypeError:  # unhashable value against a frozenset
                ok = False
            if ok and type(value) is bool:  # True == 1 in Python, not in JSON
                ok = any(member is value for member in allowed)
            if not ok:
                raise _Fail("invalid_value", given=_show(value), allowed=tail)

        return check_enum

    def object_check(self, base: str, schema: dict[str, Any]) -> Check:
        props = schema.get("properties", {})
        required = list(schema.get("required", []))
        prop_checks = [(name, self.compile(base, sub)) for name, sub in props.items()]
        extra = schema.get("additionalProperties", True)
        extra_check = self.compile(base, extra) if isinstance(extra, dict) else None
        closed = extra is False
        known = frozenset(props)
        max_props = schema.get("maxProperties")

        def check_object(value: Any) -> None:
            if type(value) is not dict:
                return  # the type check reports it
            for name in required:
                if name not in value:
                    raise _Fail("missing_required_parameter", [name])
            if closed:
                for name in value:
                    if name not in known:
                        raise _Fail("unknown_parameter", [name])
            elif extra_check is not None:
                for name, item in value.items():
                    if name not in known:
                        try:
                            extra_check(item)
                        except _Fail as fail:
                            fail.rev_path.append(name)
                            raise
            _check_length("array", len(value), None, max_props)
            for name, check in prop_checks:
                if name in value:
                    try:
                        check(value[name])
                    except _Fail as fail:
                        fail.rev_path.append(name)
                        raise

        return check_object

    def array_check(self, base: str, schema: dict[str, Any]) -> Check:
        item_check = self.compile(base, schema["items"]) if "items" in schema else None
        lo, hi = schema.get("minItems"), schema.get("maxItems")

        def check_array(value: Any) -> None:
            if type(value) is not list:
                return
            _check_length("array", len(value), lo, hi)
            if item_check is not None:
                for index, item in enumerate(value):
                    try:
                        item_check(item)
                    except _Fail as fail:
                        fail.rev_path.append(index)
                        raise

        return check_array

    def range_check(self, schema: dict[str, Any], kind: str) -> Check:
        lo, hi = schema.get("minimum"), schema.get("maximum")

        def check_range(value: Any) -> None:
            if type(value) not in (int, float):
                return
            if lo is not None and value < lo:
                raise _Fail(f"{kind}_below_min_value", limit=lo, given=value)
            if hi is not None and value > hi:
                raise _Fail(f"{kind}_above_max_value", limit=hi, given=value)

        return check_range

    def string_check(self, schema: dict[str, Any]) -> Check:
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None

        def check_string(value: Any) -> None:
            if type(value) is not str:
                return
            _check_length("string", len(value), lo, hi)
            if pattern is not None and not pattern.search(value):
                raise _Fail("invalid_value", given=value, allowed=f"Expected a value matching '{pattern.pattern}'.")

        return check_string

    def compile_one_of(self, base: str, schema: dict[str, Any]) -> Check:
        branches = schema["oneOf"]
        prop = self.discriminator(base, branches)
        if prop is None:
            raise SchemaCompileError(f"{base}: oneOf without a distinct const discriminator")
        table: dict[Any, Check] = {}
        values: list[Any] = []
        for branch in branches:
            value = self.const_of(base, branch, prop)
            values.append(value)
            table[value] = self.compile(base, branch)
        tail = quote_values(schema.get("x-error-values", values))

        def check_one_of(value: Any) -> None:
            if type(value) is not dict:
                raise _Fail("invalid_type", expected="an object", actual=describe_value(value))
            if prop not in value:
                raise _Fail("missing_required_parameter", [prop])
            key = value[prop]
            try:
                branch_check = table[key]
            except (KeyError, TypeError):
                raise _Fail("invalid_value", [prop], given=_show(key), allowed=tail) from None
            branch_check(value)

        return check_one_of

    def discriminator(self, base: str, branches: list[dict[str, Any]]) -> str | None:
        _, first = self.deref(base, branches[0])
        candidates: list[str] = []
        if "oneOf" in first:
            candidates = ["type", "role"]
        else:
            candidates = list(first.get("properties", {}))
        for prop in candidates:
            consts = [self.const_of(base, b, prop) for b in branches]
            if _NONE in consts:
                continue
            if len({json.dumps(c) for c in consts}) == len(consts):
                return prop
        return None

    def compile_any_of(self, base: str, schema: dict[str, Any]) -> Check:
        by_type: dict[str, Check] = {}
        for branch in schema["anyOf"]:
            compiled = self.compile(base, branch)
            for t in sorted(self.json_types(base, branch)):
                if t in by_type:
                    raise SchemaCompileError(f"{base}: anyOf branches share the JSON type {t}")
                by_type[t] = compiled
        if "number" in by_type and "integer" not in by_type:
            by_type["integer"] = by_type["number"]
        expected = _expected([TYPE_NAMES[t] for t in by_type])

        def check_any_of(value: Any) -> None:
            branch_check = by_type.get(json_type(value))
            if branch_check is None:
                raise _Fail("invalid_type", expected=expected, actual=describe_value(value))
            branch_check(value)

        return check_any_of


_NONE = object()


def schemas_root() -> Path:
    """Where the schemas are: inside the installed package, or beside it in a checkout."""
    packaged = resources.files("fake_server").joinpath("schemas")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True)
class _Dialect:
    client_types: tuple[str, ...]
    client_checks: Mapping[str, Check]


class Schemas:
    """The compiled schemas of one dialect (``ga``)."""

    def __init__(self, root: Path | None = None, dialect: str = "ga") -> None:
        self.root = (root or schemas_root()) / dialect
        self.documents: dict[str, dict[str, Any]] = {}
        for path in sorted(self.root.rglob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            self.documents[doc["$id"]] = doc
        index_id = self._id_of("client_events.json")
        compiler = _Compiler(self.documents)
        types: list[str] = []
        checks: dict[str, Check] = {}
        for ref in self.documents[index_id]["oneOf"]:
            uri, node = compiler.resolve(index_id, ref["$ref"])
            event_type = node["properties"]["type"]["const"]
            types.append(event_type)
            checks[event_type] = compiler.compile(uri, node)
        self._compiler = compiler
        self._dialect = _Dialect(tuple(types), checks)
        self._server_validators: dict[str | None, Any] | None = None

    def _id_of(self, relative: str) -> str:
        for uri in self.documents:
            if uri.endswith("/" + relative):
                return uri
        raise SchemaCompileError(f"schemas/{relative} is missing")

    @property
    def client_event_types(self) -> tuple[str, ...]:
        """The client event types the live service accepts, in the order its error lists them."""
        return self._dialect.client_types

    def document(self, relative: str) -> dict[str, Any]:
        return self.documents[self._id_of(relative)]

    def validate_client_event(self, event: dict[str, Any]) -> None:
        """Raise :class:`RealtimeError` (live code, message, param) if ``event`` is invalid.

        The caller has checked that ``event`` is an object with a ``type`` key.
        """
        event_type = event["type"]
        check = self._dialect.client_checks.get(event_type) if type(event_type) is str else None
        try:
            if check is None:
                if type(event_type) is not str:
                    raise _Fail("invalid_type", ["type"], expected="a string", actual=describe_value(event_type))
                raise _Fail("invalid_value", ["type"], given=event_type,
                            allowed=quote_values(self._dialect.client_types))
            check(event)
        except _Fail as fail:
            path = format_path(reversed(fail.rev_path))
            raise RealtimeError(fail.rule, path=path, **fail.fields) from None

    def check_server_event(self, event: dict[str, Any]) -> None:
        """Raise :class:`ServerEventError` unless ``event`` matches ``server_events.json``.

        The index is a ``oneOf`` discriminated by ``type``, so an event of a known type is checked
        against its own schema only (the same verdict, ten times faster, and the message names the
        field at fault); any other event against the whole index.
        """
        validators = self._server_validators
        if validators is None:
            validators = self._server_validators = self._make_server_validators()
        event_type = event.get("type")
        validator = validators.get(event_type if isinstance(event_type, str) else None) or validators[None]
        errors = sorted(validator.iter_errors(event), key=lambda e: len(list(e.absolute_path)))
        if errors:
            best = errors[0]
            raise ServerEventError(
                f"server event {event.get('type')!r} does not match schemas/: {best.message} "
                f"at {format_path(best.absolute_path) or '(root)'}"
            )

    def _make_server_validators(self) -> dict[str | None, Any]:
        """One validator per server event type, and the whole index under ``None``."""
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
        from referencing import Registry, Resource

        registry: Registry[Any] = Registry().with_resources(
            (uri, Resource.from_contents(doc)) for uri, doc in self.documents.items()
        )
        index = self.document("server_events.json")
        validators: dict[str | None, Any] = {None: Draft202012Validator(index, registry=registry)}
        for ref in index["oneOf"]:
            uri = urljoin(index["$id"], ref["$ref"])
            const = self.documents[urldefrag(uri)[0]].get("properties", {}).get("type", {}).get("const")
            if isinstance(const, str) and not urldefrag(uri)[1]:
                validators[const] = Draft202012Validator({"$ref": uri}, registry=registry)
        return validators


@lru_cache(maxsize=None)
def load_schemas(dialect: str = "ga") -> Schemas:
    """The schemas of ``dialect``, loaded and compiled once per process."""
    return Schemas(dialect=dialect)
