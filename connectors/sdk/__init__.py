"""The app SDK: everything an app package imports."""

from connectors.sdk.app import App
from connectors.sdk.auth import (
    ApiKeyAuth,
    ApiKeyFields,
    AuthKind,
    BasicAuth,
    BasicFields,
    CustomAuth,
    NoAuth,
    OAuth2Auth,
    secret_value,
)
from connectors.sdk.context import HOPS_HEADER, OperationContext
from connectors.sdk.errors import (
    AssistantError,
    AssistantUnavailableError,
    AuthError,
    AuthExpiredError,
    CallTimeoutError,
    CellwrightError,
    ConfigurationError,
    ForbiddenDestinationError,
    HaltError,
    InvalidInputError,
    InvalidOutputError,
    MappingError,
    NetworkError,
    RateLimitedError,
    ResultNotSavedError,
    RunAbandonedError,
    UpstreamError,
    WebhookVerificationError,
)
from connectors.sdk.http import ConnectorHttp, build_http
from connectors.sdk.netguard import NetworkPolicy
from connectors.sdk.operations import (
    Action,
    AnyOutput,
    InstantTrigger,
    ManualTrigger,
    NoInput,
    Operation,
    Polled,
    PollingTrigger,
    ScheduleTrigger,
    Trigger,
    load_sample,
)
from connectors.sdk.options import Option, OptionSource, dynamic
from connectors.sdk.rest import rest
from connectors.sdk.webhooks import (
    ConnectionWebhook,
    IncomingRequest,
    WebhookReply,
    constant_time_equals,
    hmac_hex,
)

__all__ = [
    "Action", "AnyOutput", "ApiKeyAuth", "ApiKeyFields", "App", "AssistantError", "AssistantUnavailableError", "AuthError", "AuthExpiredError",
    "AuthKind", "BasicAuth", "BasicFields", "HOPS_HEADER", "CallTimeoutError", "CellwrightError",
    "ConfigurationError", "ConnectionWebhook", "ConnectorHttp", "CustomAuth", "ForbiddenDestinationError", "HaltError",
    "IncomingRequest", "InstantTrigger", "InvalidInputError", "InvalidOutputError", "ManualTrigger",
    "MappingError", "NetworkError", "NetworkPolicy", "NoAuth", "NoInput", "OAuth2Auth",
    "Operation", "Option", "OptionSource", "OperationContext", "Polled", "PollingTrigger", "RateLimitedError", "ResultNotSavedError", "RunAbandonedError", "ScheduleTrigger",
    "Trigger", "UpstreamError", "WebhookReply", "WebhookVerificationError", "build_http",
    "constant_time_equals", "dynamic", "hmac_hex", "load_sample", "rest", "secret_value",
]
