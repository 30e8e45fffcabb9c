"""How to: test a client in any language against ``fake-realtime serve`` with a script file and the admin API.

Start the server with a script file (JSON or YAML, docs/scripting.md)::

    fake-realtime serve --port 8000 --script scenarios/pizza_order.yaml

It prints ``url:`` (the WebSocket endpoint) and ``admin:`` (the HTTP admin API on the same
port, docs/admin.md). A Node, browser or Go test suite then drives it over plain HTTP::

    curl -X POST localhost:8000/__admin/reset                          # before each test
    curl -X PUT  localhost:8000/__admin/script -H 'Content-Type: application/yaml' --data-binary @my_test.yaml
    curl         localhost:8000/__admin/sessions/0/journal?type=error  # what happened
    curl         localhost:8000/__admin/problems                       # after each test: expect []

Here the client is the openai SDK and the HTTP calls use urllib, in a child process like
the one your CI would start.
"""

import subprocess
import sys
from pathlib import Path

from _admin_http import admin
from _serve_process import ServeProcess, child_env
from openai import OpenAI

REPO = Path(__file__).resolve().parents[2]
PIZZA = REPO / "scenarios" / "pizza_order.yaml"


def start(*args: str) -> ServeProcess:
    return ServeProcess([sys.executable, "-m", "fake_server.cli", "serve", "--port", "0", *args],
                        cwd=str(REPO), env=child_env(PYTHONUNBUFFERED="1"))


def turn(conn, text: str) -> str:  # type: ignore[no-untyped-def]
    """Send a user message and read the answer: what your client does, in your language."""
    conn.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    conn.response.create(response={"output_modalities": ["text"]})
    said = []
    while (event := conn.recv()).type != "response.done":
        if event.type == "response.output_text.delta":
            said.append(event.delta)
    return "".join(said)


def test_a_script_file_drives_the_conversation_and_the_admin_api_shows_it() -> None:
    server = start("--script", str(PIZZA))
    try:
        base_url, admin_url = server.field("websocket_base_url"), server.field("admin")
        client = OpenAI(api_key="sk-test", websocket_base_url=base_url)
        with client.realtime.connect(model="gpt-realtime") as conn:
            assert turn(conn, "hi") == "Welcome to Pizza Place! What can I get you?"
            assert turn(conn, "a pizza please") == "Let me order that."

        # read what happened, as a test in any language would
        [session] = admin("GET", admin_url + "/sessions").body["sessions"]
        assert session["handshake"]["headers"]["authorization"] == "Bearer sk-****"  # keys never shown
        calls = admin("GET", admin_url + "/sessions/0/journal?type=response.done").body["frames"]
        last_output = calls[-1]["event"]["response"]["output"]
        assert [item["type"] for item in last_output] == ["message", "function_call"]
        assert last_output[1]["name"] == "order_pizza"
        items = admin("GET", admin_url + "/sessions/0/conversation").body["items"]
        assert [item.get("role", item["type"]) for item in items] == [
            "user", "assistant", "user", "assistant", "function_call"]
        assert admin("GET", admin_url + "/problems").body == {"problems": []}
    finally:
        server.kill()


def test_each_test_loads_its_own_script_and_reset_goes_back_to_the_file() -> None:
    server = start("--script", str(PIZZA))
    try:
        base_url, admin_url = server.field("websocket_base_url"), server.field("admin")
        client = OpenAI(api_key="sk-test", websocket_base_url=base_url)

        # this test's script, in YAML like the file (JSON works too, with Content-Type: application/json)
        script = "rules:\n  - when: {user_says: hours}\n    reply: {say: We open at noon.}\n"
        assert admin("PUT", admin_url + "/script", script, content_type="application/yaml").status == 200
        with client.realtime.connect(model="gpt-realtime") as conn:
            assert turn(conn, "what are your hours?") == "We open at noon."

        # a fault on demand: the next connection is closed before session.created
        admin("POST", admin_url + "/faults", {"close_before_created": [1011, "flaky network"]})
        with client.realtime.connect(model="gpt-realtime") as conn:
            try:
                conn.recv()
                raise AssertionError("the connection should have been closed")
            except Exception as closed:  # what your client sees: a close with 1011
                assert "1011" in str(closed)

        # the next test starts clean: connections forgotten, the file's script back
        assert admin("POST", admin_url + "/reset").status == 200
        assert admin("GET", admin_url + "/sessions").body == {"sessions": []}
        with client.realtime.connect(model="gpt-realtime") as conn:
            assert turn(conn, "hi") == "Welcome to Pizza Place! What can I get you?"
    finally:
        server.kill()


def test_errors_your_client_provokes_show_up_until_declared() -> None:
    server = start()
    try:
        base_url, admin_url = server.field("websocket_base_url"), server.field("admin")
        client = OpenAI(api_key="sk-test", websocket_base_url=base_url)
        with client.realtime.connect(model="gpt-realtime") as conn:
            conn.conversation.item.create(  # assistant history must be output_text: the live service says no
                item={"type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "Hi!"}]})
            error = conn.recv()
            while error.type != "error":
                error = conn.recv()
        [report] = admin("GET", admin_url + "/errors").body["errors"]
        assert report["client_event"]["type"] == "conversation.item.create"
        assert report["error"]["param"] == error.error.param
        [problem] = admin("GET", admin_url + "/problems").body["problems"]
        assert error.error.message in problem
        # declared as provoked on purpose, it is no longer a problem
        admin("POST", admin_url + "/expected-errors", {"code": error.error.code, "param": error.error.param})
        assert admin("GET", admin_url + "/problems").body == {"problems": []}
    finally:
        server.kill()


def test_a_mistake_in_a_script_file_is_reported_with_where_it_is(tmp_path: Path) -> None:
    script = tmp_path / "my_test.yaml"
    script.write_text("rules:\n  - when: {turn: first}\n    reply: {say: Hello.}\n")
    result = subprocess.run([sys.executable, "-m", "fake_server.cli", "serve", "--port", "0", "--script", str(script)],
                            cwd=str(REPO), env=child_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2  # the server does not start
    assert result.stderr == (f"fake-realtime: {script}: rules[0].when.turn: "
                             'expected a response number (1 or more), got "first"\n')
    # PUT /__admin/script answers the same mistake with a 400 and the same words, and keeps the old script
