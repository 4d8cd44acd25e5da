"""MockServiceMesh numbers: start/stop time, requests/s across the mesh, discovery latency, tracing cost.

    .venv/bin/python -m bench.bench_mesh [--services 50] [--seconds 3] [--clients 4] [--only throughput|hop]
        [--cpu auto|N] [--loop-per-instance]

- start/stop: a generated layered mesh of --services services (2 instances each, ~2x ports).
- throughput: --clients keep-alive clients for --seconds against (a) one leaf instance (1 hop),
  (b) gateway /deep (5 hops in a chain), (c) gateway /checkout (30 hops, 4-way fan-out + async).
  "service requests/s" counts every service request served anywhere in the mesh: the server spans
  recorded in the window (exact totals, not edge requests x nominal hops), with the server spans
  that answered >= 500 and the edge's failures beside. The load comes from wrk in another process
  (--client wrk, the default when wrk is installed) or from requests.Session threads in the mesh's
  own process (--client threads: they then share its GIL). The mesh process's CPU and the client's
  are printed, so a client that is the limit shows.
- discovery: (a) in process: register -> visible in discover(); (b) over HTTP: a py-consul
  blocking health query parked on ?index= and a registration made through py-consul; (c)
  mesh.scale(+1) -> new instance visible to discovery.
- resilience: breaker decision time, state change -> listener, force-open over HTTP -> next call
  short-circuited, and /deep throughput with a breaker on every edge and chaos active.
- hop CPU: a leaf's inbound request through its WSGI app and one outbound call (blocking, and on
  an event loop as a hop on the asyncio engine makes it), CPU of one thread in process
  (time.thread_time).
- tracing: the per-hop tracing work in process (extract + child contexts + inject + 2 spans
  recorded), against the seed's 5 ms budget.
Client and mesh share the machine's 2 cores. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import consul
import requests

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.propagation import TraceContext, child_context, extract, inject
from mocktools.mesh.spans import MeshSpan, SpanStore
from mocktools.mesh.topology import layered_spec


def bench_start(services: int, rounds: int = 3) -> None:
    spec = layered_spec(services)
    n_inst = sum(s.instances for s in spec.services.values())
    starts, stops = [], []
    for _ in range(rounds):
        mesh = MockServiceMesh(layered_spec(services))
        t0 = time.perf_counter()
        mesh.start()
        starts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mesh.stop()
        stops.append(time.perf_counter() - t0)
    print(f"start {services} services / {n_inst} instances: median {statistics.median(starts) * 1000:.0f} ms "
          f"(min {min(starts) * 1000:.0f}); stop: median {statistics.median(stops) * 1000:.0f} ms")


def load(url: str, clients: int, seconds: float, cpu: list[float] | None = None) -> tuple[int, int, float]:
    """In-process load: `clients` threads with keep-alive requests.Sessions (ok, failed, seconds);
    each thread's own CPU time is appended to `cpu`."""
    stop = threading.Event()
    ok, bad = [0] * clients, [0] * clients

    def worker(i: int) -> None:
        t0 = time.thread_time()
        with requests.Session() as s:
            while not stop.is_set():
                if s.get(url, timeout=30).status_code < 400:
                    ok[i] += 1
                else:
                    bad[i] += 1
        if cpu is not None:
            cpu.append(time.thread_time() - t0)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(ok), sum(bad), time.perf_counter() - t0


WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(url: str, clients: int, seconds: float) -> dict[str, Any]:
    """Load from another process: wrk, `clients` keep-alive connections on 2 threads; its CPU
    is read from the children's rusage, so a client that is the limit shows."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_DONE)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                              "-s", f.name, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        os.unlink(f.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-300:]} {out.stderr[-300:]}")
    result: dict[str, Any] = json.loads(line[7:])
    result["client_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def measured(mesh: MockServiceMesh, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one load and count what the mesh served in that time: server spans (every service
    request, each counted once where it was served), the mesh process's CPU, and the load's own."""
    before, t0, cpu0 = mesh.spans.totals(), time.perf_counter(), os.times()
    result = run()
    took, cpu1, after = time.perf_counter() - t0, os.times(), mesh.spans.totals()
    served = after["server"] - before["server"]
    result.update(seconds=took, served=served, served_errors=after["server_error"] - before["server_error"],
                  process_cpu=(cpu1.user - cpu0.user) + (cpu1.system - cpu0.system))
    return result


def bench_throughput(mesh: MockServiceMesh, clients: int, seconds: float, client: str) -> None:
    targets = [("db /query", mesh.url_of("db") + "/query", 1),
               ("gateway /deep", mesh.url_of("gateway") + "/deep", 5),
               ("gateway /checkout", mesh.url_of("gateway") + "/checkout", 30)]
    where = ("wrk in another process" if client == "wrk" else "requests.Session threads in this process")
    loops = "one loop thread for all instances" if mesh.instance_loop.loop is not None else "a thread per instance"
    print(f"throughput: {clients} keep-alive clients ({where}), {seconds:g} s per target, {loops}, instance threads "
          f"on {'CPU ' + str(mesh.cpu) if mesh.cpu is not None else 'any CPU'}; "
          f"'service requests' = server spans recorded in the window")
    for label, url, hops in targets:
        load(url, clients, min(0.5, seconds))  # warm the connection pools
        if client == "wrk":
            r = measured(mesh, functools.partial(wrk_load, url, clients, seconds))
            edge, failed, took = r["requests"], r["errors"], r["duration_us"] / 1e6
            mesh_cpu, client_cpu = r["process_cpu"], r["client_cpu"]
            extra = f", p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms"
        else:
            def threads(url: str = url) -> dict[str, Any]:
                cpu: list[float] = []
                ok, bad, took = load(url, clients, seconds, cpu)
                return {"ok": ok, "bad": bad, "took": took, "client_cpu": sum(cpu)}
            r = measured(mesh, threads)
            edge, failed, took = r["ok"] + r["bad"], r["bad"], r["took"]
            client_cpu = r["client_cpu"]  # the client threads' own CPU (time.thread_time)
            mesh_cpu = r["process_cpu"] - client_cpu
            extra = f", {took / max(edge, 1) * clients * 1000:.2f} ms mean latency"
        served = r["served"]
        print(f"  {label:<18} ({hops:>2} hops/request): {edge / took:7.0f} req/s at the edge, "
              f"{served / r['seconds']:7.0f} service requests/s across the mesh ({served / max(edge, 1):.1f} per "
              f"edge request), {failed} failed at the edge, {r['served_errors']} server spans >= 500; "
              f"CPU: mesh process {mesh_cpu / r['seconds']:.2f} cores = {mesh_cpu / max(served, 1) * 1e6:.0f} us "
              f"per service request, client {client_cpu / r['seconds']:.2f} cores{extra}")
        mesh.spans.clear()


def bench_hop_cpu(mesh: MockServiceMesh, n: int = 3000) -> None:
    """CPU per hop in process, one thread (time.thread_time): a leaf's inbound request through its
    WSGI app (no engine, no socket), and one outbound call as the calling thread pays it (the
    callee serves it on its own threads over a real socket)."""
    from werkzeug.test import EnvironBuilder

    from mocktools.mesh.spec import CallSpec

    db, leaf = mesh.instances["db"][0], mesh.instances["leaf-0"][0]
    ctx = child_context(None)
    headers = {**inject(ctx), "X-Mesh-Hops": "3", "X-Mesh-Caller": "leaf-0", "User-Agent": "bench"}
    environs = [EnvironBuilder(path="/query", headers=list(headers.items())).get_environ() for _ in range(n)]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        return lambda data: None

    t0 = time.thread_time()
    for environ in environs:
        body = db.wsgi_app(environ, start_response)
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()
    inbound = (time.thread_time() - t0) / n
    call = CallSpec("db", "/query")
    for _ in range(200):
        leaf.call(call, ctx, 3)
    t0 = time.thread_time()
    for _ in range(n):
        leaf.call(call, ctx, 3)
    outbound = (time.thread_time() - t0) / n
    on_loop = _loop_call_cpu(leaf, call, ctx, n)
    print(f"CPU per hop in process: inbound leaf through its WSGI app {inbound * 1e6:.1f} us; outbound call, "
          f"the caller's thread (HopClient, syscalls included) {outbound * 1e6:.1f} us; the same call made on "
          f"an event loop (LoopClient, the loop's own overhead included) {on_loop * 1e6:.1f} us")
    mesh.spans.clear()


def _loop_call_cpu(inst: Any, call: Any, ctx: TraceContext, n: int) -> float:
    """CPU of the loop thread per call when `n` calls run one after another on a loop of its own
    (as a hop on its instance's loop makes them: hop_runners.LoopRunner), after 200 to warm up."""
    import asyncio

    from mocktools.mesh.hop_flow import call as call_flow
    from mocktools.mesh.hop_runners import LoopRunner

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = LoopRunner(inst, loop)
    done, took = threading.Event(), [0.0]

    def run(left: int, t0: float | None = None) -> None:
        t0 = time.thread_time() if t0 is None else t0
        while left:
            left -= 1
            answer = runner.start(call_flow(inst, call, ctx, 3))
            if hasattr(answer, "then"):  # a Deferred: go on once it is settled
                answer.then(functools.partial(run, left, t0))
                return
        took[0] = time.thread_time() - t0
        done.set()

    for count in (200, n):
        done.clear()
        loop.call_soon_threadsafe(run, count)
        done.wait(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    runner.close()
    loop.close()
    return took[0] / n


def bench_discovery(mesh: MockServiceMesh, rounds: int = 50) -> None:
    lat = []
    for i in range(rounds):
        t0 = time.perf_counter()
        mesh.registry.register({"name": "probe", "id": f"probe-{i}", "port": 1000 + i})
        while not any(e.id == f"probe-{i}" for e in mesh.discover("probe")):
            pass
        lat.append(time.perf_counter() - t0)
    print(f"discovery in process (register -> discover): median {statistics.median(lat) * 1e6:.0f} us, "
          f"max {max(lat) * 1e6:.0f} us")
    c = consul.Consul(port=mesh.port)
    lat = []
    for i in range(rounds):
        index, _ = c.health.service("probe2", passing=True)
        got: dict[str, float] = {}

        def block(idx: str = index, got: dict[str, float] = got) -> None:
            c2 = consul.Consul(port=mesh.port)
            c2.health.service("probe2", index=idx, wait="10s", passing=True)
            got["t"] = time.perf_counter()

        t = threading.Thread(target=block)
        t.start()
        mesh.registry.wait_for_waiters(1)
        t0 = time.perf_counter()
        c.agent.service.register("probe2", service_id=f"probe2-{i}", port=2000 + i)
        t.join()
        lat.append(got["t"] - t0)
    print(f"discovery over HTTP (py-consul register -> blocking health query returns): "
          f"median {statistics.median(lat) * 1000:.2f} ms, max {max(lat) * 1000:.2f} ms")
    lat = []
    for _ in range(5):
        t0 = time.perf_counter()
        mesh.scale("leaf-1", 3)
        lat.append(time.perf_counter() - t0)
        mesh.scale("leaf-1", 2)
    print(f"scale +1 instance (start + register, visible to discovery): median {statistics.median(lat) * 1000:.1f} ms")


def bench_tracing(n: int = 20_000) -> None:
    store = SpanStore(max_traces=1000)
    parent = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, (("congo", "t61rcWkgMzE"),))
    headers = inject(parent)
    t0 = time.perf_counter()
    for _ in range(n):
        incoming = extract(headers, b3=True, jaeger=True)
        ctx = child_context(incoming.context)
        store.add(MeshSpan(ctx.trace_id, ctx.span_id, parent.span_id, "GET /", "svc", "svc-0", "/", "server", 0.0))
        client = child_context(ctx)
        inject(client)
        store.add(MeshSpan(client.trace_id, client.span_id, ctx.span_id, "call", "svc", "svc-0", "/", "client", 0.0))
    per_hop = (time.perf_counter() - t0) / n
    print(f"tracing work per hop (extract+validate, 2 child contexts, inject, 2 spans stored): "
          f"{per_hop * 1e6:.1f} us (budget 5 ms, goal < 200 us)")


def bench_resilience(services: int, clients: int, seconds: float, n: int = 100_000) -> None:
    from mocktools.clock import SystemClock
    from mocktools.mesh.circuit_breaker import BreakerConfig, CircuitBreaker

    b = CircuitBreaker("a->b", BreakerConfig(window_size=100, minimum_calls=100), SystemClock())
    t0 = time.perf_counter()
    for i in range(n):
        if b.try_acquire():
            b.record(i % 10 == 0, 0.001)
    print(f"breaker decision (try_acquire + record, CLOSED): {(time.perf_counter() - t0) / n * 1e6:.2f} us "
          f"(seed budget 50 ms)")
    spec = layered_spec(services)
    spec.breakers = {"default": {"window_size": 20, "minimum_calls": 10, "wait_duration": 1}}
    with MockServiceMesh(spec, seed=1) as mesh:
        fired: list[float] = []
        mesh.breakers.add_listener(lambda e: fired.append(time.perf_counter()))
        lat = []
        for _ in range(20):
            br = mesh.breakers.get("x", "y")
            for _ in range(99):
                br.record(False)
            t0 = time.perf_counter()
            br.transition_to_open("bench")
            lat.append(fired[-1] - t0)
            br.reset()
        print(f"breaker state change -> listener notified: median {statistics.median(lat) * 1e6:.1f} us")
        with requests.Session() as s:
            url = mesh.url_of("gateway") + "/deep"
            s.get(url)
            t0 = time.perf_counter()
            s.post(f"{mesh.url}/_mock/mesh/breakers/gateway->api-0/force-open")
            short = s.get(url).json()["calls"][0].get("short_circuited")
            print(f"force-open over HTTP -> next call short-circuited ({short}): "
                  f"{(time.perf_counter() - t0) * 1000:.2f} ms")
            s.post(f"{mesh.url}/_mock/mesh/breakers/gateway->api-0/reset")
        mesh.chaos.error_rate(service="db", rate=0.1)
        mesh.chaos.latency(edge="leaf-0->db", distribution="uniform", low=0.0, high=0.001)
        before = mesh.spans.totals()
        ok, bad, took = load(mesh.url_of("gateway") + "/deep", clients, seconds)
        after = mesh.spans.totals()
        print(f"with breakers on every edge + chaos (10% db errors, edge latency): gateway /deep "
              f"{(ok + bad) / took:.0f} req/s at the edge ({bad} failed as injected), "
              f"{(after['server'] - before['server']) / took:.0f} service requests/s across the mesh "
              f"(server spans; {after['server_error'] - before['server_error']} answered >= 500; "
              f"clients: threads in this process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--client", choices=["wrk", "threads"], default="wrk" if shutil.which("wrk") else "threads",
                        help="load from wrk in another process (default when installed) or from threads in this one")
    parser.add_argument("--only", choices=["throughput", "hop"], help="run only that section")
    parser.add_argument("--cpu", default=None,
                        help="MockServiceMesh(cpu_affinity=): 'auto' or a CPU number keeps the instances' threads on it")
    parser.add_argument("--loop-per-instance", action="store_true",
                        help="MockServiceMesh(shared_loop=False): a loop thread per instance (asyncio engine)")
    args = parser.parse_args()
    cpu = None if args.cpu is None else (args.cpu if args.cpu == "auto" else int(args.cpu))
    shared = not args.loop_per_instance
    if args.only:
        with MockServiceMesh(layered_spec(args.services), cpu_affinity=cpu, shared_loop=shared) as mesh:
            if args.only == "hop":
                bench_hop_cpu(mesh)
            else:
                bench_throughput(mesh, args.clients, args.seconds, args.client)
        return
    bench_tracing()
    bench_start(args.services)
    with MockServiceMesh(layered_spec(args.services), cpu_affinity=cpu, shared_loop=shared) as mesh:
        bench_hop_cpu(mesh)
        bench_throughput(mesh, args.clients, args.seconds, args.client)
        bench_discovery(mesh)
    bench_resilience(args.services, args.clients, args.seconds)


if __name__ == "__main__":
    main()
