"""fake-realtime: a faithful fake of the OpenAI Realtime API (GA, WebSocket)."""
