"""WireMock-style scenarios: named state machines that matched stubs move on.

Every scenario starts in `STARTED` ("Started", WireMock's name); a stub tied to a scenario
matches only in its required state and moves the scenario to its new state when it answers.
"""
from __future__ import annotations

import threading

STARTED = "Started"


class Scenarios:
    """Thread-safe scenario states, readable and settable from Python and `/_mock/scenarios`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}
        self._known: set[str] = set()

    def declare(self, name: str) -> None:
        with self._lock:
            self._known.add(name)

    def get(self, name: str) -> str:
        with self._lock:
            return self._states.get(name, STARTED)

    def set(self, name: str, state: str) -> None:
        if not isinstance(state, str) or not state:
            raise ValueError("a scenario state must be a non-empty string")
        with self._lock:
            self._known.add(name)
            self._states[name] = state

    def move(self, name: str, expected: str | None, new_state: str) -> bool:
        """Move `name` to `new_state` if it is still in `expected` (None: from any state)."""
        with self._lock:
            if expected is not None and self._states.get(name, STARTED) != expected:
                return False
            self._known.add(name)
            self._states[name] = new_state
            return True

    def reset(self, name: str | None = None) -> None:
        """Back to `Started`: one scenario, or all of them."""
        with self._lock:
            if name is None:
                self._states.clear()
            else:
                self._states.pop(name, None)

    def forget(self) -> None:
        with self._lock:
            self._states.clear()
            self._known.clear()

    def all(self) -> dict[str, str]:
        with self._lock:
            return {name: self._states.get(name, STARTED) for name in sorted(self._known | set(self._states))}


__all__ = ["STARTED", "Scenarios"]
