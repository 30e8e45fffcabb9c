"""A plain HTTP client for the admin API, as a Node or curl user would call it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, NamedTuple


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: Any


def admin(method: str, url: str, body: Any = None, *, content_type: str = "application/json",
          headers: dict[str, str] | None = None) -> Answer:
    """One admin request; ``body`` is sent as JSON unless it is already ``bytes``/``str``. The answer's
    body is decoded JSON, or text when the server did not answer JSON."""
    if body is None:
        data = None
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, got, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, dict(exc.headers), exc.read()
    lowered = {k.lower(): v for k, v in got.items()}
    if not raw:
        return Answer(status, lowered, None)
    if lowered.get("content-type", "").startswith("application/json"):
        return Answer(status, lowered, json.loads(raw))
    return Answer(status, lowered, raw.decode())
