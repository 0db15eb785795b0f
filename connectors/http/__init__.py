"""HTTP: call any API with a request you describe (method, URL, headers, body)."""

from __future__ import annotations

from connectors.http import actions
from connectors.http.schemas import RequestInput, RequestOutput
from connectors.sdk import Action, App, NoAuth, load_sample

request = Action(
    key="request",
    name="Make a request",
    description="Sends an HTTP request to any public URL and returns the status, "
    "headers and body of the answer. Private and loopback addresses are refused unless "
    "the operator allows them.",
    input=RequestInput,
    output=RequestOutput,
    sample=load_sample(__file__, "request"),
    perform=actions.request,
)

app = App(
    key="http",
    name="HTTP",
    description="Call any web API: GET, POST, PUT, PATCH, DELETE with headers, query and a JSON, "
    "form or raw body.",
    category="Built-in",
    icon="http",
    auth=NoAuth(),
    actions=(request,),
    builtin=True,
)
