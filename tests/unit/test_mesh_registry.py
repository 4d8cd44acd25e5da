"""The Consul-style registry model: registration, checks on a FakeClock, indexes, blocking, views."""

import threading
import time

import pytest

from mocktools.clock import FakeClock
from mocktools.mesh.discovery import (
    CRITICAL,
    MAINTENANCE,
    PASSING,
    WARNING,
    RegistrationError,
    ServiceRegistry,
    parse_duration,
)


def reg() -> tuple[ServiceRegistry, FakeClock]:
    clock = FakeClock()
    return ServiceRegistry(clock), clock


def test_register_with_py_consul_lowercase_keys():
    r, _ = reg()
    before = r.index
    e = r.register({"name": "web", "id": "web-1", "address": "10.0.0.1", "port": 8080, "tags": ["v1"],
                    "meta": {"k": "v"}, "weights": {"passing": 3, "warning": 1}, "enabletagoverride": True,
                    "tagged_addresses": {"lan": {"address": "10.0.0.1", "port": 8080}},
                    "checks": [{"ttl": "10s"}]})
    assert r.index > before and e.create_index == e.modify_index == r.index
    assert e.to_agent("dc1")["Weights"] == {"Passing": 3, "Warning": 1} and e.enable_tag_override
    assert e.tagged_addresses["lan"]["port"] == 8080 and e.url == "http://10.0.0.1:8080"
    check = r.checks()["service:web-1"]
    assert check.status == CRITICAL and check.ttl == 10 and check.service_name == "web"
    assert r.catalog_services() == {"web": ["v1"]}


def test_check_ids_and_initial_status():
    r, _ = reg()
    r.register({"Name": "api", "Checks": [{"TTL": "5s"}, {"HTTP": "http://x/h", "Interval": "10s", "Status": "passing"}]})
    checks = r.checks("api")
    assert set(checks) == {"service:api:1", "service:api:2"} and checks["service:api:2"].status == PASSING
    r.register({"Name": "db", "Check": {"TTL": "5s", "CheckID": "db-ttl"}})
    assert "db-ttl" in r.checks()


def test_ttl_expires_on_fake_clock_and_pass_resets():
    r, clock = reg()
    r.register({"name": "web", "id": "web-1", "checks": [{"ttl": "10s"}]})
    assert r.healthy("web") == []
    r.update_check("service:web-1", PASSING, "ok")
    assert [e.id for e in r.healthy("web")] == ["web-1"]
    clock.advance(9)
    assert r.healthy("web") and r.aggregated_status("web") == PASSING
    idx = r.index
    clock.advance(1.5)
    assert r.healthy("web") == [] and r.index > idx
    check = r.checks()["service:web-1"]
    assert check.status == CRITICAL and "TTL expired" in check.output
    r.update_check("service:web-1", PASSING)
    assert r.healthy("web")


def test_deregister_critical_service_after():
    r, clock = reg()
    r.register({"name": "w", "checks": [{"ttl": "1s", "DeregisterCriticalServiceAfter": "30s"}]})
    r.update_check("service:w", PASSING)
    clock.advance(2)
    assert r.get("w") is not None and r.aggregated_status("w") == CRITICAL
    clock.advance(30)
    assert r.get("w") is None and r.checks() == {}


def test_statuses_and_aggregate():
    r, _ = reg()
    for i in (1, 2):
        r.register({"name": "s", "id": f"s{i}", "check": {"ttl": "1m", "status": "passing"}})
    assert r.aggregated_status("s") == PASSING and r.aggregated_status("nope") is None
    r.update_check("service:s1", WARNING)
    assert r.aggregated_status("s") == WARNING and [e.id for e in r.healthy("s")] == ["s2"]
    r.set_maintenance("s2", True, "upgrading")
    assert r.aggregated_status("s") == MAINTENANCE and r.healthy("s") == []
    r.set_maintenance("s2", False)
    r.set_maintenance("s2", False)  # no-op
    r.update_check("service:s1", CRITICAL)
    assert r.aggregated_status("s") == CRITICAL
    with pytest.raises(KeyError):
        r.update_check("ghost", PASSING)
    with pytest.raises(KeyError):
        r.set_maintenance("ghost", True)
    with pytest.raises(RegistrationError):
        r.update_check("service:s1", "sunny")


def test_instances_filters_tags_and_passing():
    r, _ = reg()
    r.register({"name": "s", "id": "a", "tags": ["blue", "v1"]})
    r.register({"name": "s", "id": "b", "tags": ["green"], "check": {"ttl": "1s"}})
    assert [e.id for e, _ in r.instances("s")] == ["a", "b"]
    assert [e.id for e, _ in r.instances("s", tags=["blue"])] == ["a"]
    assert [e.id for e, _ in r.instances("s", passing=True)] == ["a"]


def test_deregister_and_reregister_keeps_check_state():
    r, _ = reg()
    r.register({"name": "s", "check": {"ttl": "1m"}})
    r.update_check("service:s", PASSING)
    r.register({"name": "s", "port": 99, "check": {"ttl": "1m"}})
    assert r.checks()["service:s"].status == PASSING and r.get("s").port == 99
    r.register({"name": "s", "check": {"ttl": "1m"}}, replace_existing_checks=True)
    assert r.checks()["service:s"].status == CRITICAL
    r.register_check({"Name": "extra", "ServiceID": "s", "TTL": "5s", "Status": "passing"})
    assert "extra" in r.checks("s")
    r.register({"name": "s"}, replace_existing_checks=True)
    assert r.checks("s") == {}
    assert r.deregister("s") and not r.deregister("s")
    assert r.catalog_services() == {}


def test_agent_level_checks():
    r, _ = reg()
    c = r.register_check({"Name": "node-disk", "TTL": "10s"})
    assert c.check_id == "node-disk" and c.service_id == ""
    assert r.deregister_check("node-disk") and not r.deregister_check("node-disk")
    with pytest.raises(RegistrationError, match="does not exist"):
        r.register_check({"Name": "x", "ServiceID": "ghost", "TTL": "1s"})
    with pytest.raises(RegistrationError):
        r.register_check({"TTL": "1s"})
    with pytest.raises(RegistrationError):
        r.register_check([])


@pytest.mark.parametrize("definition, message", [
    ([], "JSON object"), ({}, "Missing service name"), ({"name": "  "}, "Missing service name"),
    ({"name": "a", "id": 5}, "ID"), ({"name": "a", "port": 70000}, "port"), ({"name": "a", "port": "80"}, "port"),
    ({"name": "a", "address": 1}, "Address"), ({"name": "a", "tags": "x"}, "Tags"),
    ({"name": "a", "meta": {"k": 1}}, "Meta"), ({"name": "a", "meta": {f"k{i}": "v" for i in range(65)}}, "Meta"),
    ({"name": "a", "weights": {"passing": 0}}, "weight"), ({"name": "a", "tagged_addresses": []}, "TaggedAddresses"),
    ({"name": "a", "checks": {}}, "Checks"), ({"name": "a", "checks": [5]}, "check definition"),
    ({"name": "a", "checks": [{"notes": "x"}]}, "TTL, HTTP"), ({"name": "a", "checks": [{"ttl": "ten"}]}, "duration"),
    ({"name": "a", "checks": [{"ttl": "0s"}]}, "TTL must be"), ({"name": "a", "checks": [{"ttl": 10}]}, "duration"),
    ({"name": "a", "checks": [{"ttl": "1s", "status": "ok"}]}, "status"),
    ({"name": "a", "checks": [{"http": "x", "interval": "soon"}]}, "Interval"),
])
def test_malformed_registrations(definition, message):
    r, _ = reg()
    with pytest.raises(RegistrationError, match=message):
        r.register(definition)
    assert r.services() == {}


def test_parse_duration():
    assert parse_duration("1m30s") == 90 and parse_duration("250ms") == 0.25 and parse_duration("1h") == 3600
    assert parse_duration("1.5s") == 1.5 and parse_duration("10us") == pytest.approx(1e-5)
    for bad in ("", "10", "s", "10x", "1s2"):
        with pytest.raises(RegistrationError):
            parse_duration(bad)


def test_blocking_wait_wakes_on_change_within_ms():
    r, _ = reg()
    idx = r.service_index("web")
    woke = {}

    def waiter():
        t0 = time.perf_counter()
        woke["index"] = r.wait(idx, 300.0, name="web")
        woke["after"] = time.perf_counter() - t0

    t = threading.Thread(target=waiter)
    t.start()
    r.register({"name": "other"})  # another service does not wake a per-service query
    t.join(0.05)
    assert t.is_alive()
    r.register({"name": "web"})
    t.join(30)
    assert not t.is_alive() and woke["index"] > idx  # woken by the change: the wait itself is 300 s


def test_blocking_wait_times_out_and_close_wakes():
    r, _ = reg()
    idx = r.index
    assert r.wait(idx, 0.02) == idx
    stop = threading.Event()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("i", r.wait(idx, 30, stop=stop)))
    t.start()
    stop.set()
    r.close()
    t.join(2)
    assert not t.is_alive() and result["i"] == idx
    r.open()
    assert r.wait(idx - 1, 0) == idx


def test_wait_turns_ttl_critical():
    r, clock = reg()
    r.register({"name": "w", "check": {"ttl": "1s", "status": "passing"}})
    idx = r.service_index("w")
    clock.advance(2)
    assert r.wait(idx, 1.0, name="w") > idx


def test_partition_views():
    r, _ = reg()
    for i in range(3):
        r.register({"name": "db", "id": f"db-{i}"})
    r.hide("api", ["db-0", "db-1"])
    assert [e.id for e in r.healthy("db", caller="api")] == ["db-2"]
    assert len(r.healthy("db", caller="web")) == 3 and len(r.healthy("db")) == 3
    assert r.hidden() == {"api": ["db-0", "db-1"]}
    r.unhide("api")
    assert len(r.healthy("db", caller="api")) == 3
    r.hide("x", ["db-0"])
    r.unhide()
    assert r.hidden() == {} and r.describe()["services"] == 3
    r.reset()
    assert r.services() == {} and r.index == 1


def test_wait_for_waiters():
    r, _ = reg()
    with pytest.raises(TimeoutError):
        r.wait_for_waiters(1, timeout=0.01)
    t = threading.Thread(target=r.wait, args=(r.index, 5.0))
    t.start()
    r.wait_for_waiters(1)
    assert r.waiting == 1
    r.register({"name": "x"})
    t.join(5)
    assert r.waiting == 0
