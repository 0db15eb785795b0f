"""JSON answers, in the API's error shape ``{"error", "message"}``, for what the routing
layer refuses before a route runs: an unknown path (404), a method the path does not take
(405, with an ``Allow`` header listing every method the path does take), a body that is
not JSON or not UTF-8 (400).

Starlette answers these with ``{"detail": …}`` and, for 405, an ``Allow`` header naming
only the first route that matched the path (``/scenarios/{id}`` has a GET, a PUT and a
DELETE route, but a PATCH was told ``Allow: GET``).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match

__all__ = ["allowed_methods", "invalid_body", "invalid_body_answer", "routing_error"]


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: Any, scope: dict[str, Any]) -> list[str]:
    """Every method some route of ``app`` serves at the request's path, sorted. Asked of
    the routes themselves (``matches``), so routes of included routers count too."""
    routes = getattr(app, "routes", [])
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "type": "http", "method": method})[0] is Match.FULL
            for route in routes
        )
    ]


def invalid_body_answer(detail: str | None = None) -> dict[str, str]:
    """The 400 answer's body when the request body cannot be read as JSON (``detail``:
    the parser's complaint; None: not UTF-8)."""
    what = (
        f"The request body is not valid JSON ({detail})."
        if detail
        else "The request body cannot be read: it is not JSON encoded as UTF-8."
    )
    return {
        "error": "invalid_body",
        "message": f"{what} Send a JSON object with Content-Type: application/json.",
    }


def invalid_body(detail: str | None = None) -> JSONResponse:
    """400: the body cannot be read as JSON (``detail``: the parser's complaint)."""
    return JSONResponse(invalid_body_answer(detail), status_code=400)


def routing_error(request: Request, exc: HTTPException) -> JSONResponse:
    """The API's answer for an ``HTTPException`` whose detail is a plain string."""
    path, method = request.url.path, request.method
    if exc.status_code == 404:
        return JSONResponse(
            {
                "error": "not_found",
                "message": f"Nothing is served at {path}. The API's operations are listed at "
                "/api/v1/docs.",
            },
            status_code=404,
            headers=exc.headers,
        )
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, dict(request.scope))
        message = (
            f"{path} does not take {method}; it takes {', '.join(allowed)}."
            if allowed
            else f"{path} does not take {method}."
        )
        headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
        return JSONResponse(
            {"error": "method_not_allowed", "message": message}, status_code=405, headers=headers
        )
    if (
        exc.status_code == 400 and exc.detail == "There was an error parsing the body"
    ):  # FastAPI's words for an undecodable body
        return invalid_body()
    return JSONResponse(
        {"error": "http_error", "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=exc.headers,
    )
