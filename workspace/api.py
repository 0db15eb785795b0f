"""The REST API under ``/api/v1``. Every route calls a ``Cellwright`` method.

Authentication: a per-user API key (``Authorization: Bearer cw_…`` or ``X-API-Key``).
Every object is scoped to its owner: another user's id is a 404.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator

from cells import document as documents
from cells.models import MAX_TAG_LENGTH, ScenarioDocument, normal_tag
from connectors.sdk import InvalidInputError
from engine.service import Cellwright, NotFound
from storage import MAX_SEARCH_LENGTH
from workspace.api_models import (
    AccountDeleteIn,
    AppOut,
    AuditPage,
    CalledInputOut,
    CellResultOut,
    ConnectionIn,
    ConnectionOut,
    ConnectionPatch,
    DataRecordIn,
    DataRecordOut,
    DataRecordPage,
    DataStoreExport,
    DataStoreIn,
    DataStoreOut,
    ErasureIn,
    ErrorBody,
    ExecutionOut,
    ExecutionPage,
    OptionOut,
    PublishIn,
    RerunIn,
    ResumeIn,
    RetentionIn,
    RunCellIn,
    RunIn,
    ScenarioOut,
)
from workspace.audit_export import entry_out, to_csv, to_json
from workspace.guards import API_USER, StrictJSONRoute
from workspace.ratelimit import Limiter, too_many

bearer = HTTPBearer(
    auto_error=False, description="An API key: cellwright apikey, or Settings → API keys."
)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "The body cannot be read: not JSON, or not UTF-8 (error: invalid_body).",
    },
    401: {"model": ErrorBody, "description": "Missing or invalid API key."},
    404: {"model": ErrorBody, "description": "No such object (or not yours)."},
    409: {
        "model": ErrorBody,
        "description": "The object's state does not allow it (e.g. a connection that scenarios "
        "use), or a limit is reached (error: limit_exceeded, e.g. records per "
        "data store).",
    },
    413: {"model": ErrorBody, "description": "The body is over CELLWRIGHT_REQUEST_MAX_BYTES."},
    429: {
        "model": ErrorBody,
        "description": "Over CELLWRIGHT_API_RATE_LIMIT requests per minute (error: rate_limited); "
        "Retry-After says when to try again.",
    },
    422: {
        "model": ErrorBody,
        "description": "Invalid input: which field and why (also an app, operation or setting "
        "this server does not have).",
    },
    502: {
        "model": ErrorBody,
        "description": "A call to a vendor that the request needed failed (error: upstream_error, "
        "network_error or rate_limited), e.g. registering a webhook when enabling a scenario.",
    },
    504: {
        "model": ErrorBody,
        "description": "A call to a vendor that the request needed ran past its time limit "
        "(error: timeout).",
    },
}
"""Every error an API route can answer, in one shape (``ErrorBody``); the OpenAPI description
lists them."""
DB_INT = 2**31 - 1
"""The largest version number the store holds (an SQL INTEGER)."""
DB_BIGINT = 2**63 - 1
"""The largest offset the store's queries take (an SQL BIGINT)."""


def service(request: Request) -> Cellwright:
    svc: Cellwright = request.app.state.cellwright
    return svc


Service = Annotated[Cellwright, Depends(service)]


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_api_key: Annotated[
        str | None, Header(description="An API key (alternative to Authorization: Bearer).")
    ] = None,
) -> Any:
    user = request.scope.get(API_USER)  # checked by RequestLimits before the body was read
    if user is None:
        key = credentials.credentials if credentials else x_api_key
        user = service(request).accounts.user_for_api_key(key) if key else None
    if user is None:
        raise HTTPException(
            401,
            detail={
                "error": "unauthorized",
                "message": "Send a valid API key: Authorization: Bearer <key>.",
            },
            headers={"WWW-Authenticate": "Bearer"},
        )
    limiter: Limiter | None = getattr(request.app.state, "api_limiter", None)
    wait = limiter.retry_after(user.id) if limiter is not None else 0
    if wait:
        raise HTTPException(
            429,
            detail=too_many("the REST API", limiter.per_minute, "CELLWRIGHT_API_RATE_LIMIT", wait),
            headers={"Retry-After": str(wait)},
        )
    return user


User = Annotated[Any, Depends(current_user)]
router = APIRouter(prefix="/api/v1", responses=ERRORS, route_class=StrictJSONRoute)


def scenario_out(svc: Cellwright, scenario: Any, *, with_document: bool = True) -> ScenarioOut:
    data = scenario.to_dict()
    return ScenarioOut(
        **{
            k: data.get(k)
            for k in (
                "id",
                "name",
                "description",
                "tags",
                "status",
                "status_reason",
                "version",
                "live_version",
                "created_at",
                "updated_at",
                "last_run",
            )
        },
        webhook_url=svc.webhook_url(scenario),
        document=data.get("document") if with_document else None,
    )


def connection_out(svc: Cellwright, user: Any, connection: Any) -> dict[str, Any]:
    """A connection as the API shows it; ``events_url`` for apps whose vendor sends all of
    a connection's events to one URL (Slack)."""
    app = svc.apps.get(connection.app_id) if connection.app_id in svc.apps else None
    events_url = (
        svc.connection_events_url(user.id, connection.id)
        if app is not None and app.connection_webhook
        else None
    )
    return {**connection.to_dict(), "events_url": events_url}


# -- apps ------------------------------------------------------------------------------


@router.get("/apps", response_model=list[AppOut], tags=["apps"], summary="The app catalog")
def list_apps(svc: Service, _: User) -> list[dict[str, Any]]:
    return [app.describe() for app in svc.apps]


@router.get("/apps/{key}", response_model=AppOut, tags=["apps"])
def get_app(key: str, svc: Service, _: User) -> dict[str, Any]:
    if key not in svc.apps:
        raise NotFound(f"No app '{key}'.")
    return svc.apps.get(key).describe()


@router.get(
    "/apps/{key}/operations/{operation}/fields/{field}/options",
    response_model=list[OptionOut],
    tags=["apps"],
    summary="The choices of an ID field, listed through one of your connections",
    description="For fields whose input schema names an option source (``x-options``): a Slack "
    "channel, a monday.com board, a Stripe price… Each option is a value for the "
    "field and a label. ``field`` may be dotted for a field of list items "
    "(``line_items.price``). The field still accepts any value and {{ }} references.",
)
async def field_options(
    key: str,
    operation: str,
    field: str,
    svc: Service,
    user: User,
    connection: Annotated[
        str | None,
        Query(description="Your connection to list through (required for apps with a connection)."),
    ] = None,
    values: Annotated[
        str | None,
        Query(
            description="The other fields' values as a JSON object, for choices that depend on "
            'one, e.g. {"board_id": "123"}.'
        ),
    ] = None,
) -> list[dict[str, Any]]:
    given = _json_object(values, "values") if values else {}
    return [
        o.to_dict() for o in await svc.options(user.id, key, operation, field, connection, given)
    ]


def _json_object(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidInputError(
            f'{name} must be a JSON object, e.g. {{"board_id": "123"}}.',
            errors=[{"field": name, "message": "not a JSON object"}],
        )
    return value


# -- connections -----------------------------------------------------------------------


@router.get("/connections", response_model=list[ConnectionOut], tags=["connections"])
def list_connections(svc: Service, user: User, app: str | None = None) -> list[dict[str, Any]]:
    return [connection_out(svc, user, c) for c in svc.connections.for_user(user.id, app_id=app)]


@router.post(
    "/connections",
    response_model=ConnectionOut,
    status_code=201,
    tags=["connections"],
    summary="Create a connection (runs its test call)",
)
async def create_connection(body: ConnectionIn, svc: Service, user: User) -> dict[str, Any]:
    connection = await svc.create_connection(
        user.id,
        body.app,
        credentials=body.credentials,
        name=body.name,
        sandbox=body.sandbox,
        auth_type=body.auth_type,
    )
    return connection_out(svc, user, connection)


@router.get("/connections/{connection_id}", response_model=ConnectionOut, tags=["connections"])
def get_connection(connection_id: str, svc: Service, user: User) -> dict[str, Any]:
    return connection_out(svc, user, svc.connections.get(user.id, connection_id))


@router.patch("/connections/{connection_id}", response_model=ConnectionOut, tags=["connections"])
async def update_connection(
    connection_id: str, body: ConnectionPatch, svc: Service, user: User
) -> dict[str, Any]:
    connection = await svc.update_connection(
        user.id, connection_id, name=body.name, credentials=body.credentials
    )
    return connection_out(svc, user, connection)


@router.post(
    "/connections/{connection_id}/test", response_model=ConnectionOut, tags=["connections"]
)
async def test_connection(connection_id: str, svc: Service, user: User) -> dict[str, Any]:
    return connection_out(svc, user, await svc.test_connection(user.id, connection_id))


@router.delete(
    "/connections/{connection_id}",
    status_code=204,
    tags=["connections"],
    responses={409: {"model": ErrorBody}},
)
def delete_connection(connection_id: str, svc: Service, user: User) -> Response:
    svc.delete_connection(user.id, connection_id)
    return Response(status_code=204)


# -- scenarios -------------------------------------------------------------------------


@router.get(
    "/schema/scenario.json", tags=["scenarios"], summary="The JSON Schema of scenario documents"
)
def scenario_schema() -> dict[str, Any]:
    return documents.json_schema()


@router.get(
    "/scenarios",
    response_model=list[ScenarioOut],
    tags=["scenarios"],
    summary="Your scenarios, most recently changed first",
)
def list_scenarios(
    svc: Service,
    user: User,
    name: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Only scenarios whose name contains this text (case-insensitive).",
        ),
    ] = None,
    tag: Annotated[
        str | None,
        Query(
            max_length=MAX_TAG_LENGTH,
            description="Only scenarios with this tag (compared lower-cased).",
        ),
    ] = None,
) -> list[ScenarioOut]:
    chosen = normal_tag(tag) if tag is not None else None
    return [
        scenario_out(svc, s, with_document=False)
        for s in svc.scenarios.for_user(user.id, name=name, tag=chosen)
    ]


@router.post(
    "/scenarios",
    response_model=ScenarioOut,
    status_code=201,
    tags=["scenarios"],
    summary="Import a scenario document",
)
def create_scenario(doc: ScenarioDocument, svc: Service, user: User) -> ScenarioOut:
    return scenario_out(svc, svc.import_scenario(user.id, doc, imported=True))


@router.get("/scenarios/{scenario_id}", response_model=ScenarioOut, tags=["scenarios"])
def get_scenario(scenario_id: str, svc: Service, user: User) -> ScenarioOut:
    return scenario_out(svc, svc.scenario(user.id, scenario_id))


@router.put(
    "/scenarios/{scenario_id}",
    response_model=ScenarioOut,
    tags=["scenarios"],
    summary="Save a new version",
)
def update_scenario(
    scenario_id: str, doc: ScenarioDocument, svc: Service, user: User
) -> ScenarioOut:
    return scenario_out(svc, svc.import_scenario(user.id, doc, scenario_id=scenario_id))


@router.delete("/scenarios/{scenario_id}", status_code=204, tags=["scenarios"])
async def delete_scenario(scenario_id: str, svc: Service, user: User) -> Response:
    await svc.delete_scenario(user.id, scenario_id)
    return Response(status_code=204)


@router.get(
    "/scenarios/{scenario_id}/export",
    tags=["scenarios"],
    summary="The scenario as a YAML or JSON file",
    response_class=Response,
    responses={
        200: {
            "description": "The scenario document: YAML (format=yaml) or JSON (format=json).",
            "content": {
                "application/yaml": {"schema": {"$ref": "#/components/schemas/ScenarioDocument"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/ScenarioDocument"}},
            },
        }
    },
)
def export_scenario(
    scenario_id: str, svc: Service, user: User, format: Literal["yaml", "json"] = "yaml"
) -> Response:
    text = svc.export_scenario(user.id, scenario_id)
    if format == "json":
        import json

        return Response(json.dumps(yaml.safe_load(text), indent=2), media_type="application/json")
    return Response(text, media_type="application/yaml")


@router.post(
    "/scenarios/{scenario_id}/publish",
    response_model=ScenarioOut,
    tags=["scenarios"],
    summary="Publish a saved version (what the trigger runs)",
    description="Makes a saved version (default: the latest) the live one. An enabled scenario "
    "whose trigger changed is re-armed (vendor webhooks, schedules).",
)
async def publish_scenario(
    scenario_id: str,
    svc: Service,
    user: User,
    body: PublishIn | None = None,
    version: Annotated[
        int | None,
        Query(
            ge=1,
            le=DB_INT,
            description="The saved version to publish (or in the body); default: the latest.",
        ),
    ] = None,
) -> ScenarioOut:
    chosen = body.version if body is not None and body.version is not None else version
    return scenario_out(svc, await svc.publish(user.id, scenario_id, chosen))


@router.post(
    "/scenarios/{scenario_id}/enable",
    response_model=ScenarioOut,
    tags=["scenarios"],
    summary="Enable (publishes the latest version if none is live)",
)
async def enable_scenario(scenario_id: str, svc: Service, user: User) -> ScenarioOut:
    return scenario_out(svc, await svc.enable(user.id, scenario_id))


@router.post("/scenarios/{scenario_id}/disable", response_model=ScenarioOut, tags=["scenarios"])
async def disable_scenario(scenario_id: str, svc: Service, user: User) -> ScenarioOut:
    return scenario_out(svc, await svc.disable(user.id, scenario_id))


@router.post(
    "/scenarios/{scenario_id}/run",
    response_model=ExecutionOut,
    tags=["scenarios"],
    summary="Run the latest saved version now with trigger data",
)
async def run_scenario(scenario_id: str, body: RunIn, svc: Service, user: User) -> dict[str, Any]:
    if body.wait:
        return await svc.run_now(user.id, scenario_id, body.trigger_data)
    scenario = svc.scenario(user.id, scenario_id)
    execution, _ = await svc.trigger(
        scenario, body.trigger_data, version=scenario.version
    )  # a test run: the latest saved version
    return svc.execution(user.id, execution.id)


@router.get(
    "/scenarios/{scenario_id}/called-inputs",
    response_model=list[CalledInputOut],
    tags=["scenarios"],
    summary="The inputs a callable scenario declares (what a Run scenario cell passes)",
)
def called_inputs(scenario_id: str, svc: Service, user: User) -> list[dict[str, Any]]:
    return svc.callable_inputs(user.id, scenario_id)


@router.post(
    "/scenarios/{scenario_id}/cells/{cell_id}/run",
    response_model=CellResultOut,
    tags=["scenarios"],
    summary="Run one cell with this input",
)
async def run_one_cell(
    scenario_id: str, cell_id: str, body: RunCellIn, svc: Service, user: User
) -> dict[str, Any]:
    saved = svc.document(
        user.id, scenario_id
    )  # also for an unsaved draft: the scenario must be the user's
    doc = documents.parse(body.document, source="document") if body.document is not None else saved
    result = await svc.run_cell(
        user.id, doc, cell_id, {"trigger": body.trigger, "steps": body.steps}
    )
    return result.to_dict()


# -- executions ------------------------------------------------------------------------


def _not_a_number(value: Any) -> Any:
    """pydantic reads ``0.5`` or ``1714560000`` as a Unix time; the API takes ISO 8601 only,
    so a number sent by mistake (seconds? milliseconds?) is refused instead of guessed."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError(
            f"'{value}' is a number; give a date and time in ISO 8601, e.g. 2024-05-01T12:00:00Z"
        )
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]


@router.get("/executions", response_model=ExecutionPage, tags=["executions"])
def list_executions(
    svc: Service,
    user: User,
    scenario_id: str | None = None,
    status: Literal["queued", "running", "waiting", "completed", "failed", "cancelled"]
    | None = None,
    since: Annotated[
        IsoDateTime | None,
        Query(description="Created at or after (ISO 8601; UTC when no offset is given)."),
    ] = None,
    until: Annotated[
        IsoDateTime | None,
        Query(description="Created before (ISO 8601; UTC when no offset is given)."),
    ] = None,
    search: Annotated[
        str | None,
        Query(
            max_length=MAX_SEARCH_LENGTH,
            description="Only executions whose trigger data contains this text "
            "(case-insensitive; keys and values).",
        ),
    ] = None,
    parent_execution_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only the runs this execution's Run scenario cells called (sub-scenarios).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=DB_BIGINT)] = 0,
) -> dict[str, Any]:
    filters = {
        "parent_execution_id": parent_execution_id,
        "scenario_id": scenario_id,
        "status": status,
        "since": _utc(since),
        "until": _utc(until),
        "search": search,
    }
    items = svc.list_executions(user.id, limit=limit, offset=offset, **filters)
    return {
        "items": items,
        "total": svc.executions.count(user.id, **filters),
        "limit": limit,
        "offset": offset,
    }


def _utc(value: datetime | None) -> datetime | None:
    """Query datetimes without an offset are UTC (the store refuses naive datetimes)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("/executions/{execution_id}", response_model=ExecutionOut, tags=["executions"])
def get_execution(execution_id: str, svc: Service, user: User) -> dict[str, Any]:
    return svc.execution(user.id, execution_id)


@router.post(
    "/executions/{execution_id}/rerun",
    response_model=ExecutionOut,
    status_code=202,
    tags=["executions"],
)
async def rerun_execution(
    execution_id: str, body: RerunIn, svc: Service, user: User
) -> dict[str, Any]:
    execution = await svc.rerun(
        user.id,
        execution_id,
        from_start=body.from_start,
        from_cell=body.from_cell,
        latest=body.latest,
    )
    return svc.execution(user.id, execution.id)


@router.post(
    "/executions/{execution_id}/resume",
    response_model=ExecutionOut,
    status_code=202,
    tags=["executions"],
)
async def resume_execution(
    execution_id: str, body: ResumeIn, svc: Service, user: User
) -> dict[str, Any]:
    """Answer the run's 'Wait for a call' cell as its owner (what a call to its
    resume URL does): 404 for another user's run, 409 when it takes no call."""
    return await svc.resume_execution(user.id, execution_id, body.body)


# -- data stores -----------------------------------------------------------------------

RecordKey = Annotated[str, Path(min_length=1, max_length=200, description="The record's key.")]


def data_store_out(store: Any) -> dict[str, Any]:
    data: dict[str, Any] = store.to_dict()
    return {k: data[k] for k in ("id", "name", "records", "created_at")}


def data_record_out(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = record.to_dict()
    return {k: data[k] for k in ("key", "value", "created_at", "updated_at")}


@router.get(
    "/data-stores",
    response_model=list[DataStoreOut],
    tags=["data stores"],
    summary="Your data stores, by name",
)
def list_data_stores(svc: Service, user: User) -> list[dict[str, Any]]:
    return [data_store_out(s) for s in svc.data_stores.for_user(user.id)]


@router.post(
    "/data-stores",
    response_model=DataStoreOut,
    status_code=201,
    tags=["data stores"],
    summary="Create a data store",
)
def create_data_store(body: DataStoreIn, svc: Service, user: User) -> dict[str, Any]:
    return data_store_out(svc.data_stores.create(user.id, body.name))


@router.get(
    "/data-stores/export",
    response_model=list[DataStoreExport],
    tags=["data stores"],
    summary="Every data store of yours with all its records",
)
def export_data_stores(svc: Service, user: User) -> list[dict[str, Any]]:
    return svc.data_stores.export(user.id)


@router.get("/data-stores/{store_id}", response_model=DataStoreOut, tags=["data stores"])
def get_data_store(store_id: str, svc: Service, user: User) -> dict[str, Any]:
    return data_store_out(svc.data_stores.get(user.id, store_id))


@router.delete(
    "/data-stores/{store_id}",
    status_code=204,
    tags=["data stores"],
    summary="Delete a data store with all its records",
)
def delete_data_store(store_id: str, svc: Service, user: User) -> Response:
    svc.data_stores.delete(user.id, store_id)
    return Response(status_code=204)


@router.get(
    "/data-stores/{store_id}/records",
    response_model=DataRecordPage,
    tags=["data stores"],
    summary="A data store's records, by key",
)
def list_data_records(
    store_id: str,
    svc: Service,
    user: User,
    prefix: Annotated[
        str | None,
        Query(max_length=200, description="Only records whose key starts with this text."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=DB_BIGINT)] = 0,
) -> dict[str, Any]:
    items = svc.data_stores.records(user.id, store_id, prefix=prefix, limit=limit, offset=offset)
    return {
        "items": [data_record_out(r) for r in items],
        "total": svc.data_stores.count(user.id, store_id, prefix=prefix),
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/data-stores/{store_id}/records/{key:path}", response_model=DataRecordOut, tags=["data stores"]
)
def get_data_record(store_id: str, key: RecordKey, svc: Service, user: User) -> dict[str, Any]:
    return data_record_out(svc.data_stores.get_record(user.id, store_id, key))


@router.put(
    "/data-stores/{store_id}/records/{key:path}",
    response_model=DataRecordOut,
    tags=["data stores"],
    summary="Set a record (created when the key is new)",
)
def put_data_record(
    store_id: str, key: RecordKey, body: DataRecordIn, svc: Service, user: User
) -> dict[str, Any]:
    return data_record_out(svc.data_stores.put_record(user.id, store_id, key, body.value))


@router.delete("/data-stores/{store_id}/records/{key:path}", status_code=204, tags=["data stores"])
def delete_data_record(store_id: str, key: RecordKey, svc: Service, user: User) -> Response:
    svc.data_stores.delete_record(user.id, store_id, key)
    return Response(status_code=204)


# -- audit trail -----------------------------------------------------------------------


def audit_filters(
    actor: Annotated[
        str | None, Query(max_length=64, description="Only entries by this user id.")
    ] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=100,
            description="An action (scenario.publish), or a group without a dot (scenario: every "
            "scenario.* action).",
        ),
    ] = None,
    object_type: Annotated[
        str | None, Query(max_length=64, description="Only entries about this kind of object.")
    ] = None,
    object_id: Annotated[
        str | None, Query(max_length=64, description="Only entries about this object.")
    ] = None,
    since: Annotated[
        IsoDateTime | None,
        Query(description="At or after (ISO 8601; UTC when no offset is given)."),
    ] = None,
    until: Annotated[
        IsoDateTime | None,
        Query(description="Before (ISO 8601; UTC when no offset is given)."),
    ] = None,
) -> dict[str, Any]:
    return {
        "actor_id": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "since": _utc(since),
        "until": _utc(until),
    }


AuditQuery = Annotated[dict[str, Any], Depends(audit_filters)]


@router.get(
    "/audit",
    response_model=AuditPage,
    tags=["audit"],
    summary="The audit trail, newest first",
    description="Administrators read every user's entries; anyone else only their own.",
)
def audit_trail(
    svc: Service,
    user: User,
    filters: AuditQuery,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=DB_BIGINT)] = 0,
) -> dict[str, Any]:
    entries = svc.accounts.audit_trail(user, limit=limit, offset=offset, **filters)
    return {"items": [entry_out(e) for e in entries], "limit": limit, "offset": offset}


@router.get(
    "/audit/export",
    tags=["audit"],
    summary="The audit trail as a CSV or JSON file",
    description="The same entries as GET /audit (administrators: every user's), up to `limit`, "
    "newest first.",
    response_class=Response,
    responses={
        200: {
            "description": "A file: CSV (format=csv) or a JSON list (format=json).",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/AuditEntryOut"},
                    }
                },
            },
        }
    },
)
def export_audit(
    svc: Service,
    user: User,
    filters: AuditQuery,
    format: Literal["csv", "json"] = "csv",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    entries = svc.accounts.audit_trail(user, limit=limit, **filters)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    disposition = {"Content-Disposition": f'attachment; filename="audit-{stamp}.{format}"'}
    if format == "json":
        return Response(to_json(entries), media_type="application/json", headers=disposition)
    return Response(to_csv(entries), media_type="text/csv; charset=utf-8", headers=disposition)


@router.get("/me", tags=["account"])
def me(user: User) -> dict[str, Any]:
    return user.to_dict()


# -- GDPR: export, deletion, erasure, retention ------------------------------------------

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Only administrators may do this (error: forbidden)."}
}


def _admin_only(user: Any, what: str) -> None:
    if not user.is_admin:
        raise HTTPException(
            403,
            detail={"error": "forbidden", "message": f"Only administrators can {what}."},
        )


def _chunks(file: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := file.read(size):
            yield chunk
    finally:
        file.close()


@router.get(
    "/account/export",
    tags=["account"],
    summary="Download all your data as a zip archive",
    description="Scenarios with every version, executions with their cell records, connections "
    "(without credentials), data stores with records, alert rules, API keys (name and prefix), "
    "and the audit entries about you; README.md and manifest.json describe the archive. "
    "Audited as account.export.",
    responses={200: {"content": {"application/zip": {}}, "description": "The archive."}},
)
def export_account(svc: Service, user: User) -> StreamingResponse:
    archive = tempfile.TemporaryFile()  # noqa: SIM115  # closed by _chunks when sent
    try:
        svc.privacy.export(user.id, archive)
        archive.seek(0)
    except BaseException:
        archive.close()
        raise
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    disposition = {"Content-Disposition": f'attachment; filename="cellwright-{stamp}.zip"'}
    return StreamingResponse(_chunks(archive), media_type="application/zip", headers=disposition)


@router.delete(
    "/account",
    tags=["account"],
    summary="Delete your account and all your data",
    description="Everything of yours goes (scenarios, executions, connections and their "
    "credentials, data stores, alert rules, API keys, analytics); the audit trail keeps its "
    "entries under your former, now meaningless, user id. The body's `confirm` must be your "
    "e-mail address. "
    "The last administrator cannot delete their account (409).",
)
async def delete_own_account(body: AccountDeleteIn, svc: Service, user: User) -> dict[str, Any]:
    if body.confirm.strip().lower() != user.email.lower():
        raise InvalidInputError(
            'To delete your account, send {"confirm": "<your e-mail address>"}.',
            errors=[{"field": "confirm", "message": "not your e-mail address"}],
        )
    return {"deleted": await svc.delete_account(user, user.id)}


@router.delete(
    "/users/{user_id}",
    tags=["account"],
    summary="Delete a user's account and all their data (administrators)",
    responses=FORBIDDEN,
)
async def delete_user(user_id: str, svc: Service, user: User) -> dict[str, Any]:
    _admin_only(user, "delete another user's account")
    return {"deleted": await svc.delete_account(user, user_id)}


@router.post(
    "/privacy/search",
    tags=["privacy"],
    summary="Find a value in every user's execution records (administrators)",
    description="Trigger data, errors, and every cell's input, output and error, matched as text "
    "case-insensitively. Returns how many executions hold it and the first `limit`. A POST so "
    "that the value stays out of URLs and access logs.",
    responses=FORBIDDEN,
)
def privacy_search(
    body: ErasureIn,
    svc: Service,
    user: User,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    _admin_only(user, "search every user's execution records")
    total, shown = svc.privacy.find(body.value, limit=limit)
    return {"count": total, "executions": [m.to_dict() for m in shown]}


@router.post(
    "/privacy/erase",
    tags=["privacy"],
    summary="Erase a value from every user's execution records (administrators)",
    description='Every occurrence is replaced by "[erased]" inside the records (the executions '
    "stay), and in the analytics log. Audited as privacy.erase with the counts and the value's "
    "SHA-256, never the value.",
    responses=FORBIDDEN,
)
def privacy_erase(body: ErasureIn, svc: Service, user: User) -> dict[str, Any]:
    _admin_only(user, "erase values from execution records")
    return svc.privacy.erase(user.id, body.value).to_dict()


def _retention_out(svc: Cellwright, user_id: str) -> dict[str, Any]:
    last = svc.retention.last_run()
    return {
        **svc.retention.policy(user_id).to_dict(),
        "last_run": None if last is None else {"at": last.at.isoformat(), **(last.details or {})},
    }


@router.get("/retention", tags=["account"], summary="Your retention policy and the last run")
def get_retention(svc: Service, user: User) -> dict[str, Any]:
    return _retention_out(svc, user.id)


@router.put(
    "/users/{user_id}/retention",
    tags=["account"],
    summary="Set a user's own retention periods (administrators)",
    responses=FORBIDDEN,
)
def set_retention(user_id: str, body: RetentionIn, svc: Service, user: User) -> dict[str, Any]:
    _admin_only(user, "change a user's retention period")
    svc.retention.set_policy(
        user.id,
        user_id,
        retention_days=body.retention_days,
        retention_failed_days=body.retention_failed_days,
    )
    return _retention_out(svc, user_id)
