"""The served OpenAPI description and the API's answers agree: schemathesis generates
requests from ``/api/v1/openapi.json`` (valid ones and invalid ones) for every operation
and checks each answer against the description.

Bounded and reproducible: a fixed number of examples per operation, derandomized, no
example database. Each operation runs twice: with generated ids (mostly 404s) and with
the ids of a scenario, a connection and an execution that exist, so the routes behind
the 404s answer too.

One test walks every operation (rather than schemathesis' pytest plugin, whose
fixture-based loader does not run on pytest 9) and reports every failing operation at
once. ``positive_data_acceptance`` is not among the checks: what a scenario document
must satisfy beyond its schema (unique cell ids, references to earlier cells, a
trigger's inputs) cannot be said in JSON Schema, so such documents get a documented 422.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connectors.registry import Registry
from engine.service import Cellwright
from engine.settings import Settings
from workspace.server import create_app

EXAMPLES = 12
"""Per operation and per kind of ids (generated, existing): about 36 x 2 x 12 requests."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SCENARIO = {
    "name": "Contract",
    "cells": [
        {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
        {
            "id": "a",
            "kind": "action",
            "app": "probe",
            "operation": "count",
            "inputs": {"value": "{{ trigger.n }}"},
        },
    ],
}


class Started:
    """The app with a lifespan that starts the service (scheduler off) on the event loop
    that serves the requests (schemathesis runs ASGI apps on one loop of its own)."""

    def __init__(self, app: Any, svc: Cellwright) -> None:
        self.app = app
        self.svc = svc

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.svc.start(scheduler=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.svc.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


@dataclass
class Api:
    schema: Any
    app: Started
    key: str

    def existing_ids(self) -> dict[str, str]:
        """A new scenario, connection and execution (an
        earlier example may have deleted the last ones)."""
        with asgi.get_client(self.app) as http:
            http.headers["Authorization"] = f"Bearer {self.key}"
            scenario = http.post("/api/v1/scenarios", json=SCENARIO).json()
            connection = http.post(
                "/api/v1/connections",
                json={"app": "keyed", "credentials": {"api_key": "k"}, "sandbox": True},
            ).json()
            execution = http.post(
                f"/api/v1/scenarios/{scenario['id']}/run", json={"trigger_data": {"n": 1}}
            ).json()
        return {
            "scenario_id": scenario["id"],
            "connection_id": connection["id"],
            "execution_id": execution["id"],
            "cell_id": "a",
            "key": "probe",
            "app": "keyed",
        }


@pytest.fixture
def api(make_settings: Callable[..., Settings], registry: Registry) -> Iterator[Api]:
    svc = Cellwright(make_settings(), apps=registry)
    user = svc.store.create_user("ada@example.com", name="Ada")
    key, _ = svc.store.create_api_key(user.id, "contract")
    app = Started(create_app(svc, start=False), svc)
    config = SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"HTTPBearer": {"bearer": key}}},
            # unknown query parameters are ignored, as HTTP APIs do: not "invalid data"
            "generation": {"allow-extra-parameters": False},
        }
    )
    schema = schemathesis.openapi.from_asgi(
        "/api/v1/openapi.json", app, config=config
    )  # starts the lifespan
    try:
        yield Api(schema, app, key)
    finally:
        asgi.shutdown_lifespans()
        svc.close()


def test_every_operation_answers_what_the_openapi_description_says(api: Api) -> None:
    failures: dict[str, BaseException] = {}
    operations = [result.ok() for result in api.schema.get_all_operations()]
    assert len(operations) >= 35  # every route in the description is exercised
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        variants: list[tuple[str, dict[str, str] | None]] = [("generated ids", None)]
        if names:
            variants.append(
                ("existing ids", {k: v for k, v in api.existing_ids().items() if k in names})
            )
        for label, fixed in variants:
            strategy = st.one_of(
                *(
                    operation.as_strategy(mode, path_parameters=fixed)
                    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                )
            )

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                if case.operation.label == "POST /api/v1/connections" and isinstance(
                    case.body, dict
                ):
                    case.body["sandbox"] = (
                        True  # a connection's test call must not leave this machine
                    )
                case.call_and_validate(checks=CHECKS)

            try:
                check()
            except (
                Exception,
                BaseExceptionGroup,
            ) as exc:  # schemathesis' FailureGroup: one per operation
                failures[f"{operation.label} ({label})"] = exc
    assert not failures, "\n\n".join(f"{label}:\n{exc}" for label, exc in failures.items())
