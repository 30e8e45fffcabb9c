"""Checking the fake's file formats against their JSON Schemas, and saying where a file breaks and what is expected.

The fake reads two formats of its own: script files (``schemas/script.json``, docs/scripting.md) and scenario
files (``schemas/scenario.json``, docs/scenarios.md). Both go through this one path: ``jsonschema`` finds every
problem, :func:`find_problem` picks the one to report and words it ``<where>: expected <what>, got <value>``
(``rules[0].when.turn: expected a response number (1 or more), got "first"``). The callers add the file (and,
for scenarios, the line) and raise their own error type.

A schema words the expectation itself with the ``description`` of the value, for the keywords whose own
wording would be poorer (a type, a minimum, an ``anyOf``). Where a format has a settled sentence for a mistake
(the scenario format's ``'dir' must be "client" or "server"``), the subschema says it with ``x-message``: a
:meth:`str.format` template over the fields :func:`find_problem` documents. Editors ignore ``x-`` keywords.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from .schema import FILE_TYPE_NAMES, format_path, schemas_root

__all__ = ["format_validator", "find_problem", "shown"]

# keywords whose own wording is poorer than the schema's description of the value
_DESCRIBED = {"anyOf", "oneOf", "type", "minimum", "maximum", "minItems", "maxItems", "minProperties",
              "maxProperties", "const", "prefixItems"}


@lru_cache(maxsize=None)
def format_validator(file: str, pointer: str = "") -> Any:
    """A validator of ``schemas/<file>``, or of its part at the JSON pointer ``pointer`` (``/$defs/faults``),
    compiled once. ``format`` is checked (``"format": "regex"`` compiles the pattern)."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    document = json.loads((schemas_root() / file).read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(document["$id"], Resource.from_contents(document))
    schema = {"$ref": document["$id"] + "#" + pointer} if pointer else document
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def shown(value: Any) -> str:
    """``value`` as a problem shows it: JSON, cut short (a long object or list is named, not shown)."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= 60:
        return text
    return {dict: "an object", list: "a list"}.get(type(value), text[:57] + "...")


def find_problem(validator: Any, data: Any, *, root: Sequence[str | int] = (), label: str = "") -> str | None:
    """The one problem to report of ``data`` against ``validator`` (:func:`format_validator`), or None.

    ``root`` is where ``data`` sits in its file (the path the problem's place starts with) and ``label`` names
    the place when that path is empty. The problem is ``<where>: expected <what>, got <value>``, or the
    ``x-message`` of the subschema that failed (or of the ``anyOf`` it was narrowed from), formatted with:
    ``where`` (the failing value's place), ``at`` (the place of ``data``), ``path`` (the parts of ``where``),
    ``value`` (the failing value; ``{value!r}`` for its Python spelling), ``shown`` (:func:`shown`), ``keys``
    (an object's keys, in order), ``unknown`` (the keys an ``additionalProperties: false`` refused, sorted),
    ``allowed`` (the subschema's property names, sorted), ``missing`` (the ``required`` keys not there, in
    order) and ``options`` (an ``enum``'s values)."""
    errors = list(validator.iter_errors(data))
    if not errors:
        return None
    error, template = _narrowest(errors)
    parts = [*root, *error.absolute_path]
    where = format_path(parts) or label
    if template is None:
        return f"{where}: {_what(error)}"
    instance = error.instance
    return template.format(
        where=where, at=format_path(root) or label, path=parts, value=instance, shown=shown(instance),
        keys=list(instance) if isinstance(instance, dict) else [], unknown=_unknown(error),
        allowed=sorted(_properties(error)), options=error.validator_value if error.validator == "enum" else [],
        missing=[k for k in error.validator_value if k not in instance] if error.validator == "required" else [],
    )


def _template(error: Any) -> str | None:
    return error.schema.get("x-message") if isinstance(error.schema, dict) else None


def _narrowest(errors: list[Any]) -> tuple[Any, str | None]:
    """Of a schema's errors, the one to report, with the ``x-message`` that words it: the shallowest (the first
    of those, in schema order); inside an ``anyOf`` the error of the one branch that takes the value's type,
    if only one does (keeping the ``anyOf``'s message when the branch has none)."""
    error = min(errors, key=lambda e: len(e.path))
    template = _template(error)
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [subs for subs in branches.values() if not any(_wrong_type(sub) for sub in subs)]
        if len(fitting) != 1:
            break
        error = min(fitting[0], key=lambda e: len(e.path))
        template = _template(error) or template
    return error, template


def _wrong_type(error: Any) -> bool:
    """The error says that the value is of another type than the (sub)schema wants."""
    if error.relative_path:
        return False
    return error.validator == "type" or (error.validator == "const" and type(error.validator_value) is not type(
        error.instance))


def _properties(error: Any) -> dict[str, Any]:
    return error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}


def _unknown(error: Any) -> list[str]:
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    return sorted(str(k) for k in error.instance if k not in _properties(error))


def _what(error: Any) -> str:
    keyword, value, schema = error.validator, error.validator_value, error.schema
    instance = error.instance
    if keyword == "additionalProperties":
        unknown = _unknown(error)
        return (f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(json.dumps(k) for k in unknown)}; "
                f"allowed: {', '.join(_properties(error))}")
    if keyword == "required":
        return "missing " + ", ".join(json.dumps(k) for k in value if k not in instance)
    if keyword in _DESCRIBED and "description" in schema:
        expected = schema["description"]
    elif keyword == "type":
        names = value if isinstance(value, list) else [value]
        expected = " or ".join(FILE_TYPE_NAMES[name] for name in names)
    elif keyword == "enum":
        expected = "one of " + ", ".join(shown(v) for v in value)
    elif keyword == "const":
        expected = shown(value)
    elif keyword in ("minimum", "maximum"):
        expected = f"a number {'>=' if keyword == 'minimum' else '<='} {value}"
    elif keyword in ("minItems", "maxItems"):
        expected = f"a list of {'at least' if keyword == 'minItems' else 'at most'} {value} item{'s' * (value != 1)}"
    elif keyword in ("minLength", "maxLength"):
        expected = f"a string of {'at least' if keyword == 'minLength' else 'at most'} {value} characters"
    else:
        expected = f"a value that satisfies {keyword} {shown(value)}"
    return f"expected {expected}, got {shown(instance)}"
