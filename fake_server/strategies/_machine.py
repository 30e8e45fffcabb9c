"""A stateful model of a session: random client operations against a reference conversation.

:class:`SessionMachine` is a hypothesis ``RuleBasedStateMachine``. Its rules create, delete,
truncate and retrieve items, append, commit and clear input audio, run and cancel responses,
and send events that break one rule (schema breaks of truncates and cancels where they are
valid: of assistant audio, while a response runs). A plain Python reference model
(:class:`Reference`) says what each operation must answer and what the conversation must be
afterwards: every event of an answer in full, the items and their audio (retrieve returns it).
After every step the server's conversation must equal the model's: same ids, same order, same
items; ids unique; errors change nothing. Appends and commits are sized so that commits mostly
succeed, truncates mostly hit assistant audio: the success paths are the ones most runs reach.

The machine talks to a server through a :class:`Driver`: :class:`CoreDriver` feeds the
sans-I/O :class:`~fake_server.core.session.Session` directly (fast); :class:`SocketDriver` goes
over a real WebSocket to a :class:`~fake_server.FakeRealtimeServer`.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ..protocol.legality import rule_for
from ..protocol.wire import Event
from ._history import History, histories
from ._invalid import PCM_BYTES_PER_MS, ExpectedError, invalid_events
from ._invalid import _walker as default_walker

if TYPE_CHECKING:
    from ..transport.server import FakeRealtimeServer
    from ..core.session import Session

#: Manual turn taking: appended audio is never committed, nor answered, behind the model's back.
MANUAL_TURNS: Event = {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
    "turn_detection": None}}}}


class Driver(Protocol):
    """How the machine reaches a server."""

    def send(self, event: Event) -> list[Event]:
        """Send one client event; the server events that answer it (streamed ones may follow).

        Drivers leave ``rate_limits.updated`` out: when it comes is the server's business.
        """

    def until(self, done: Callable[[Event], bool]) -> list[Event]:
        """Server events up to and including the first for which ``done`` is true."""

    def snapshot(self) -> list[Event]:
        """The server's conversation now."""

    def close(self) -> None: ...


class CoreDriver:
    """The sans-I/O session, on a frozen clock, checking every server event against ``schemas/``
    (``validate=False``: not checking them, so that only the machine's model judges)."""

    def __init__(self, seed: int = 1, validate: bool = True) -> None:
        from ..protocol.ids import IdGenerator
        from ..core.session import Session, SessionLimits

        clock = lambda: 1_790_000_000.0
        self.session: Session = Session(model="gpt-realtime", ids=IdGenerator(seed, clock), clock=clock,
                                        limits=SessionLimits(validate_server_events=validate))
        self.session.start()
        self.session.events_to_send()
        self._pending: list[Event] = []

    def send(self, event: Event) -> list[Event]:
        self.session.receive_text(json.dumps(event))
        return _without_noise(self.session.events_to_send())

    def until(self, done: Callable[[Event], bool]) -> list[Event]:
        session = self.session
        out: list[Event] = []
        while True:
            while not self._pending:  # the next streamed batch, whatever its time (the clock is frozen)
                deadline = session.next_deadline()
                if deadline is None or deadline >= session.expires_at:
                    raise AssertionError(f"the session went quiet before the awaited event; got {_types(out)}")
                session.advance(deadline, max_batches=1)
                self._pending = session.events_to_send()
            event = self._pending.pop(0)
            if event["type"] == "rate_limits.updated":
                continue
            out.append(event)
            if done(event):
                return out

    def snapshot(self) -> list[Event]:
        return self.session.conversation()

    def close(self) -> None:
        pass


class SocketDriver:
    """A WebSocket client of a running :class:`~fake_server.FakeRealtimeServer` (loopback).

    Synchronises by events, never by sleeping: after each client event it sends a probe
    (``conversation.item.retrieve`` of an id that is never used) and reads up to the probe's
    ``error``; everything before it is the answer.
    """

    PROBE_ID = "__state_machine_probe__"

    def __init__(self, server: FakeRealtimeServer, timeout: float = 5.0) -> None:
        from websockets.sync.client import connect

        index = len(server.connections)
        self.ws = connect(server.url + "?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk-test"},
                          compression=None, open_timeout=timeout)
        self.timeout = timeout
        self.connection = server.wait_for_connection_sync(index, timeout=timeout)
        self._probes = itertools.count(1)
        first = json.loads(self.ws.recv(timeout=self.timeout))
        assert first["type"] == "session.created", first

    def _recv(self) -> Event:
        """The next server event, skipping ``rate_limits.updated`` (its timing is the server's)."""
        while True:
            event: Event = json.loads(self.ws.recv(timeout=self.timeout))
            if event["type"] != "rate_limits.updated":
                return event

    def send(self, event: Event) -> list[Event]:
        probe = f"probe_{next(self._probes)}"
        self.ws.send(json.dumps(event))
        self.ws.send(json.dumps({"type": "conversation.item.retrieve", "event_id": probe, "item_id": self.PROBE_ID}))
        out: list[Event] = []
        while True:
            got = self._recv()
            if got["type"] == "error" and got["error"]["event_id"] == probe:
                return out
            out.append(got)

    def until(self, done: Callable[[Event], bool]) -> list[Event]:
        out: list[Event] = []
        while True:
            event = self._recv()
            out.append(event)
            if done(event):
                return out

    def snapshot(self) -> list[Event]:
        return self.connection.conversation()

    def close(self) -> None:
        self.ws.close()


_INDEX = st.integers(0, 2**16)
_ONE_MESSAGE = histories(min_items=1, max_items=1, tool_calls=False, ids=False)
#: What the schema breaks of the ``invalid`` rule are drawn for: deletes and retrieves name its items (whether
#: the machine's conversation has them does not matter: a schema break is refused first).
_ITEMS = ({"id": "msg_001", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
          {"id": "fc_002", "type": "function_call", "name": "lookup", "call_id": "call_002", "arguments": "{}"})
_SOME_ITEMS = History(_ITEMS, tuple({"type": "conversation.item.create", "item": item} for item in _ITEMS),
                      (None, "msg_001"), tuple({**item, "status": "completed"} for item in _ITEMS))


def _pick(values: list[str], index: int) -> str:
    """``values[index]``, wrapped: a choice drawn before the state that decides how many values there are."""
    return values[index % len(values)]


def _types(events: list[Event]) -> list[str]:
    return [e["type"] for e in events]


def _without_noise(events: list[Event]) -> list[Event]:
    return [e for e in events if e["type"] != "rate_limits.updated"]


@dataclass
class Reference:
    """What the conversation must be: items in order (server shape), their audio, the input buffer."""

    items: list[Event] = field(default_factory=list)
    audio: dict[str, dict[int, bytes]] = field(default_factory=dict)
    """The audio bytes per item id and content index (input audio, assistant output audio)."""
    buffer: bytes = b""
    """The input audio buffer."""

    def ids(self) -> list[str]:
        return [item["id"] for item in self.items]

    def audio_ms(self, item_id: str) -> float:
        """Milliseconds of assistant output audio in the item (0 for any other item)."""
        item = self.find(item_id)
        parts = item.get("content") if item is not None and item.get("role") == "assistant" else None
        if not parts or parts[0]["type"] != "output_audio":
            return 0.0
        return len(self.audio.get(item_id, {}).get(0, b"")) / PCM_BYTES_PER_MS

    def truncatable(self) -> list[str]:
        """Ids of the items a truncate may cut: assistant audio with some audio."""
        return [item_id for item_id in self.ids() if self.audio_ms(item_id)]

    def find(self, item_id: str) -> Event | None:
        return next((item for item in self.items if item["id"] == item_id), None)

    def call_ids(self) -> list[str]:
        return [item["call_id"] for item in self.items if item["type"] == "function_call"]

    def insert(self, item: Event, previous_item_id: str | None) -> str | None:
        """Insert like the server; the id of the item now before it."""
        if previous_item_id is None:
            index = len(self.items)
        elif previous_item_id == "root":
            index = 0
        else:
            index = self.ids().index(previous_item_id) + 1
        self.items.insert(index, item)
        return self.items[index - 1]["id"] if index else None


def _expect_error(events: list[Event], precondition: str, event: Event, **fields: Any) -> None:
    """``events`` are the error alone that the legality table names for ``event`` breaking ``precondition``."""
    expected = ExpectedError.of(rule_for(event["type"], precondition), fields, event)
    assert len(events) == 1 and expected.matches(events[0]), (
        f"expected only the error {expected.body()}, got {events}")


class _ResponseRules:
    """The response rules of :class:`SessionMachine` (a part of it: it inherits them)."""

    driver: Driver
    model: Reference
    note: Callable[[str], None]
    _event_id: Callable[[], str]
    _send_broken: Callable[..., "list[Event] | None"]

    @rule(data=st.data())
    def response(self, data: st.DataObject) -> None:
        """response.create, run to its end; its outputs are appended (out of band: nothing is)."""
        request: Event = {"output_modalities": [data.draw(st.sampled_from(["audio", "text"]), label="modality")]}
        in_conversation = data.draw(st.integers(0, 3), label="out of band") > 0
        if not in_conversation:
            request["conversation"] = "none"
        answer = self.driver.send({"type": "response.create", "event_id": self._event_id(), "response": request})
        created = [e for e in answer if e["type"] == "response.created"]
        assert len(created) == 1, answer
        response_id = created[0]["response"]["id"]
        events = answer + self._until_done(answer, response_id)
        self._apply_response(events, response_id, in_conversation, "completed")
        self.note(f"response: {request['output_modalities'][0]}{'' if in_conversation else ', out of band'}")

    @rule()
    def cancel_idle(self) -> None:
        event = {"type": "response.cancel", "event_id": self._event_id()}
        _expect_error(self.driver.send(event), "response_active", event)
        self.note("cancel: nothing to cancel")

    @rule()
    def response_then_cancel(self) -> None:
        """response.create then response.cancel at once: cancelled, or (over a socket) done first."""
        create = {"type": "response.create", "event_id": self._event_id()}
        answer = self.driver.send(create)
        response_id = next(e for e in answer if e["type"] == "response.created")["response"]["id"]
        cancel = {"type": "response.cancel", "event_id": self._event_id()}
        events = answer + self.driver.send(cancel)
        done = [e for e in events if e["type"] == "response.done"]
        if not done:
            events += self._until_done(events, response_id)
        final = next(e for e in events if e["type"] == "response.done")
        status = final["response"]["status"]
        errors = [e for e in events if e["type"] == "error"]
        if status == "cancelled":
            assert not errors, errors
            assert final["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        else:  # the response had finished before the cancel arrived
            assert status == "completed", final
            expected = ExpectedError.of(rule_for("response.cancel", "response_active"), {}, cancel)
            assert len(errors) == 1 and expected.matches(errors[0]), errors
        self._apply_response([e for e in events if e["type"] != "error"], response_id, True, status)
        self.note(f"cancel: {status}")

    @rule(data=st.data())
    def response_then_broken_cancel(self, data: st.DataObject) -> None:
        """response.create then a cancel (valid while the response runs) with one schema rule broken: refused
        for that rule alone, whatever the race, and the response completes."""
        answer = self.driver.send({"type": "response.create", "event_id": self._event_id()})
        response_id = next(e for e in answer if e["type"] == "response.created")["response"]["id"]
        cancel = {"type": "response.cancel", "event_id": self._event_id()}
        events = answer + (self._send_broken(data, cancel, True, "cancel", streaming=True) or [])
        events += self._until_done(events, response_id)
        self._apply_response(events, response_id, True, "completed")

    def _until_done(self, seen: list[Event], response_id: str) -> list[Event]:
        if any(e["type"] == "response.done" and e["response"]["id"] == response_id for e in seen):
            return []
        return self.driver.until(lambda e: e["type"] == "response.done" and e["response"]["id"] == response_id)

    def _apply_response(self, events: list[Event], response_id: str, in_conversation: bool, status: str) -> None:
        model = self.model
        events = _without_noise(events)
        mine = [e for e in events if e.get("response_id") == response_id or e["type"].startswith("conversation.")
                or e.get("response", {}).get("id") == response_id]
        added = [e for e in mine if e["type"] == "conversation.item.added"]
        done = [e for e in mine if e["type"] == "conversation.item.done"]
        if not in_conversation:
            assert not added and not done, _types(mine)
            return
        assert len(added) == len(done), _types(mine)
        for add, finished in zip(added, done):
            assert add["previous_item_id"] == (model.ids()[-1] if model.items else None), add
            item = finished["item"]
            model.insert(item, None)
            audio = b"".join(base64.b64decode(e["delta"]) for e in mine if e["type"] == "response.output_audio.delta"
                             and e["item_id"] == item["id"])
            if audio:
                model.audio[item["id"]] = {0: audio}
        final = next(e for e in mine if e["type"] == "response.done")
        assert final["response"]["status"] == status, final
        assert [o["id"] for o in final["response"]["output"]] == [d["item"]["id"] for d in done]


class SessionMachine(_ResponseRules, RuleBasedStateMachine):
    """Random client operations against :class:`Reference`; subclass and set :meth:`make_driver`.

    Each step notes what happened (``commit: committed``, ``truncate: too long``...) with hypothesis'
    ``event()`` (``pytest --hypothesis-show-statistics`` shows them) and counts it in
    :attr:`outcomes`, so a test can check that a run reached the paths it means to test.
    """

    outcomes: ClassVar[Counter[str]] = Counter()
    """What the steps of every run of this class did, counted (subclass with a fresh one to count a run)."""

    def make_driver(self) -> Driver:
        return CoreDriver()

    def note(self, outcome: str) -> None:
        note_event(outcome)
        type(self).outcomes[outcome] += 1

    def __init__(self) -> None:
        super().__init__()
        self.driver = self.make_driver()
        self.model = Reference()
        self.numbers = itertools.count(1)
        answer = self.driver.send(MANUAL_TURNS)
        assert _types(answer) == ["session.updated"], answer

    def teardown(self) -> None:
        self.driver.close()

    def _event_id(self) -> str:
        return f"sm_{next(self.numbers)}"

    # -- items -------------------------------------------------------------------------------
    @initialize(history=histories(max_items=4))
    def load(self, history: History) -> None:
        """Start from a loaded history (so deletes, retrieves and truncates have items to act on)."""
        for event, previous in zip(history.events(), history.previous):
            answer = self.driver.send(event)
            assert _types(answer) == ["conversation.item.added", "conversation.item.done"], answer
            assert answer[0]["previous_item_id"] == previous
        self.model.items = history.snapshot()
        for item in history.items:
            for index, part in enumerate(item.get("content", [])):
                if part["type"] == "input_audio":
                    self.model.audio.setdefault(item["id"], {})[index] = base64.b64decode(part["audio"])

    @rule(data=st.data())
    def create(self, data: st.DataObject) -> None:
        """conversation.item.create: append, at the root, after an item, or after an unknown id."""
        model = self.model
        # Every draw is made whatever the state: over a socket the state may differ between runs of one
        # example (a cancel racing the end of its response), and hypothesis needs the same draws.
        tool_output = data.draw(st.booleans(), label="tool output")
        call_pick = data.draw(_INDEX, label="call")
        output = data.draw(st.text(max_size=8), label="output")
        message = copy.deepcopy(data.draw(_ONE_MESSAGE).items[0])
        as_call = data.draw(st.integers(0, 3), label="function call") == 0
        client_call_id = data.draw(st.booleans(), label="client call id")
        if tool_output and model.call_ids():
            item: Event = {"type": "function_call_output", "call_id": _pick(model.call_ids(), call_pick),
                           "output": output}
        elif as_call:
            item = {"type": "function_call", "name": "lookup", "arguments": "{}"}
            if client_call_id:
                item["call_id"] = f"call_{next(self.numbers)}"
        else:
            item = message
        if data.draw(st.booleans(), label="client id"):
            item["id"] = f"cli_{next(self.numbers)}"
        where = data.draw(st.sampled_from(["append", "root", "after", "unknown"]), label="where")
        after = data.draw(_INDEX, label="after")
        event: Event = {"type": "conversation.item.create", "event_id": self._event_id(), "item": item}
        previous: str | None = None
        if where == "root":
            event["previous_item_id"] = previous = "root"
        elif where == "after" and model.items:
            event["previous_item_id"] = previous = _pick(model.ids(), after)
        elif where == "unknown":
            event["previous_item_id"] = "nowhere"
        answer = self.driver.send(event)
        if where == "unknown":
            _expect_error(answer, "previous_item_exists", event, previous_item_id="nowhere")
            self.note("create: unknown previous_item_id")
            return
        self.note(f"create: {where}")
        assert _types(answer) == ["conversation.item.added", "conversation.item.done"], answer
        added = answer[0]["item"]
        expected = _server_shape(item, added)
        assert added == expected == answer[1]["item"], (added, expected)
        echoed_previous = model.insert(expected, previous)
        for index, part in enumerate(item.get("content", [])):
            if part["type"] == "input_audio":
                model.audio.setdefault(expected["id"], {})[index] = base64.b64decode(part["audio"])
        assert answer[0]["previous_item_id"] == echoed_previous, (answer[0], echoed_previous)

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        item_id = self._pick_id(data)
        event = {"type": "conversation.item.delete", "event_id": self._event_id(), "item_id": item_id}
        answer = self.driver.send(event)
        if self.model.find(item_id) is None:
            _expect_error(answer, "item_exists", event, item_id=item_id)
            self.note("delete: unknown id")
            return
        assert answer == [{"type": "conversation.item.deleted", "event_id": answer[0]["event_id"],
                           "item_id": item_id}], answer
        self.model.items.remove(self.model.find(item_id))  # type: ignore[arg-type]
        self.model.audio.pop(item_id, None)
        self.note("delete: deleted")

    @rule(data=st.data())
    def retrieve(self, data: st.DataObject) -> None:
        """conversation.item.retrieve of any item (often the newest), or of an unknown id; audio included."""
        item_id = self._pick_id(data)
        if data.draw(st.booleans(), label="the newest item") and self.model.items:
            item_id = self.model.ids()[-1]
        event = {"type": "conversation.item.retrieve", "event_id": self._event_id(), "item_id": item_id}
        answer = self.driver.send(event)
        found = self.model.find(item_id)
        if found is None:
            _expect_error(answer, "item_exists", event, item_id=item_id)
            self.note("retrieve: unknown id")
            return
        assert _types(answer) == ["conversation.item.retrieved"], answer
        item = copy.deepcopy(answer[0]["item"])
        audio = {}
        for index, part in enumerate(item.get("content", [])):
            if "audio" in part:  # retrieve adds the audio bytes
                audio[index] = base64.b64decode(part.pop("audio"))
        assert item == found, (item, found)
        expected = {index: data for index, data in self.model.audio.get(item_id, {}).items() if data}
        assert {index: data for index, data in audio.items() if data} == expected, (item_id, audio, expected)
        self.note(f"retrieve: {found['type']} {found.get('role', '')}{' with audio' if expected else ''}".rstrip())

    @rule(data=st.data())
    def truncate(self, data: st.DataObject) -> None:
        """conversation.item.truncate: mostly of assistant audio, mostly within it."""
        model = self.model
        audio_item = data.draw(st.integers(0, 3), label="audio item") > 0
        audio_pick = data.draw(_INDEX, label="which audio item")
        item_id = self._pick_id(data)
        if audio_item and model.truncatable():
            item_id = _pick(model.truncatable(), audio_pick)
        within = data.draw(st.integers(0, 2), label="within the audio") > 0
        end = data.draw(st.integers(0, 3000), label="audio_end_ms")
        actual = model.audio_ms(item_id)
        if actual:  # within the audio, or beyond its end
            end = end % (int(actual) + 1) if within else int(actual) + 1 + end % 500
        content_index = 1 if data.draw(st.integers(0, 7), label="wrong content index") == 0 else 0
        event = {"type": "conversation.item.truncate", "event_id": self._event_id(), "item_id": item_id,
                 "content_index": content_index, "audio_end_ms": end}
        found = model.find(item_id)
        answer = self.driver.send(event)
        if found is None:
            _expect_error(answer, "item_exists", event, item_id=item_id)
            self.note("truncate: unknown id")
            return
        if not actual:
            _expect_error(answer, "assistant_audio", event)
            self.note("truncate: not assistant audio")
            return
        if content_index:
            _expect_error(answer, "content_index_audio", event, content_index=content_index)
            self.note("truncate: no such content index")
            return
        if end > actual:
            _expect_error(answer, "within_audio", event, actual_ms=int(actual), audio_end_ms=end)
            self.note("truncate: too long")
            return
        assert answer == [{"type": "conversation.item.truncated", "event_id": answer[0]["event_id"],
                           "item_id": item_id, "content_index": 0, "audio_end_ms": end}], answer
        found["content"][0]["transcript"] = ""
        model.audio[item_id][0] = model.audio[item_id][0][:end * PCM_BYTES_PER_MS]
        self.note("truncate: truncated")

    @rule(data=st.data())
    def truncate_broken(self, data: st.DataObject) -> None:
        """A truncate that would succeed (assistant audio, within it), with one schema rule broken: refused
        for that rule alone. (``invalid`` breaks other event types; a truncate is only valid here.)"""
        pick, end = data.draw(_INDEX, label="which audio item"), data.draw(_INDEX, label="audio_end_ms")
        truncatable = self.model.truncatable()
        if not truncatable:
            self._send_broken(data, {}, False, "truncate")
            self.note("truncate: nothing to break")
            return
        item_id = _pick(truncatable, pick)
        event = {"type": "conversation.item.truncate", "event_id": self._event_id(), "item_id": item_id,
                 "content_index": 0, "audio_end_ms": end % (int(self.model.audio_ms(item_id)) + 1)}
        self._send_broken(data, event, True, "truncate")

    def _send_broken(self, data: st.DataObject, event: Event, valid: bool, name: str,
                     streaming: bool = False) -> list[Event] | None:
        """If ``valid`` (``event`` is valid here), send it with one schema rule broken instead: the break is
        then the only thing wrong, and the answer is its error alone. ``None`` if not sent; else the other
        events read meanwhile (``streaming``: a response runs, so they may come, and the conversation may
        change; otherwise there are none and the conversation stays as it was). Draws the same either way."""
        kind_pick, place_pick = data.draw(_INDEX, label="sort of rule"), data.draw(_INDEX, label="place")
        if not valid:
            return None
        breakages = default_walker(None).breakages(event)
        kind = _pick(sorted({b.kind for b in breakages}), kind_pick)
        same_kind = [b for b in breakages if b.kind == kind]
        breakage = same_kind[place_pick % len(same_kind)]
        wrong = breakage.apply(event)
        before = self.driver.snapshot()
        answer = self.driver.send(wrong)
        expected = ExpectedError.of(breakage.rule, breakage.fields, wrong)
        errors = [e for e in answer if e["type"] == "error"]
        others = [e for e in answer if e["type"] != "error"]
        assert len(errors) == 1 and expected.matches(errors[0]), (wrong, expected, answer)
        if not streaming:
            assert others == [] and self.driver.snapshot() == before, (wrong, answer)
        self.note(f"{name}: schema break ({kind})")
        return others

    def _pick_id(self, data: st.DataObject) -> str:
        known = data.draw(st.integers(0, 3), label="known id") > 0
        pick = data.draw(_INDEX, label="item id")
        unknown = data.draw(st.sampled_from(["nope", "item_missing", "msg_0"]), label="unknown id")
        return _pick(self.model.ids(), pick) if known and self.model.items else unknown

    # -- input audio -------------------------------------------------------------------------
    @rule(ms=st.integers(1, 99) | st.integers(100, 400), sample=st.integers(0, 255))
    def append(self, ms: int, sample: int) -> None:
        """input_audio_buffer.append of a short clip (under or over the 100 ms a commit needs)."""
        self._append(ms, sample)
        self.note("append: short" if ms < 100 else "append: 100 ms or more")

    def _append(self, ms: int, sample: int) -> None:
        pcm = bytes([sample, 8]) * (ms * PCM_BYTES_PER_MS // 2)  # distinct bytes: the commit must keep them all
        answer = self.driver.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})
        assert answer == [], answer
        self.model.buffer += pcm

    @rule(top_up=st.integers(0, 3), ms=st.integers(100, 300), sample=st.integers(0, 255))
    def commit(self, top_up: int, ms: int, sample: int) -> None:
        """input_audio_buffer.commit, of what is buffered or (mostly) after appending enough to commit."""
        if top_up:
            self._append(ms, sample)
        model = self.model
        event = {"type": "input_audio_buffer.commit", "event_id": self._event_id()}
        answer = self.driver.send(event)
        buffered = len(model.buffer) / PCM_BYTES_PER_MS
        if buffered < 100:
            _expect_error(answer, "buffer_long_enough", event, buffered_ms=buffered)
            self.note("commit: too short")
            return
        assert _types(answer) == ["input_audio_buffer.committed", "conversation.item.added",
                                  "conversation.item.done"], answer
        item_id = answer[0]["item_id"]
        assert answer[0] == {"type": "input_audio_buffer.committed", "event_id": answer[0]["event_id"],
                             "previous_item_id": model.ids()[-1] if model.items else None, "item_id": item_id}
        expected = {"id": item_id, "type": "message", "status": "completed", "role": "user",
                    "content": [{"type": "input_audio", "transcript": None}]}
        assert answer[1]["item"] == expected == answer[2]["item"], answer
        assert answer[1]["previous_item_id"] == answer[0]["previous_item_id"] == answer[2]["previous_item_id"]
        model.insert(expected, None)
        model.audio[item_id] = {0: model.buffer}
        model.buffer = b""
        self.note("commit: committed")

    @rule()
    def clear(self) -> None:
        answer = self.driver.send({"type": "input_audio_buffer.clear"})
        assert _types(answer) == ["input_audio_buffer.cleared"], answer
        self.model.buffer = b""
        self.note("clear: cleared")

    # -- invalid events ----------------------------------------------------------------------
    @rule(case=invalid_events(_SOME_ITEMS, kinds=("schema",)))
    def invalid(self, case: Any) -> None:
        """A schema break of any event type (truncates and cancels: in their rules, where they are valid)."""
        before = self.driver.snapshot()
        answer = self.driver.send(case.event)
        assert len(answer) == 1 and case.error.matches(answer[0]), (case, answer)
        assert self.driver.snapshot() == before
        self.note("invalid: schema break")

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def same_conversation(self) -> None:
        actual = self.driver.snapshot()
        assert actual == self.model.items, f"server {actual}\nmodel  {self.model.items}"

    @invariant()
    def ids_unique(self) -> None:
        ids = self.model.ids()
        assert len(ids) == len(set(ids)), ids


def _server_shape(sent: Event, echoed: Event) -> Event:
    """How the server must show a client item; minted ids (item, call) are taken from the echo."""
    kind = sent["type"]
    head: Event = {"id": sent.get("id") or echoed["id"], "type": kind, "status": "completed"}
    if kind == "function_call":
        return {**head, "name": sent["name"], "call_id": sent.get("call_id") or echoed["call_id"],
                "arguments": sent["arguments"]}
    if kind == "function_call_output":
        return {**head, "call_id": sent["call_id"], "output": sent["output"]}
    content = [{"type": "input_audio", "transcript": p.get("transcript")} if p["type"] == "input_audio"
               else {"type": p["type"], "text": p["text"]} for p in sent["content"]]
    return {**head, "role": sent["role"], "content": content}


def socket_machine(server: FakeRealtimeServer) -> type[SessionMachine]:
    """:class:`SessionMachine` over a real WebSocket to ``server`` (run its ``TestCase``)."""

    class SocketSessionMachine(SessionMachine):
        def make_driver(self) -> Driver:
            return SocketDriver(server)

    return SocketSessionMachine

