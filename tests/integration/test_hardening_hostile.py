"""Hostile-input suite: hypothesis over each HTTP mock's public JSON routes, through real sockets.

Every example asserts: no 5xx and no dropped connection, nothing kept for check(), the call was
journaled (exact counter), and what was recorded before the fuzzing is still there.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from mocktools.mesh import MockServiceMesh
from mocktools.ofd import MockOFDServer
from mocktools.otlp import MockOTLPCollector, samples
from mocktools.teraslice import MockTerasliceServer
from mocktools.vllm import MockVLLMServer

from .hostile_json import HOSTILE, NUMBERS, TEXT, VALUES, bodies, send

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore:Generating overly large repr")]


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _journaled(mock: Any, before: int) -> None:
    assert mock.journal.count(None) == before + 1  # the call is on record, whatever it carried
    assert mock.errors == []


# ---- OFD ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ofd() -> Iterator[MockOFDServer]:
    with MockOFDServer() as mock:
        requests.post(f"{mock.url}/ofd/v1/receipt", json={"document_id": "kept", "total": 1}, timeout=10)
        yield mock


OFD_RECEIPT = {"document_id": TEXT, "id": st.one_of(TEXT, NUMBERS), "total": NUMBERS, "items": VALUES,
               "fiscalDocumentNumber": st.one_of(TEXT, NUMBERS)}


@HOSTILE
@given(body=bodies(OFD_RECEIPT))
def test_ofd_hostile_receipts(ofd: MockOFDServer, http: requests.Session, body: Any) -> None:
    before = ofd.journal.count(None)
    send(http, "POST", f"{ofd.url}/ofd/v1/receipt", body)
    _journaled(ofd, before)
    assert ofd.ledger.get("kept") is not None
    assert http.get(f"{ofd.url}/ofd/v1/health", timeout=10).status_code == 200
    assert http.get(f"{ofd.url}/_mock/calls?limit=3", timeout=10).status_code == 200


# ---- OTLP --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def otlp() -> Iterator[MockOTLPCollector]:
    with MockOTLPCollector(grpc_port=None) as mock:
        kept = samples.trace_request([samples.span("kept", trace_id=b"\x01" * 16)], "kept-service")
        requests.post(mock.endpoint("traces"), data=kept.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
        yield mock


ANY_VALUE = st.one_of(st.fixed_dictionaries({"stringValue": TEXT}), st.fixed_dictionaries({"intValue": NUMBERS}),
                      st.fixed_dictionaries({"kvlistValue": VALUES}), VALUES)
ATTRS = st.lists(st.fixed_dictionaries({"key": TEXT, "value": ANY_VALUE}), max_size=3)
OTLP_SPAN = st.fixed_dictionaries({}, optional={"traceId": st.one_of(st.just("0af7651916cd43dd8448eb211c80319c"), TEXT),
                                                "spanId": st.one_of(st.just("b7ad6b7169203331"), TEXT),
                                                "parentSpanId": TEXT, "name": TEXT, "kind": NUMBERS,
                                                "startTimeUnixNano": st.one_of(NUMBERS, TEXT), "attributes": ATTRS,
                                                "status": VALUES, "events": VALUES})
OTLP_TRACES = {"resourceSpans": st.lists(st.fixed_dictionaries(
    {"resource": st.fixed_dictionaries({"attributes": ATTRS}),
     "scopeSpans": st.lists(st.fixed_dictionaries({"spans": st.lists(OTLP_SPAN, max_size=3)}), max_size=2)}),
    max_size=2)}


@HOSTILE
@given(signal=st.sampled_from(["traces", "metrics", "logs"]), body=bodies(OTLP_TRACES))
def test_otlp_hostile_exports(otlp: MockOTLPCollector, http: requests.Session, signal: str, body: Any) -> None:
    before = otlp.journal.count(None)
    answer = send(http, "POST", otlp.endpoint(signal), body)
    assert answer.status_code in (200, 400, 413, 415)
    _journaled(otlp, before)
    assert otlp.get_spans(name="kept")
    trace_ids = http.get(f"{otlp.url}/_mock/otlp/traces", timeout=10).json()["trace_ids"]
    for trace_id in trace_ids[-2:]:
        assert http.get(f"{otlp.url}/_mock/otlp/traces/{trace_id}", timeout=10).status_code == 200
    assert http.get(f"{otlp.url}/_mock/otlp/spans?limit=5", timeout=10).status_code == 200


# ---- vLLM --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vllm() -> Iterator[MockVLLMServer]:
    with MockVLLMServer(max_model_len=512) as mock:
        yield mock


MODEL = st.one_of(st.just("mock-llm"), TEXT)
MESSAGES = st.lists(st.fixed_dictionaries({"role": st.one_of(st.sampled_from(["user", "system", "assistant", "tool"]),
                                                             TEXT), "content": st.one_of(TEXT, VALUES)}), max_size=3)
VLLM_ROUTES = {
    "/v1/completions": {"model": MODEL, "prompt": st.one_of(TEXT, st.lists(TEXT, max_size=3), VALUES),
                        "max_tokens": NUMBERS, "n": NUMBERS, "stream": VALUES, "temperature": NUMBERS,
                        "logprobs": NUMBERS, "echo": VALUES, "stop": VALUES, "seed": NUMBERS},
    "/v1/chat/completions": {"model": MODEL, "messages": MESSAGES, "max_tokens": NUMBERS, "n": NUMBERS,
                             "stream": VALUES, "tools": VALUES, "tool_choice": VALUES, "response_format": VALUES,
                             "stream_options": VALUES, "logprobs": VALUES, "top_logprobs": NUMBERS},
    "/v1/embeddings": {"model": MODEL, "input": st.one_of(TEXT, st.lists(TEXT, max_size=3), VALUES),
                       "dimensions": NUMBERS, "encoding_format": VALUES},
    "/tokenize": {"model": MODEL, "prompt": TEXT, "messages": MESSAGES},
    "/detokenize": {"model": MODEL, "tokens": st.one_of(st.lists(NUMBERS, max_size=4), VALUES)},
}


@HOSTILE
@given(data=st.data())
def test_vllm_hostile_requests(vllm: MockVLLMServer, http: requests.Session, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(sorted(VLLM_ROUTES)))
    body = data.draw(bodies(VLLM_ROUTES[route]))
    before = vllm.journal.count(None)
    send(http, "POST", vllm.url + route, body)
    _journaled(vllm, before)
    assert http.get(f"{vllm.url}/v1/models", timeout=10).status_code == 200
    metrics = http.get(f"{vllm.url}/metrics", timeout=10).text
    assert re.search(r"^vllm:num_requests_running\{[^}]*\} 0\.0$", metrics, re.MULTILINE)  # no slot leaked


# ---- Teraslice ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def teraslice() -> Iterator[tuple[MockTerasliceServer, str, str]]:
    with MockTerasliceServer(seed=7) as mock:
        kept = mock.add_job({"name": "kept-job"})
        yield mock, kept["job_id"], kept["ex_id"]


JOB = {"name": TEXT, "operations": st.one_of(st.lists(st.fixed_dictionaries({"_op": TEXT}), max_size=3), VALUES),
       "workers": NUMBERS, "lifecycle": VALUES, "assets": VALUES, "slicers": NUMBERS, "active": VALUES,
       "job_id": TEXT}
TERASLICE_ACTIONS = ["_start", "_stop", "_pause", "_resume", "_recover", "_workers", "_settings", "_active",
                     "_inactive"]


@HOSTILE
@given(data=st.data())
def test_teraslice_hostile_requests(teraslice: tuple[MockTerasliceServer, str, str], http: requests.Session,
                                    data: st.DataObject) -> None:
    mock, job_id, ex_id = teraslice
    kind = data.draw(st.sampled_from(["submit", "update", "job_action", "ex_action"]))
    body = data.draw(bodies(JOB if kind in ("submit", "update") else {"workers": NUMBERS, "slicers": NUMBERS}))
    target = data.draw(st.one_of(st.just(job_id), TEXT.filter(lambda t: "/" not in t and "?" not in t)))
    if kind == "submit":
        method, path = "POST", "/v1/jobs"
    elif kind == "update":
        method, path = "PUT", f"/v1/jobs/{target}" if target != job_id else "/v1/jobs/none"
    elif kind == "job_action":
        method, path = "POST", f"/v1/jobs/{target}/{data.draw(st.sampled_from(TERASLICE_ACTIONS))}"
    else:
        method, path = "POST", f"/v1/ex/{ex_id if target == job_id else target}/_workers"
    before = mock.journal.count(None)
    send(http, method, mock.url + path, body)
    _journaled(mock, before)
    for listing in ("/v1/jobs", "/txt/jobs", "/v1/ex", "/txt/ex", f"/v1/jobs/{job_id}"):
        assert http.get(mock.url + listing, timeout=10).status_code == 200, listing
    assert mock.cluster.jobs[job_id].spec["name"] == "kept-job"


# ---- Mesh (Consul API and instances) -----------------------------------------------------------
@pytest.fixture(scope="module")
def mesh() -> Iterator[MockServiceMesh]:
    with MockServiceMesh({"services": {"api": {"calls": ["db:/q"]}, "db": {"endpoints": {"/q": {}}}}}) as mock:
        yield mock


SERVICE = {"Name": st.one_of(st.just("fuzz"), TEXT), "ID": TEXT, "Address": TEXT, "Port": NUMBERS,
           "Tags": VALUES, "Meta": VALUES, "Weights": VALUES, "Check": VALUES, "Checks": VALUES,
           "TaggedAddresses": VALUES, "Kind": VALUES}
CHECK = {"Name": TEXT, "ID": TEXT, "ServiceID": TEXT, "TTL": TEXT, "HTTP": TEXT, "Interval": TEXT,
         "Status": TEXT, "DeregisterCriticalServiceAfter": TEXT}


@HOSTILE
@given(data=st.data())
def test_mesh_hostile_registrations(mesh: MockServiceMesh, http: requests.Session, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(["/v1/agent/service/register", "/v1/agent/check/register",
                                       "/v1/agent/check/update/fuzz"]))
    body = data.draw(bodies(SERVICE if route.endswith("service/register") else CHECK))
    before = mesh.journal.count(None)
    send(http, "PUT", mesh.url + route, body)
    _journaled(mesh, before)
    services = http.get(f"{mesh.url}/v1/agent/services", timeout=10).json()
    assert {"api", "db"} <= {s["Service"] for s in services.values()}
    hop = http.get(mesh.url_of("api") + "/", timeout=10)
    assert hop.status_code == 200 or "fuzz" in services or hop.status_code in (502, 503), hop.text[:200]
    assert http.get(f"{mesh.url}/v1/health/service/db", timeout=10).status_code == 200
    assert mesh.errors == [] and all(i.errors == [] for g in mesh.instances.values() for i in g)
