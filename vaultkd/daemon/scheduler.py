"""The quiet-period wait: observer threads add changes, the daemon loop takes the due ones.

Why not watchdog's own `watchdog.utils.event_debouncer.EventDebouncer` (what `watchmedo
auto-restart --debounce-interval` uses)? It keeps one global window that closes a fixed interval
after the *first* event of a batch (watchdog issues #997/#999 changed it to that), holds a list
of every raw event, and calls back while holding its lock. vaultkd needs a quiet period *per
note* that restarts on each save (Obsidian saves every couple of seconds while the user types),
one entry per note however many events arrive (bounded memory in a 500-file burst), and the
work done on the caller's thread (SQLite connections belong to the thread that opened them).
So this is one condition variable over `events.Pending`, no timer per path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from vaultkd.daemon.events import Change, Pending


class QuietScheduler:
    """Thread-safe: `add` from any thread, `take_due` from the one thread that does the work."""

    def __init__(self, quiet_period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet_period = quiet_period
        self._clock = clock
        self._pending = Pending()
        self._cond = threading.Condition()

    def add(self, change: Change) -> None:
        with self._cond:
            self._pending.add(change, self._clock() + self.quiet_period)
            self._cond.notify()

    def add_all(self, changes: Iterable[Change]) -> None:
        with self._cond:
            deadline = self._clock() + self.quiet_period
            for change in changes:
                self._pending.add(change, deadline)
            self._cond.notify()

    def take_due(self, timeout: float) -> list[Change]:
        """Wait at most `timeout` seconds for changes whose quiet period is over; [] if none."""
        end = self._clock() + timeout
        with self._cond:
            while True:
                now = self._clock()
                due = self._pending.pop_due(now)
                if due or now >= end:
                    return due
                deadline = self._pending.next_deadline()
                wake = end if deadline is None else min(end, deadline)
                self._cond.wait(max(0.0, wake - now))

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending)
