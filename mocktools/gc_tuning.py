"""Opt-in garbage-collector tuning for a process whose job is serving mocks under load.

A full (generation-2) collection scans every object the collector tracks, and a process that has
imported mocktools, werkzeug and its clients tracks ~35,000 of them before it serves anything:
under load each full pass holds the GIL for 5-8 ms on a quiet core (25-40 ms on a loaded one),
which shows in the p99. `freeze_startup_objects()` moves what is alive now into the permanent
generation (`gc.freeze()`), so later passes only scan what was made since (issue 15: c=64 p99
31 -> 18 ms in one side-by-side run, longest full pass 39 -> 8 ms).

It changes the whole process (frozen objects are never collected, even if they become garbage),
so mocktools never does it on its own: call it yourself, or set `MOCKTOOLS_GC_FREEZE=1` and every
HTTP mock freezes once it listens (`mocktools serve`, a load-test harness). See docs/ofd.md.
"""
from __future__ import annotations

import gc
import os

ENV = "MOCKTOOLS_GC_FREEZE"


def freeze_startup_objects() -> int:
    """Collect once, then freeze everything alive; returns how many objects are frozen now."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def freeze_if_asked() -> bool:
    """Freeze when `$MOCKTOOLS_GC_FREEZE` is set to a true value ("1", "true", "yes", "on")."""
    if os.environ.get(ENV, "").strip().lower() not in ("1", "true", "yes", "on"):
        return False
    freeze_startup_objects()
    return True


__all__ = ["ENV", "freeze_if_asked", "freeze_startup_objects"]
