"""gRPC servicers: translate QueryEngineService / ClusterService calls to the E6DataEngine.

Each handler reads the call metadata the client sends (``strategy``, ``authorization``,
``plannerip``, ``cluster-name``), calls the engine, and fills ``new_strategy`` on the response
while a switch is pending. ``EngineError.code`` becomes the gRPC status code, its message the
details - so a strategy mismatch answers exactly ``UNKNOWN`` / ``"status: 456"``.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable

import grpc

from ._generated import cluster_pb2 as cpb
from ._generated import cluster_pb2_grpc, e6x_engine_pb2_grpc
from ._generated import e6x_engine_pb2 as pb
from .engine import E6DataEngine, EngineError


class CallInfo:
    """The metadata of one call, read once."""

    __slots__ = ("strategy", "bearer", "planner_ip", "cluster")

    def __init__(self, context: grpc.ServicerContext) -> None:
        headers = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        self.strategy = headers.get("strategy")
        auth = headers.get("authorization", "")
        self.bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        self.planner_ip = headers.get("plannerip")
        self.cluster = headers.get("cluster-name")


def rpc(announce: bool = True) -> Callable:
    """Run a handler with CallInfo; EngineError -> abort; optionally set new_strategy."""

    def decorate(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def wrapper(self: "EngineServicer", request: Any, context: grpc.ServicerContext) -> Any:
            response = handler(self, request, CallInfo(context))  # EngineError: the listener aborts
            if announce:
                pending = self.engine.announcement()
                if pending:
                    response.new_strategy = pending
            return response

        return wrapper

    return decorate


class EngineServicer(e6x_engine_pb2_grpc.QueryEngineServiceServicer):
    """QueryEngineService on top of an E6DataEngine."""

    def __init__(self, engine: E6DataEngine) -> None:
        self.engine = engine

    # -- session ---------------------------------------------------------------------------
    @rpc()
    def authenticate(self, request: Any, info: CallInfo) -> Any:
        session = self.engine.authenticate(request.user, request.password, info.strategy)
        return pb.AuthenticateResponse(sessionId=session.id, engineIP=self.engine.engine_ip)

    @rpc(announce=False)
    def dropUserContext(self, request: Any, info: CallInfo) -> Any:
        with self.engine._lock:
            self.engine.sessions.pop(request.sessionId, None)
        return pb.DropUserContextResponse()

    # -- query lifecycle -------------------------------------------------------------------
    def _prepare(self, request: Any, info: CallInfo, catalog: str) -> Any:
        query = self.engine.prepare(request.sessionId, request.queryString, schema=request.schema,
                                    catalog=catalog, strategy_header=info.strategy, bearer=info.bearer)
        return pb.PrepareStatementResponse(engineIP=self.engine.engine_ip, queryId=query.id,
                                           sessionId=request.sessionId)

    @rpc()
    def prepareStatement(self, request: Any, info: CallInfo) -> Any:
        return self._prepare(request, info, "")

    @rpc()
    def prepareStatementV2(self, request: Any, info: CallInfo) -> Any:
        return self._prepare(request, info, request.catalog)

    @rpc()
    def executeStatement(self, request: Any, info: CallInfo) -> Any:
        self.engine.execute(request.sessionId, request.queryId, info.strategy, info.bearer)
        return pb.ExecuteStatementResponse(sessionId=request.sessionId)

    @rpc()
    def executeStatementV2(self, request: Any, info: CallInfo) -> Any:
        params = [(p.index, p.type, p.value) for p in request.params]
        self.engine.execute(request.sessionId, request.queryId, info.strategy, info.bearer, params)
        return pb.ExecuteStatementResponse(sessionId=request.sessionId)

    @rpc()
    def getResultMetadata(self, request: Any, info: CallInfo) -> Any:
        blob = self.engine.metadata(request.sessionId, request.queryId, info.strategy, info.bearer)
        return pb.GetResultMetadataResponse(resultMetaData=blob, sessionId=request.sessionId)

    @rpc()
    def getNextResultBatch(self, request: Any, info: CallInfo) -> Any:
        blob = self.engine.next_batch(request.sessionId, request.queryId, info.strategy, info.bearer)
        return pb.GetNextResultBatchResponse(resultBatch=blob, sessionId=request.sessionId)

    @rpc()
    def getNextResultBatchV2(self, request: Any, info: CallInfo) -> Any:
        blobs, done = self.engine.next_batches(request.sessionId, request.queryId, info.strategy, info.bearer)
        return pb.GetNextResultBatchV2Response(resultBatches=blobs, sessionId=request.sessionId,
                                               endOfStream=done)

    def _close(self, request: Any, info: CallInfo, cancel: bool, method: str) -> None:
        self.engine.close_query(request.sessionId, request.queryId, info.strategy, info.bearer,
                                cancel=cancel, method=method)

    @rpc()
    def clearOrCancelQuery(self, request: Any, info: CallInfo) -> Any:
        self._close(request, info, False, "clearOrCancelQuery")
        return pb.ClearOrCancelQueryResponse(sessionId=request.sessionId)

    @rpc()
    def clear(self, request: Any, info: CallInfo) -> Any:
        self._close(request, info, False, "clear")
        return pb.ClearResponse(sessionId=request.sessionId)

    @rpc()
    def cancelQuery(self, request: Any, info: CallInfo) -> Any:
        self._close(request, info, True, "cancelQuery")
        return pb.CancelQueryResponse(sessionId=request.sessionId)

    @rpc()
    def status(self, request: Any, info: CallInfo) -> Any:
        done, rows = self.engine.query_status(request.sessionId, request.queryId, info.strategy, info.bearer)
        return pb.StatusResponse(status=done, rowCount=rows, sessionId=request.sessionId)

    @rpc()
    def explain(self, request: Any, info: CallInfo) -> Any:
        plan = self.engine.explain(request.sessionId, request.queryId, info.strategy, info.bearer)
        return pb.ExplainResponse(explain=plan, sessionId=request.sessionId)

    @rpc()
    def explainAnalyze(self, request: Any, info: CallInfo) -> Any:
        plan = self.engine.explain(request.sessionId, request.queryId, info.strategy, info.bearer)
        return pb.ExplainAnalyzeResponse(explainAnalyze=plan, isCached=False, parsingTime=1, queueingTime=0,
                                         sessionId=request.sessionId)

    @rpc(announce=False)
    def getDynamicParams(self, request: Any, info: CallInfo) -> Any:
        query = self.engine._query(request.sessionId, request.queryId, info.strategy, "getDynamicParams",
                                   info.bearer)
        params = [pb.ParameterValue(index=i, type=t, value=v) for i, t, v in query.params]
        return pb.GetDynamicParamsResponse(params=params, sessionId=request.sessionId)

    @rpc(announce=False)
    def identifyPlanner(self, request: Any, info: CallInfo) -> Any:
        self.engine._enter(request.sessionId, info.strategy, "identifyPlanner", info.bearer)
        existing = request.existingQuery if request.HasField("existingQuery") else pb.ExistingQuery()
        return pb.IdentifyPlannerResponse(existingQuery=existing, plannerIp=self.engine.engine_ip,
                                          queueMessage=pb.IdentifyPlannerResponse.GO_AHEAD,
                                          sessionId=request.sessionId)

    @rpc(announce=False)
    def dryRun(self, request: Any, info: CallInfo) -> Any:
        value = self.engine.dry_run(request.sessionId, request.queryString, request.schema, "",
                                    info.strategy, info.bearer)
        return pb.DryRunResponse(dryrunValue=value)

    @rpc(announce=False)
    def dryRunV2(self, request: Any, info: CallInfo) -> Any:
        value = self.engine.dry_run(request.sessionId, request.queryString, request.schema, request.catalog,
                                    info.strategy, info.bearer)
        return pb.DryRunResponse(dryrunValue=value)

    # -- catalog ---------------------------------------------------------------------------
    @rpc()
    def getSchemaNamesV2(self, request: Any, info: CallInfo) -> Any:
        names = self.engine.list_schemas(request.sessionId, request.catalog, info.strategy, info.bearer)
        return pb.GetSchemaNamesResponse(schemas=names, sessionId=request.sessionId)

    @rpc()
    def getSchemaNames(self, request: Any, info: CallInfo) -> Any:
        names = self.engine.list_schemas(request.sessionId, "", info.strategy, info.bearer)
        return pb.GetSchemaNamesResponse(schemas=names, sessionId=request.sessionId)

    @rpc()
    def getTablesV2(self, request: Any, info: CallInfo) -> Any:
        names = self.engine.list_tables(request.sessionId, request.schema, request.catalog, info.strategy,
                                        info.bearer)
        return pb.GetTablesResponse(tables=names, sessionId=request.sessionId)

    @rpc()
    def getTables(self, request: Any, info: CallInfo) -> Any:
        names = self.engine.list_tables(request.sessionId, request.schema, "", info.strategy, info.bearer)
        return pb.GetTablesResponse(tables=names, sessionId=request.sessionId)

    @rpc()
    def getColumnsV2(self, request: Any, info: CallInfo) -> Any:
        cols = self.engine.list_columns(request.sessionId, request.schema, request.table, request.catalog,
                                        info.strategy, info.bearer)
        return pb.GetColumnsResponse(fieldInfo=[pb.GFieldInfo(fieldName=n, fieldType=t) for n, t in cols],
                                     sessionId=request.sessionId)

    @rpc()
    def getColumns(self, request: Any, info: CallInfo) -> Any:
        cols = self.engine.list_columns(request.sessionId, request.schema, request.table, "",
                                        info.strategy, info.bearer)
        return pb.GetColumnsResponse(fieldInfo=[pb.GFieldInfo(fieldName=n, fieldType=t) for n, t in cols],
                                     sessionId=request.sessionId)

    @rpc(announce=False)
    def getCataloges(self, request: Any, info: CallInfo) -> Any:
        return pb.GetCatalogesResponse(catalogResponses=[
            pb.CatalogResponse(name=n, isDefault=d) for n, d in self.engine.list_catalogs(info.strategy)])

    @rpc(announce=False)
    def addCatalogs(self, request: Any, info: CallInfo) -> Any:
        self.engine._enter(request.sessionId, info.strategy, "addCatalogs", info.bearer)
        try:
            spec = json.loads(request.json or "{}")
        except ValueError as exc:
            raise EngineError("INVALID_ARGUMENT", f"addCatalogs: malformed json ({exc})") from exc
        entries = spec.get("catalogs", []) if isinstance(spec, dict) else spec
        for entry in entries if isinstance(entries, list) else []:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if isinstance(name, str) and name:
                self.engine.catalog.add_catalog(name)
        return pb.AddCatalogsResponse(sessionId=request.sessionId)

    @rpc(announce=False)
    def getAddCatalogsResponse(self, request: Any, info: CallInfo) -> Any:
        self.engine._enter(request.sessionId, info.strategy, "getAddCatalogsResponse", info.bearer)
        return pb.GetAddCatalogsResponse(status="success", sessionId=request.sessionId)

    @rpc(announce=False)
    def refreshCatalogs(self, request: Any, info: CallInfo) -> Any:
        self.engine._enter(request.sessionId, info.strategy, "refreshCatalogs", info.bearer)
        return pb.RefreshCatalogsResponse(sessionId=request.sessionId)

    # -- housekeeping ----------------------------------------------------------------------
    @rpc(announce=False)
    def healthCheck(self, request: Any, info: CallInfo) -> Any:
        self.engine._require_active()
        return pb.HealthCheckResponse()

    @rpc(announce=False)
    def analyzeQuery(self, request: Any, info: CallInfo) -> Any:
        self.engine._require_active()
        return pb.AnalyzeQueryResponse()

    @rpc(announce=False)
    def syncSchemas(self, request: Any, info: CallInfo) -> Any:
        self.engine._require_active()
        return pb.SyncSchemaResponse()

    @rpc(announce=False)
    def setProps(self, request: Any, info: CallInfo) -> Any:
        self.engine._enter(request.sessionId, info.strategy, "setProps", info.bearer)
        return pb.SetPropsResponse()

    @rpc(announce=False)
    def updateUsers(self, request: Any, info: CallInfo) -> Any:
        self.engine._require_active()
        return pb.UpdateUsersResponse()


def _not_supported(name: str) -> Callable:
    def handler(self: EngineServicer, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not supported by the e6data mock")

    handler.__name__ = name
    return handler


# DataFrame and remote-cache RPCs: no DB-API path calls them; answer a clear UNIMPLEMENTED.
for _name in ("getNextRemoteCachedChunk", "createDataFrame", "projectionOnDataFrame", "aggregateOnDataFrame",
              "filterOnDataFrame", "orderByOnDataFrame", "limitOnDataFrame", "executeDataFrame"):
    setattr(EngineServicer, _name, _not_supported(_name))


class ClusterServicer(cluster_pb2_grpc.ClusterServiceServicer):
    """ClusterService: status / resume / suspend, used by the client's auto-resume."""

    def __init__(self, engine: E6DataEngine) -> None:
        self.engine = engine

    def _run(self, context: grpc.ServicerContext, action: Callable[[], str]) -> str:
        return action()  # an EngineError is aborted with its code by the gRPC listener

    def status(self, request: Any, context: grpc.ServicerContext) -> Any:
        info = CallInfo(context)
        return cpb.ClusterStatusResponse(status=self._run(context, lambda: self.engine.cluster_status(info.strategy)))

    def resume(self, request: Any, context: grpc.ServicerContext) -> Any:
        info = CallInfo(context)

        def go() -> str:
            self.engine.cluster_status(info.strategy)
            return self.engine.resume_cluster()

        return cpb.ResumeResponse(status=self._run(context, go))

    def suspend(self, request: Any, context: grpc.ServicerContext) -> Any:
        info = CallInfo(context)

        def go() -> str:
            self.engine.cluster_status(info.strategy)
            self.engine.suspend_cluster()
            return "suspended"

        return cpb.SuspendResponse(status=self._run(context, go))


def add_to_server(engine: E6DataEngine, server: grpc.Server) -> None:
    e6x_engine_pb2_grpc.add_QueryEngineServiceServicer_to_server(EngineServicer(engine), server)
    cluster_pb2_grpc.add_ClusterServiceServicer_to_server(ClusterServicer(engine), server)
