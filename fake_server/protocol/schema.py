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

:class:`SchemaGraph` is the one walk of that subset's structure (``$ref``, the constants a schema
fixes, the JSON types it admits, a ``oneOf``'s discriminator): the compiler, the strategies of
``fake_server.strategies`` and :meth:`Schemas.content_types` all read the schemas through it. The
JSON type names of the live errors are here too (:data:`TYPE_NAMES`, :func:`describe_value`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin, urldefrag

from .rules import RealtimeError, quote_values

__all__ = ["Schemas", "SchemaGraph", "load_schemas", "schemas_root", "SchemaCompileError", "ServerEventError",
           "format_path", "describe_value", "json_type", "NO_CONST", "TYPE_NAMES", "VALUE_TYPE_NAMES",
           "FILE_TYPE_NAMES"]

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
"""How the live errors name each JSON Schema type they expect (``Invalid type for ...: expected an integer``)."""
VALUE_TYPE_NAMES = {**TYPE_NAMES, "number": "a decimal"}
"""How the live errors name the type of the value they got (``but got a decimal instead``): a number with a
fraction (or written with one) is a decimal."""
FILE_TYPE_NAMES = {**TYPE_NAMES, "array": "a list"}
"""How the fake's own file-format errors (script and scenario files) name a JSON Schema type: an array is a
list, the word of YAML authors. Not a live wording."""

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"))


def json_type(value: Any, *, as_written: bool = False) -> str:
    """The JSON Schema type of ``value``: a whole float (``3.0``) is an ``integer``, as the validators read
    it; with ``as_written`` it is a ``number``, as it was written. Anything else than the JSON kinds is an
    ``object``."""
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            if name == "number" and not as_written and value.is_integer():
                return "integer"
            return name
    return "object"


def describe_value(value: Any, *, numbers_apart: bool = True) -> str:
    """How the live errors name the JSON type of ``value`` (``an integer``, ``a decimal``, ``a string``...).

    ``numbers_apart=False`` names every number ``a number``, as the fake's own (inferred) wording of a frame
    that is not a JSON object does.
    """
    kind = json_type(value, as_written=True)
    if not numbers_apart and kind in ("integer", "number"):
        return TYPE_NAMES["number"]
    return VALUE_TYPE_NAMES[kind]


def _expected(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "one of " + " or ".join(names)


def _check_length(kind: str, size: int, lo: int | None, hi: int | None) -> None:
    """Raise the platform's ``<kind>_below_min_length`` / ``<kind>_above_max_length``."""
    if lo is not None and size < lo:
        raise _Fail(f"{kind}_below_min_length", limit=lo, given=size)
    if hi is not None and size > hi:
        raise _Fail(f"{kind}_above_max_length", limit=hi, given=size)


NO_CONST: Any = object()
"""What :meth:`SchemaGraph.const_of` answers for a schema that fixes no constant."""


class SchemaGraph:
    """The structure of a set of schema documents (keyed by ``$id``), walked the one way the fake reads it.

    Resolves ``$ref`` (JSON pointers into any document), and answers what a schema fixes: the constant of
    a property (a ``oneOf``'s discriminator), the values a property may take, the JSON types a schema
    admits and how the live error names them. The validator compiler, the strategies and the content
    type table read the schemas through this class.
    """

    def __init__(self, documents: Mapping[str, dict[str, Any]]) -> None:
        self.documents = documents

    def resolve(self, base: str, ref: str) -> tuple[str, dict[str, Any]]:
        """The absolute URI of ``ref`` (relative to ``base``) and the node it points at."""
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
        """``schema`` with its ``$ref`` chain followed, and the base URI it is read against."""
        if "$id" in schema:
            base = urljoin(base, schema["$id"])
        while "$ref" in schema:
            base, schema = self.resolve(base, schema["$ref"])
        return base, schema

    def const_of(self, base: str, schema: dict[str, Any], prop: str) -> Any:
        """The constant a schema fixes for ``prop`` (the same in every ``oneOf`` branch), else :data:`NO_CONST`."""
        base, schema = self.deref(base, schema)
        if "oneOf" in schema:
            found = [self.const_of(base, b, prop) for b in schema["oneOf"]]
            if any(value is NO_CONST for value in found) or len({json.dumps(v) for v in found}) != 1:
                return NO_CONST
            return found[0]
        values = self.values_of(base, schema, prop)
        return values[0] if len(values) == 1 else NO_CONST

    def values_of(self, base: str, schema: dict[str, Any], prop: str) -> list[Any]:
        """The values ``prop`` may take (its ``const`` or ``enum``; a ``oneOf``'s branches in order), or ``[]``."""
        base, schema = self.deref(base, schema)
        if "oneOf" in schema:
            return [value for branch in schema["oneOf"] for value in self.values_of(base, branch, prop)]
        sub = schema.get("properties", {}).get(prop)
        if not isinstance(sub, dict):
            return []
        return [sub["const"]] if "const" in sub else list(sub.get("enum", []))

    def discriminator(self, base: str, branches: list[dict[str, Any]]) -> str:
        """The property whose constant tells a ``oneOf``'s branches apart (``type``, ``role``...)."""
        _, first = self.deref(base, branches[0])
        candidates = ["type", "role"] if "oneOf" in first else list(first.get("properties", {}))
        for prop in candidates:
            consts = [self.const_of(base, b, prop) for b in branches]
            if any(c is NO_CONST for c in consts):
                continue
            if len({json.dumps(c) for c in consts}) == len(consts):
                return prop
        raise SchemaCompileError(f"{base}: oneOf without a distinct const discriminator")

    def json_types(self, base: str, schema: dict[str, Any]) -> set[str]:
        """The JSON Schema types a value of ``schema`` may have."""
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
        return set(TYPE_NAMES)

    def expected_name(self, base: str, schema: dict[str, Any], kind: str) -> str:
        """How the live error names the type ``kind`` that ``schema`` declares: :data:`TYPE_NAMES`, but an
        array whose items are objects is ``an array of objects``."""
        items = schema.get("items")
        if kind == "array" and isinstance(items, dict) and self.json_types(base, items) == {"object"}:
            return "an array of objects"
        return TYPE_NAMES[kind]


class _Compiler(SchemaGraph):
    def __init__(self, documents: Mapping[str, dict[str, Any]]) -> None:
        super().__init__(documents)
        self._memo: dict[str, Check] = {}

    def compile_ref(self, base: str, ref: str) -> Check:
        uri, node = self.resolve(base, ref)
        if uri not in self._memo:
            cell: list[Check] = []
            self._memo[uri] = lambda v: cell[0](v)  # breaks cycles while compiling
            compiled = self.compile(uri, node)
            cell.append(compiled)
            self._memo[uri] = compiled
        return self._memo[uri]

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
        expected = _expected([self.expected_name(base, schema, t) for t in types])
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
        table: dict[Any, Check] = {}
        values: list[Any] = []
        for branch in branches:
            value = self.const_of(base, branch, prop)
            values.append(value)
            table[value] = self.compile(base, branch)
        tail = quote_values(schema.get("x-error-values", values))

        def check_one_of(value: Any) -> None:
            if type(value) is not dict:
                raise _Fail("invalid_type", expected=TYPE_NAMES["object"], actual=describe_value(value))
            if prop not in value:
                raise _Fail("missing_required_parameter", [prop])
            key = value[prop]
            try:
                branch_check = table[key]
            except (KeyError, TypeError):
                raise _Fail("invalid_value", [prop], given=_show(key), allowed=tail) from None
            branch_check(value)

        return check_one_of

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
        compiler = _Compiler(self.documents)
        self.graph: SchemaGraph = compiler
        """The structure of these documents, for walks of them (the strategies' generation and breaks)."""
        self.client_event_schemas = self._indexed("client_events.json")
        """Each client event's schema (its base URI and node), by type, in the order of the index."""
        checks = {event_type: compiler.compile(uri, node) for event_type, (uri, node) in
                  self.client_event_schemas.items()}
        self._dialect = _Dialect(tuple(checks), checks)
        self._server_validators: dict[str | None, Any] | None = None

    def _indexed(self, relative: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """The event schemas an index (``client_events.json``, ``server_events.json``) lists, by their
        ``type`` constant: ``(base URI, schema)``."""
        index_id = self._id_of(relative)
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for ref in self.documents[index_id]["oneOf"]:
            uri, node = self.graph.resolve(index_id, ref["$ref"])
            out[node["properties"]["type"]["const"]] = (uri, node)
        return out

    def _id_of(self, relative: str) -> str:
        for uri in self.documents:
            if uri.endswith("/" + relative):
                return uri
        raise SchemaCompileError(f"schemas/{relative} is missing")

    @property
    def client_event_types(self) -> tuple[str, ...]:
        """The client event types the live service accepts, in the order its error lists them."""
        return self._dialect.client_types

    @cached_property
    def server_event_types(self) -> frozenset[str]:
        """The server event types ``server_events.json`` documents."""
        return frozenset(self._indexed("server_events.json"))

    def document(self, relative: str) -> dict[str, Any]:
        return self.documents[self._id_of(relative)]

    def content_types(self, *, listed: bool = False) -> dict[str, tuple[str, ...]]:
        """The content part types a client may send in a message, per role, in schema order (read from
        ``MessageItem`` in ``common.json``: the one source of this table).

        ``listed``: the types the live error lists when a part has another type (the part schema's
        ``x-error-values`` where the live message names fewer types than the schema accepts).
        """
        return {role: types[listed] for role, types in self._role_content_types.items()}

    @cached_property
    def _role_content_types(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Per role: the part types its message schema accepts, and those the live error lists."""
        graph, common = self.graph, self._id_of("common.json")
        base, message = graph.deref(common, {"$ref": "#/$defs/MessageItem"})
        table: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for branch in message["oneOf"]:
            item_base, item = graph.deref(base, branch)
            part_base, part = graph.deref(item_base, item["properties"]["content"]["items"])
            accepted = tuple(graph.values_of(part_base, part, "type"))
            table[graph.const_of(item_base, item, "role")] = (accepted, tuple(part.get("x-error-values", accepted)))
        return table

    def validate_client_event(self, event: dict[str, Any]) -> None:
        """Raise :class:`RealtimeError` (live code, message, param) if ``event`` is invalid.

        The caller has checked that ``event`` is an object with a ``type`` key.
        """
        event_type = event["type"]
        check = self._dialect.client_checks.get(event_type) if type(event_type) is str else None
        try:
            if check is None:
                if type(event_type) is not str:
                    raise _Fail("invalid_type", ["type"], expected=TYPE_NAMES["string"],
                                actual=describe_value(event_type))
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
        for event_type, (uri, _) in self._indexed("server_events.json").items():
            validators[event_type] = Draft202012Validator({"$ref": uri}, registry=registry)
        return validators


@lru_cache(maxsize=None)
def load_schemas(dialect: str = "ga") -> Schemas:
    """The schemas of ``dialect``, loaded and compiled once per process."""
    return Schemas(dialect=dialect)
