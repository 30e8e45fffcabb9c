"""The legality table: complete, read by the session, and listed in docs/fidelity.md as it is."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fake_server.protocol.legality import LEGALITY, SESSION_KINDS, WRONG_KIND_RULE, rule_for
from fake_server.protocol.rules import ERRORS
from fake_server.protocol.schema import load_schemas

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "fake_server" / "core"


def _doc_rows() -> list[tuple[str, ...]]:
    text = (ROOT / "docs" / "fidelity.md").read_text(encoding="utf-8")
    section = text.split("## Legality: which client event applies when", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [tuple(cell.strip() for cell in row.strip("|").split("|")) for row in rows]


def _table_rows() -> list[tuple[str, ...]]:
    rows = []
    for row in LEGALITY.values():
        kinds = "both" if tuple(row.kinds) == SESSION_KINDS else ", ".join(row.kinds)
        if not row.preconditions:
            rows.append((f"`{row.event}`", kinds, "none", "", "", ""))
        for p in row.preconditions:
            code = ERRORS[p.rule].code
            rows.append((f"`{row.event}`", kinds, f"{p.text} (`{p.name}`)", f"`{p.rule}`",
                         f"`{code}`" if code else "null", p.tag))
    return rows


def test_the_docs_list_the_table_row_for_row() -> None:
    assert _doc_rows() == _table_rows()
    assert f"gets `{WRONG_KIND_RULE}`" in (ROOT / "docs" / "fidelity.md").read_text(encoding="utf-8")


def test_every_client_event_type_has_a_row_in_the_live_order() -> None:
    assert list(LEGALITY) == list(load_schemas().client_event_types)


def test_every_precondition_names_a_known_rule_and_tag() -> None:
    for row in LEGALITY.values():
        assert row.kinds and set(row.kinds) <= set(SESSION_KINDS), row
        names = [p.name for p in row.preconditions]
        assert len(names) == len(set(names)), row.event
        for p in row.preconditions:
            assert p.rule in ERRORS and p.tag in ("obs", "spec", "rep", "inf"), p


def test_the_session_checks_only_preconditions_the_table_has() -> None:
    """Every ``_require("<name>", ...)`` in the core names a precondition of some row (the rule comes from
    the table, never from the session's code)."""
    named: set[str] = set()
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_require":
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    named.add(first.value)
                else:  # session_type_<kind>
                    assert isinstance(first, ast.JoinedStr), ast.dump(first)
                    named |= {f"session_type_{kind}" for kind in SESSION_KINDS}
    known = {p.name for row in LEGALITY.values() for p in row.preconditions}
    assert named == known
    source = "\n".join(path.read_text() for path in CORE.glob("*.py"))
    for rule in {p.rule for row in LEGALITY.values() for p in row.preconditions}:
        assert not re.search(rf'RealtimeError\("{rule}"', source), f"{rule} is raised by name in the core"


def test_rule_for_reads_the_row() -> None:
    assert rule_for("conversation.item.delete", "item_exists") == "item_delete_invalid_item_id"
    assert rule_for("conversation.item.retrieve", "item_exists") == "item_retrieve_invalid_item_id"
