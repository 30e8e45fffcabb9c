"""Rolling a session back: a client event that does not apply changes nothing.

A part of :class:`fake_server.core.session.Session` (it inherits these). Before each client event
the session saves what handling it may change (cheap: references, shallow copies, the input
buffer's length); when a rule refuses the event or a bug interrupts it, everything goes back:
the configuration, the conversation, the input buffer and its VAD, the responses, the active
response, the streams and their prepared batch, the close request. Changes made in place are
recorded as they are made (a cancelled response, a truncated item) and undone too.
"""

from __future__ import annotations

from typing import Any

from .conversation import Item, snapshot
from .handling import SessionParts

__all__ = ["Rollback"]


class Rollback(SessionParts):
    """Save and restore what handling one client event may change."""

    def _save(self) -> tuple[Any, ...]:
        """Everything handling a client event may change (see :meth:`_restore`)."""
        self._cancelled.clear()
        self._touched.clear()
        return (self.config, list(self.history.items), self.turns.save(), len(self.responses), self._active,
                self._last_context, self.scheduler.save(), self._faults.save() if self._faults else None,
                self.state, self.close_requested, list(self._playback))

    def _restore(self, saved: tuple[Any, ...]) -> None:
        """Undo a client event that did not apply: the state :meth:`_save` saw, the cancelled responses
        running again, the items it changed in place as they were."""
        (self.config, self.history.items, turns, responses, self._active, self._last_context, scheduler,
         faults, self.state, self.close_requested, self._playback) = saved
        self.turns.restore(turns)
        del self.responses[responses:]
        self.scheduler.restore(scheduler)
        if self._faults is not None:
            self._faults.restore(faults)
        for response, state in reversed(self._cancelled):
            response.restore(state)
        for item, data, audio in reversed(self._touched):
            item.data.clear()
            item.data.update(data)
            item.audio = audio
            item.changed()

    def _touch(self, item: Item) -> None:
        """``item`` is about to change in place: keep what it was, for a rollback."""
        self._touched.append((item, snapshot(item.data), dict(item.audio)))
