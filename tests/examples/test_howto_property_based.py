"""How to: a property-based test of history loading through the fixture (README example).

``histories()`` draws valid conversations; each knows the ``conversation.item.create`` events that load it
and the conversation the server must end with. Swap ``conn.send(event)`` for your own loader fed with
``history.chat_messages()`` to test it (see test_howto_history_loader.py and docs/strategies.md).
"""

from hypothesis import HealthCheck, given, settings
from openai import OpenAI

from fake_server.strategies import histories


def test_every_history_loads(realtime_server):
    client = OpenAI(api_key="sk-test", websocket_base_url=realtime_server.base_url)

    @settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(histories())
    def loads(history):
        with client.realtime.connect(model="gpt-realtime") as conn:
            conn.recv()  # session.created
            for event in history.events():
                conn.send(event)
            for _ in range(2 * len(history)):  # added + done per item; an error event fails the example
                assert conn.recv().type != "error"
            assert history.matches(realtime_server.connections[-1].conversation())

    loads()
