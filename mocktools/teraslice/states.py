"""Execution status sets and the status guard, as Teraslice's ExecutionStorage applies them.

Kept apart from the model so the rules can be read (and tested) on their own.
"""
from __future__ import annotations

import time as _time

from mocktools.errors import WireError

INIT_STATUSES: tuple[str, ...] = ("pending", "scheduling", "initializing")
RUNNING_STATUSES: tuple[str, ...] = ("recovering", "running", "failing", "paused", "stopping")
TERMINAL_STATUSES: tuple[str, ...] = ("completed", "stopped", "rejected", "failed", "terminated")
ALL_STATUSES: tuple[str, ...] = INIT_STATUSES + RUNNING_STATUSES + TERMINAL_STATUSES
LIVING_STATUSES: frozenset[str] = frozenset(INIT_STATUSES + RUNNING_STATUSES)
TERMINAL: frozenset[str] = frozenset(TERMINAL_STATUSES)
RUNNING: frozenset[str] = frozenset(RUNNING_STATUSES)
INIT: frozenset[str] = frozenset(INIT_STATUSES)
#: statuses in which workers process slices (slice counters grow)
PROCESSING: frozenset[str] = frozenset(("running", "recovering", "failing"))

# Timed transitions of the simulation (seconds in the state before it moves on).
RECOVERING_SECONDS = 180.0
FAILING_SECONDS = 120.0
STOPPING_SECONDS = 60.0
INIT_STEP_MIN = 3.0
INIT_STEP_MAX = 4.0
LIFECYCLE_EVENT_SECONDS = 180.0


class StatusError(WireError):
    """A status write the real storage would refuse (HTTP 422 there)."""

    type = "invalid_transition"

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message, status=status)


def verify_status(current: str, desired: str) -> str:
    """Return the status to store for `current` -> `desired`, or raise StatusError.

    Same rules as ExecutionStorage._verifyStatus, plus one of the simulation: `stopping` only
    ever ends in a terminal status (the seed: "stopping cannot go to running").
    """
    if desired not in ALL_STATUSES:
        raise StatusError(f'Invalid Job status: "{desired}"')
    if desired == current:
        return current
    if current in RUNNING and desired in INIT:
        raise StatusError(
            f'Cannot update running job status of "{current}" to init status of "{desired}"')
    if current == "stopped" and desired == "completed":
        return current
    if current in TERMINAL:
        raise StatusError(f'Cannot update terminal job status of "{current}" to "{desired}"')
    if current == "stopping" and desired not in TERMINAL:
        raise StatusError(f'Cannot update stopping job status of "{current}" to "{desired}"')
    return desired


def iso(epoch: float) -> str:
    """Format an epoch as the real server does: ISO-8601 UTC, milliseconds, `Z`."""
    whole = int(epoch)
    ms = int(round((epoch - whole) * 1000))
    if ms == 1000:
        whole, ms = whole + 1, 0
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole)) + f".{ms:03d}Z"
