"""The HTTP admin API on the fake's own port, for clients that are not written in Python.

Requests under ``/__admin`` are answered here with JSON; every other request goes on to the
WebSocket handshake untouched. Telling them apart and reading a request off the socket is
the front's job (:mod:`fake_server.transport.front`); this module is the API itself: the
routes over the server's public methods. It runs on the server's event loop, between two
frames, so what it reads is never half-written.

Routes (docs/admin.md has the details and examples):

    GET  /__admin                                   the routes
    POST /__admin/reset                             like FakeRealtimeServer.reset()
    PUT  /__admin/script                            replace the script (JSON or YAML body)
    POST /__admin/faults                            inject faults into the current script
    PUT  /__admin/pacing                            set the pacing of the current script
    GET  /__admin/sessions                          every connection since the last reset
    GET  /__admin/sessions/{ref}                    one of them (index or session id)
    GET  /__admin/sessions/{ref}/journal            its frames (?since=N&type=T&direction=D)
    GET  /__admin/sessions/{ref}/conversation       its conversation as of now
    POST /__admin/sessions/{ref}/close              close it now with a code and reason
    GET  /__admin/errors                            every error event sent, with its cause
    POST /__admin/expected-errors                   declare an error as provoked on purpose
    POST /__admin/allow-errors                      let errors pass the check
    GET  /__admin/problems                          what the pytest fixture would fail with
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Mapping, Protocol

from .connection import Connection
from ..core.handshake import ServerPolicy
from ..core.journal import Entry, Handshake
from ..script import Script, ScriptFileError, check_close, faults_from_data, parse_script_text, script_from_data
from ..verify import ErrorExpectation, ErrorReport

__all__ = ["ADMIN_PREFIX", "AdminApi", "AdminError", "AdminRequest", "AdminResponse", "AdminTarget"]

ADMIN_PREFIX = "/__admin"


class AdminError(Exception):
    """A request the admin API refuses: answered with ``status`` and ``{"error": {"message": ...}}``."""

    def __init__(self, status: HTTPStatus, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> "AdminResponse":
        """The answer that tells the client why."""
        return AdminResponse(self.status, {"error": {"message": self.message}}, self.headers)


@dataclass
class AdminRequest:
    """One admin request as read off the socket."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON (an empty body is ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AdminError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}") from None

    def object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise AdminError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return data

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class AdminResponse:
    status: HTTPStatus
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        payload = b"" if self.body is None else json.dumps(self.body, ensure_ascii=False).encode() + b"\n"
        head = [f"HTTP/1.1 {self.status.value} {self.status.phrase}"]
        if self.body is not None:
            head.append("Content-Type: application/json; charset=utf-8")
        head += [f"Content-Length: {len(payload)}", "Cache-Control: no-store", "Connection: close"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


# --- the API ---------------------------------------------------------------------------------------


class AdminTarget(Protocol):
    """What the API drives: the public face of :class:`~fake_server.transport.server.FakeRealtimeServer`."""

    seed: int | str
    policy: ServerPolicy

    @property
    def script(self) -> Script: ...

    @property
    def connections(self) -> list[Connection]: ...

    def reset(self) -> None: ...

    def errors(self) -> list[ErrorReport]: ...

    def expect_error(
        self, *, code: str | None = None, message: str | re.Pattern[str] | None = None, param: str | None = None,
        client_event: str | None = None, error_type: str | None = None, times: int | None = None,
    ) -> ErrorExpectation: ...

    def allow_errors(self, allowed: bool = True) -> None: ...

    def problems(self) -> list[str]: ...


Handler = Callable[[AdminRequest, "list[str]"], Any]


class AdminApi:
    """The admin routes over one :class:`~fake_server.transport.server.FakeRealtimeServer`.

    ``cors_origins``: browser origins allowed to call the API (``"*"`` for any); none by default,
    so a web page the developer happens to visit cannot drive the fake.
    """

    def __init__(self, server: AdminTarget, cors_origins: frozenset[str] = frozenset()) -> None:
        self._server = server
        self._cors = cors_origins
        self._routes: list[tuple[str, str, re.Pattern[str], Handler, str]] = []
        route = self._route
        route("GET", "", self._index, "the routes")
        route("POST", "/reset", self._reset, "close every connection, forget them, restore the start script")
        route("PUT", "/script", self._load_script, "replace the script (JSON or YAML script file body)")
        route("POST", "/script", self._load_script, "same as PUT")
        route("POST", "/faults", self._inject, "inject faults (the 'faults' object of a script file)")
        route("PUT", "/pacing", self._pace, "set the pacing: {\"pacing\": 1.0} (null: the server's)")
        route("POST", "/pacing", self._pace, "same as PUT")
        route("GET", "/sessions", self._sessions, "every connection since the last reset")
        route("GET", "/sessions/{ref}", self._session, "one connection, by index or session id")
        route("GET", "/sessions/{ref}/journal", self._journal, "its frames; ?since=N&type=T&direction=client|server")
        route("GET", "/sessions/{ref}/conversation", self._conversation, "its conversation items as of now")
        route("POST", "/sessions/{ref}/close", self._close, "close it now: {\"code\": 1011, \"reason\": \"...\"}")
        route("GET", "/errors", self._errors, "every error event sent, with the client event it answered")
        route("POST", "/expected-errors", self._expect_error, "declare an error the test provokes on purpose")
        route("POST", "/allow-errors", self._allow_errors, "let error events pass the check: {\"allowed\": true}")
        route("GET", "/problems", self._problems, "what the pytest fixture would fail the test with")

    def _route(self, method: str, pattern: str, handler: Handler, summary: str) -> None:
        path = ADMIN_PREFIX + pattern
        regex = re.compile("^" + re.escape(path).replace(re.escape("{ref}"), "([^/]+)") + "/?$")
        self._routes.append((method, path, regex, handler, summary))

    # --- dispatch ----------------------------------------------------------------------------

    def respond(self, request: AdminRequest) -> AdminResponse:
        """The answer to one request; never raises."""
        cors = self._cors_headers(request)
        try:
            if request.method == "OPTIONS":
                response = self._preflight(request, cors)
            else:
                response = self._dispatch(request)
        except AdminError as exc:
            response = exc.response()
        except Exception as exc:  # the API must never take the server down
            response = AdminResponse(HTTPStatus.INTERNAL_SERVER_ERROR,
                                     {"error": {"message": f"{type(exc).__name__}: {exc}"}})
        response.headers.update(cors)
        return response

    def _dispatch(self, request: AdminRequest) -> AdminResponse:
        allowed = []
        for method, _, regex, handler, _ in self._routes:
            match = regex.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            body = handler(request, list(match.groups()))
            return AdminResponse(HTTPStatus.OK, body)
        if allowed:
            raise AdminError(HTTPStatus.METHOD_NOT_ALLOWED, f"{request.path} takes {', '.join(allowed)}",
                             {"Allow": ", ".join(allowed)})
        raise AdminError(HTTPStatus.NOT_FOUND, f"no admin route {request.path}; GET {ADMIN_PREFIX} lists them")

    def _cors_headers(self, request: AdminRequest) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin is None or not ("*" in self._cors or origin in self._cors):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def _preflight(self, request: AdminRequest, cors: dict[str, str]) -> AdminResponse:
        if not cors:
            raise AdminError(HTTPStatus.FORBIDDEN, "this origin may not call the admin API (see --cors-origin)")
        headers = {"Access-Control-Allow-Methods": "GET, POST, PUT, OPTIONS",
                   "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers",
                                                                       "content-type"),
                   "Access-Control-Max-Age": "600"}
        return AdminResponse(HTTPStatus.NO_CONTENT, None, headers)

    # --- routes ------------------------------------------------------------------------------

    def _index(self, request: AdminRequest, args: list[str]) -> Any:
        return {"routes": [{"method": method, "path": path, "does": summary}
                           for method, path, _, _, summary in self._routes]}

    def _reset(self, request: AdminRequest, args: list[str]) -> Any:
        try:
            self._server.reset()  # loads the start script first: a broken one raises and nothing is reset
        except (OSError, ScriptFileError) as exc:
            where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
            raise AdminError(HTTPStatus.BAD_REQUEST, f"nothing was reset: the start script cannot be used: {where}"
                                                     f"{exc.strerror if isinstance(exc, OSError) else exc}") from None
        return {"reset": True, "seed": self._server.seed}

    def _load_script(self, request: AdminRequest, args: list[str]) -> Any:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        yaml = kind in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
        try:
            script = parse_script_text(request.body.decode("utf-8"), yaml=yaml)
        except (ScriptFileError, ValueError) as exc:
            raise AdminError(HTTPStatus.BAD_REQUEST, f"not a usable script: {exc}") from None
        self._server.policy.script = script
        return {"script": "loaded", "rules": len(script.rules)}

    def _pace(self, request: AdminRequest, args: list[str]) -> Any:
        body = request.object()
        if set(body) != {"pacing"}:
            raise AdminError(HTTPStatus.BAD_REQUEST, "the body is {\"pacing\": k} (k 0 or more, or null)")
        try:
            pacing = script_from_data(body).pacing  # checked like a script file's
        except ScriptFileError as exc:
            raise AdminError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        self._server.script.pace(pacing)
        return {"pacing": pacing}

    def _inject(self, request: AdminRequest, args: list[str]) -> Any:
        try:
            settings = faults_from_data(request.object())
        except ScriptFileError as exc:
            raise AdminError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        self._server.script.inject(**settings)
        return {"faults": "injected"}

    def _sessions(self, request: AdminRequest, args: list[str]) -> Any:
        return {"sessions": [_describe(c) for c in self._server.connections]}

    def _session(self, request: AdminRequest, args: list[str]) -> Any:
        return _describe(self._find(args[0]))

    def _journal(self, request: AdminRequest, args: list[str]) -> Any:
        connection = self._find(args[0])
        since = _int_param(request, "since", 0)
        direction, type = request.param("direction"), request.param("type")
        if direction not in (None, "client", "server"):
            raise AdminError(HTTPStatus.BAD_REQUEST, "direction is client or server")
        entries = connection.journal.entries(since)
        frames = [_entry(e) for e in entries
                  if (direction is None or e.direction == direction) and (type is None or e.type == type)]
        return {"since": since, "next": connection.journal.position, "dropped": connection.journal.dropped,
                "frames": frames}

    def _conversation(self, request: AdminRequest, args: list[str]) -> Any:
        return {"items": self._find(args[0]).conversation()}

    def _close(self, request: AdminRequest, args: list[str]) -> Any:
        connection = self._find(args[0])
        body = request.object()
        unknown = set(body) - {"code", "reason"}
        if unknown:
            raise AdminError(HTTPStatus.BAD_REQUEST, f"unknown keys {sorted(unknown)}; allowed: code, reason")
        code, reason = body.get("code", 1011), body.get("reason", "")
        try:
            check_close(code, reason)
        except ValueError as exc:
            raise AdminError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        if not connection.close(code, reason):
            raise AdminError(HTTPStatus.CONFLICT, f"connection {connection.index} is not open")
        return {"closing": connection.index, "code": code, "reason": reason}

    def _errors(self, request: AdminRequest, args: list[str]) -> Any:
        return {"errors": [_report(r) for r in self._server.errors()]}

    def _expect_error(self, request: AdminRequest, args: list[str]) -> Any:
        body = request.object()
        known = {"code", "message", "message_matches", "param", "client_event", "error_type", "times"}
        unknown = set(body) - known
        if unknown:
            raise AdminError(HTTPStatus.BAD_REQUEST, f"unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
        message: str | re.Pattern[str] | None = body.get("message")
        if "message_matches" in body:
            try:
                message = re.compile(body["message_matches"])
            except (re.error, TypeError) as exc:
                raise AdminError(HTTPStatus.BAD_REQUEST, f"message_matches is not a regex: {exc}") from None
        times = body.get("times")
        if times is not None and (not isinstance(times, int) or times < 0):
            raise AdminError(HTTPStatus.BAD_REQUEST, "times is a count (0 or more), or null for at least once")
        self._server.expect_error(code=body.get("code"), message=message, param=body.get("param"),
                                  client_event=body.get("client_event"), error_type=body.get("error_type"),
                                  times=times)
        return {"expected": {k: v for k, v in body.items()}}

    def _allow_errors(self, request: AdminRequest, args: list[str]) -> Any:
        allowed = request.object().get("allowed", True)
        if not isinstance(allowed, bool):
            raise AdminError(HTTPStatus.BAD_REQUEST, "allowed is true or false")
        self._server.allow_errors(allowed)
        return {"allowed": allowed}

    def _problems(self, request: AdminRequest, args: list[str]) -> Any:
        return {"problems": self._server.problems()}

    def _find(self, ref: str) -> Connection:
        connections = self._server.connections
        if ref.isdigit():
            index = int(ref)
            if index < len(connections):
                return connections[index]
        else:
            for connection in connections:
                if connection.session is not None and connection.session.id == ref:
                    return connection
        raise AdminError(HTTPStatus.NOT_FOUND, f"no connection {ref!r} since the last reset "
                                               f"({len(connections)} so far)")


def _int_param(request: AdminRequest, name: str, default: int) -> int:
    value = request.param(name)
    if value is None:
        return default
    if not value.isdigit():
        raise AdminError(HTTPStatus.BAD_REQUEST, f"{name} is a non-negative integer")
    return int(value)


def _handshake(handshake: Handshake | None) -> dict[str, Any] | None:
    if handshake is None:
        return None
    return {"path": handshake.path, "query": handshake.query, "headers": dict(handshake.headers),
            "subprotocols": list(handshake.subprotocols), "time": handshake.time}


def _describe(connection: Connection) -> dict[str, Any]:
    session = connection.session
    return {
        "index": connection.index,
        "session_id": session.id if session is not None else None,
        "type": session.kind if session is not None else None,
        "model": session.config.get("model") if session is not None else None,
        "accepted": connection.accepted,
        "open": not connection.closed,
        "close_code": connection.close_code,
        "close_reason": connection.close_reason,
        "closed_by": connection.closed_by,
        "frames": connection.journal.position,
        "handshake": _handshake(connection.handshake),
    }


def _entry(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"direction": entry.direction, "time": entry.time}
    if entry.event is not None:
        out["event"] = entry.event
    elif isinstance(entry.raw, bytes):
        out["raw_base64"] = base64.b64encode(entry.raw).decode("ascii")
    else:
        out["raw"] = entry.raw
    return out


def _report(report: ErrorReport) -> dict[str, Any]:
    return {"connection": report.connection, "error": report.error, "event": report.event,
            "client_event": report.client_event,
            "client_raw": report.client_raw if isinstance(report.client_raw, (str, type(None)))
            else base64.b64encode(report.client_raw).decode("ascii"),
            "handshake": _handshake(report.handshake)}
