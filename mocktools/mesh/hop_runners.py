"""The two executors of a hop's flow (hop_flow.py): blocking on the hop's thread, or on the loop.

`run_blocking` performs each effect where the hop runs (a worker or a werkzeug connection
thread): a fetch through the instance's `HopClient`, a wait on its `stopping` event, a fan-out
with all branches but the first on the mesh's call pool.

`LoopRunner` performs them on the instance's asyncio loop without ever blocking it: a fetch is a
non-blocking keep-alive connection (`LoopClient`), a wait a loop timer, a fan-out's branches run
side by side on the loop. `start` runs a hop until its first wait: a hop that needs none is
answered at once, any other returns a `Deferred` (http_connection) that the listener answers
when the flow ends; cancelling it (the server stops) cancels what the flow waits for.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..http_connection import Deferred
from .hop_client import HopError
from .hop_flow import Detach, Fetch, Flow, Hang, Together, Wait
from .loop_client import LoopClient

if TYPE_CHECKING:
    from .instance import ServiceInstance

__all__ = ["LoopRunner", "run_blocking"]


# ---- on the hop's own thread -----------------------------------------------------------------
def run_blocking(inst: ServiceInstance, flow: Flow) -> Any:
    """Perform the flow's effects here, blocking; returns what the flow returns."""
    value: Any = None
    send = flow.send
    while True:
        try:
            effect = send(value)
        except StopIteration as stop:
            return stop.value
        value = None
        if isinstance(effect, Fetch):
            try:
                value = inst.http.get(effect.host, effect.port, effect.path, effect.headers, effect.timeout)
            except HopError as exc:
                value = exc
        elif isinstance(effect, Wait):
            inst.stopping.wait(effect.seconds)
        elif isinstance(effect, Together):
            futures = [inst.link.submit(run_blocking, inst, f) for f in effect.flows[1:]]
            first = run_blocking(inst, effect.flows[0])  # this thread takes one branch itself
            value = [first, *(f.result() for f in futures)]
        elif isinstance(effect, Detach):
            inst.link.submit(_fire_and_forget, inst, effect.flow)
        elif isinstance(effect, Hang):
            _wait_any(effect.released, inst.stopping, effect.seconds)
        else:
            raise TypeError(f"a hop flow yielded {effect!r}")


def _fire_and_forget(inst: ServiceInstance, flow: Flow) -> None:
    try:
        run_blocking(inst, flow)
    except Exception as exc:  # noqa: BLE001 - nobody waits for an async call: keep it for check()
        inst.link.record_error(exc)


def _wait_any(first: Any, second: Any, seconds: float) -> None:
    """Wait until either event is set or ``seconds`` pass (a hang released by chaos or by stop).

    It sleeps on ``second`` (stopping), so stop() releases it at once; a chaos release is seen
    within 50 ms."""
    deadline = time.monotonic() + seconds
    while not first.is_set() and not second.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        second.wait(min(left, 0.05))


# ---- on the instance's event loop ------------------------------------------------------------
class LoopRunner:
    """Runs hop flows on one instance's loop (created there, on its first loop hop)."""

    def __init__(self, inst: ServiceInstance, loop: asyncio.AbstractEventLoop) -> None:
        self.inst, self.loop = inst, loop
        self.client = LoopClient(loop, inst.http)

    def start(self, flow: Flow) -> Any:
        """The flow's answer if it needs no wait, else a Deferred settled when it ends."""
        run = _LoopFlow(self, flow, None)
        run.step(None, None)
        if run.finished:
            if run.error is not None:
                raise run.error
            return run.result
        deferred = Deferred(on_cancel=run.cancel)
        run.on_done = lambda r: deferred.fail(r.error) if r.error is not None else deferred.resolve(r.result)
        return deferred

    def detach(self, flow: Flow) -> None:
        run = _LoopFlow(self, flow, self._forgotten)
        run.step(None, None)

    def _forgotten(self, run: _LoopFlow) -> None:
        if isinstance(run.error, Exception):  # nobody waits for an async call: keep it for check()
            self.inst.link.record_error(run.error)

    def close(self) -> None:
        """The instance stopped (its loop is done): close every connection still open."""
        self.client.close()


class _LoopFlow:
    """One flow being performed on the loop; `pending` is what it waits for (to cancel)."""

    __slots__ = ("children", "error", "finished", "flow", "left", "on_done", "pending", "result", "runner",
                 "starting")

    def __init__(self, runner: LoopRunner, flow: Flow, on_done: Any) -> None:
        self.runner, self.flow, self.on_done = runner, flow, on_done
        self.pending: Any = None
        self.children: list[_LoopFlow] = []
        self.left = 0
        self.starting = False
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None

    def step(self, value: Any, error: BaseException | None) -> None:
        flow = self.flow
        while True:
            try:
                effect = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                self._finish(stop.value, None)
                return
            except BaseException as exc:  # noqa: BLE001 - the flow's failure is its answer's
                self._finish(None, exc)
                return
            value, error = None, None
            if isinstance(effect, Fetch):
                try:
                    self.pending = self.runner.client.fetch(effect, self.fetched)
                    return
                except Exception as exc:  # noqa: BLE001 - sent back, as the blocking client raises it
                    value = exc
            elif isinstance(effect, Wait):
                self.pending = self.runner.loop.call_later(max(0.0, effect.seconds), self.woken)
                return
            elif isinstance(effect, Together):
                if self._fan_out(effect.flows):
                    return
                value, error = self._gathered()
            elif isinstance(effect, Detach):
                self.runner.detach(effect.flow)
            else:  # a chaos hang never runs on the loop (instance.serves_inline keeps it on a worker)
                error = RuntimeError(f"a hop flow on the loop yielded {effect!r}")

    # what the flow waited for arrived (loop thread)
    def fetched(self, got: Any) -> None:
        self.pending = None
        if not self.finished:
            self.step(got, None)

    def woken(self) -> None:
        self.pending = None
        if not self.finished:
            self.step(None, None)

    def _fan_out(self, flows: list[Flow]) -> bool:
        """Start the branches; True while some still run (the last one to end steps on)."""
        children = self.children = [_LoopFlow(self.runner, f, self._branch_done) for f in flows]
        self.left = len(children)
        self.starting = True
        for child in children:
            child.step(None, None)
        self.starting = False
        return self.left > 0

    def _branch_done(self, child: _LoopFlow) -> None:
        self.left -= 1
        if self.left == 0 and not self.starting and not self.finished:
            self.step(*self._gathered())

    def _gathered(self) -> tuple[Any, BaseException | None]:
        children, self.children = self.children, []
        for child in children:
            if child.error is not None:
                return None, child.error
        return [child.result for child in children], None

    def _finish(self, result: Any, error: BaseException | None) -> None:
        """Settle, then drop `on_done`: it holds the Deferred (or the parent) that holds this run,
        a cycle per hop that only the cyclic collector freed (~6 objects a hop; bench/README.md,
        the mesh's tail)."""
        self.finished = True
        self.result, self.error = result, error
        on_done, self.on_done = self.on_done, None
        if on_done is not None:
            on_done(self)

    def cancel(self) -> None:
        """Nobody waits for this flow any more: stop what it waits for and close it."""
        if self.finished:
            return
        self.finished = True
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.cancel()
        children, self.children = self.children, []
        for child in children:
            child.cancel()
        self.flow.close()
