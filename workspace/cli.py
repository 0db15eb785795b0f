"""The ``cellwright`` command. Users script against it: keep it stable.

Every command prints one clear line to stderr and exits non-zero on bad input —
never a traceback.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cells import document as documents
from connectors.sdk import CellwrightError

EXIT_FAILED = 1
EXIT_INVALID = 2
DEMO_ECHO_PATH = "/demo/echo"


def _settings(data_dir: Path | None, **extra: Any) -> Any:
    from engine.settings import Settings

    kwargs: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        kwargs["data_dir"] = data_dir
    return Settings(**kwargs)


@contextmanager
def _app(data_dir: Path | None, **extra: Any) -> Iterator[Any]:
    from engine.service import Cellwright
    from storage import audit_origin

    with audit_origin("cli"):  # what the command changes is audited as done from the CLI
        svc = Cellwright(_settings(data_dir, **extra))
        try:
            yield svc
        finally:
            svc.close()


def _fail(message: str, code: int = EXIT_INVALID) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into one line on stderr."""

    import functools

    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CellwrightError as exc:
            _fail(exc.message)
        except ValidationError as exc:  # a CELLWRIGHT_* setting that does not parse
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            _fail(f"invalid setting — {problems}")
        except SQLAlchemyError as exc:  # a bad CELLWRIGHT_DATABASE_URL, an unreachable server
            _fail(f"cannot use the store: {_first_line(exc)}")
        except (OSError, ValueError) as exc:
            _fail(_first_line(exc))

    return wrapper


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="CELLWRIGHT_DATA_DIR",
    help="Where the store lives (default ~/.cellwright; env CELLWRIGHT_DATA_DIR).",
)


def ssl_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--ssl-certfile`` and ``--ssl-keyfile``: serve HTTPS."""
    fn = click.option(
        "--ssl-keyfile",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="CELLWRIGHT_SSL_KEYFILE",
        help="PEM private key of --ssl-certfile (env CELLWRIGHT_SSL_KEYFILE).",
    )(fn)
    return click.option(
        "--ssl-certfile",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="CELLWRIGHT_SSL_CERTFILE",
        help="Serve HTTPS with this PEM certificate (chain) (env CELLWRIGHT_SSL_CERTFILE).",
    )(fn)


def _check_tls(settings: Any) -> None:
    """Refuse, in one sentence, a certificate and key that cannot serve HTTPS."""
    import ssl

    cert, key = settings.ssl_certfile, settings.ssl_keyfile
    if cert is None and key is None:
        return
    if cert is None or key is None:
        _fail("--ssl-certfile and --ssl-keyfile go together: give both, or neither.")
    for option, path in (("--ssl-certfile", cert), ("--ssl-keyfile", key)):
        try:
            Path(path).open("rb").close()
        except FileNotFoundError:
            _fail(f"{option}: {path} does not exist.")
        except IsADirectoryError:
            _fail(f"{option}: {path} is a directory, not a PEM file.")
        except OSError as exc:
            _fail(f"{option}: {path} cannot be read ({exc.strerror}).")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            _fail(f"--ssl-keyfile: {key} is not the private key of the certificate {cert}.")
        _fail(
            f"--ssl-certfile/--ssl-keyfile: {cert} and {key} are not a PEM certificate and "
            f"its unencrypted PEM private key ({exc.reason or exc})."
        )


def _uvicorn_options(settings: Any) -> dict[str, Any]:
    """What ``serve`` and ``webhooks`` tell uvicorn: HTTPS, and whose proxy headers count."""
    options: dict[str, Any] = {
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies),
    }
    if settings.ssl_certfile is not None:
        options["ssl_certfile"] = str(settings.ssl_certfile)
        options["ssl_keyfile"] = str(settings.ssl_keyfile)
    return options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="cellwright")
def main() -> None:
    """Cellwright: build integrations cell by cell."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every request's full URL at INFO, query string included (a webhook or API
    # URL may carry a token): keep it quiet even when an operator raises the root level
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@data_dir_option
@click.option("--no-demo", is_flag=True, help="Do not create demo data on first start.")
@click.option(
    "--webhook-workers",
    type=click.IntRange(0, 64),
    default=None,
    help="Extra processes answering /hooks/ and the REST API on --webhook-port "
    "(env CELLWRIGHT_WEBHOOK_WORKERS; default 0: this process answers them).",
)
@click.option(
    "--webhook-port", type=int, default=None, help="Port of the webhook workers (default port + 1)."
)
@ssl_options
@_guard
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    no_demo: bool,
    webhook_workers: int | None,
    webhook_port: int | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> None:
    """Start the workspace, the REST API and the webhooks.

    One server per data directory: a second one on the same directory is refused
    (the analytics file admits one writer); it names the running one's pid. With
    ``--webhook-workers N`` it also starts N ``cellwright webhooks`` processes. With
    ``--ssl-certfile`` and ``--ssl-keyfile`` it serves HTTPS (the workers too).
    """
    from storage.datadir import hold_serve_lock

    settings = _settings(
        data_dir,
        host=host,
        port=port,
        webhook_workers=webhook_workers,
        webhook_port=webhook_port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    _check_tls(settings)
    # before the slow imports: a refused second server says so at once
    with hold_serve_lock(settings.ensure_data_dir()):  # held until the server stops
        _run_server(settings, no_demo=no_demo)


def _run_server(settings: Any, *, no_demo: bool) -> None:
    import uvicorn

    from engine.service import Cellwright
    from workspace.demo import ensure_demo
    from workspace.server import WEBSOCKETS, create_app

    logging.getLogger("cellwright").setLevel(logging.INFO)
    _one_handler_for_param()
    if not no_demo and settings.demo_data:
        _allow_demo_echo(settings)
    svc = Cellwright(settings)
    if not no_demo and settings.demo_data:
        info = ensure_demo(svc)
        if info:
            click.echo(info)
    app = create_app(svc, workspace=True)
    # Everything imported so far (Panel, Bokeh, pandas…) lives as long as the process:
    # keep it out of the cyclic GC's generations, so collections stay short and do not
    # show up in webhook latencies.
    gc.collect()
    gc.freeze()
    click.echo(
        f"Cellwright is running at {settings.resolved_public_url()}/  (API: "
        f"{settings.resolved_public_url()}/api/v1/docs)"
    )
    workers = _start_webhook_workers(settings, demo=not no_demo and settings.demo_data)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            ws=WEBSOCKETS,
            **_uvicorn_options(settings),
        )
    finally:
        if workers is not None:
            workers.stop()


def _allow_demo_echo(settings: Any) -> None:
    """The demo scenarios call the server's own echo endpoint: allow that URL only, never
    /hooks (a scenario calling its own webhook would trigger itself) or /api."""
    settings.http_allowed_urls = [
        *settings.http_allowed_urls,
        f"{settings.resolved_public_url()}{DEMO_ECHO_PATH}",
    ]


def _start_webhook_workers(settings: Any, *, demo: bool) -> Any:
    """Start ``settings.webhook_workers`` webhook processes (None when there are none)."""
    if not settings.webhook_workers:
        return None
    import os

    from workspace.workers import WebhookWorkers

    # what the workers must agree on with this process: the URLs it shows, demo or not
    os.environ["CELLWRIGHT_PUBLIC_URL"] = settings.resolved_public_url()
    os.environ["CELLWRIGHT_WEBHOOK_PUBLIC_URL"] = settings.resolved_webhook_url()
    os.environ["CELLWRIGHT_DEMO_DATA"] = "true" if demo else "false"
    for name in ("ssl_certfile", "ssl_keyfile"):  # the workers answer HTTPS too
        value = getattr(settings, name)
        if value is not None:
            os.environ[f"CELLWRIGHT_{name.upper()}"] = str(Path(value).resolve())
    workers = WebhookWorkers(
        settings.webhook_workers,
        host=settings.host,
        port=settings.resolved_webhook_port(),
        data_dir=settings.ensure_data_dir(),
    )
    workers.start()
    click.echo(
        f"{settings.webhook_workers} webhook worker(s) answer "
        f"{settings.resolved_webhook_url()}/hooks/"
    )
    return workers


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to share.")
@data_dir_option
@ssl_options
@_guard
def webhooks(
    host: str,
    port: int,
    data_dir: Path | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> None:
    """Answer /hooks/ and the REST API on a port shared with other such processes.

    ``cellwright serve --webhook-workers N`` starts these for you. Run them yourself to
    place them elsewhere (systemd, containers): they need the server's data directory
    or CELLWRIGHT_DATABASE_URL and CELLWRIGHT_VAULT_KEYS, and CELLWRIGHT_PUBLIC_URL. They
    run no schedules and never open the analytics file (the server does both).
    """
    import uvicorn

    from engine.service import Cellwright
    from workspace.server import create_app
    from workspace.workers import shared_socket

    settings = _settings(data_dir, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    _check_tls(settings)
    if settings.demo_data:
        _allow_demo_echo(settings)
    sock = shared_socket(host, port)
    svc = Cellwright(settings)
    app = create_app(svc, primary=False)
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            **_uvicorn_options(settings),
        )
    )
    server.run(sockets=[sock])


@main.command()
@data_dir_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=None,
    help="Executions this process runs at once (env CELLWRIGHT_WORKER_CONCURRENCY; default 50).",
)
@_guard
def worker(data_dir: Path | None, concurrency: int | None) -> None:
    """Run executions from the queue (scaled-out mode: CELLWRIGHT_BROKER_URL).

    Needs CELLWRIGHT_BROKER_URL (redis://… or amqp://…), CELLWRIGHT_DATABASE_URL
    (PostgreSQL) and the server's CELLWRIGHT_VAULT_KEYS. Start as many as you like, on
    any machine: each takes executions from the queue; one that dies has its runs taken
    over by another once their lease expires. Workers run no schedules and never open
    the analytics file.
    """
    settings = _settings(data_dir, worker_concurrency=concurrency)
    if not settings.scaled_out():
        _fail(
            "cellwright worker needs a queue: set CELLWRIGHT_BROKER_URL=redis://127.0.0.1:6379/0"
            " (or amqp://user:password@host//) for it and for `cellwright serve`."
        )
    from engine.cluster import WorkerRuntime, celery_app, install_runtime, require_postgres

    require_postgres(settings)
    logging.getLogger("cellwright").setLevel(settings.log_level.upper())
    runtime = WorkerRuntime(settings)
    runtime.start()  # the store, the apps and the vault, once per process
    install_runtime(runtime)
    app = celery_app(settings)
    click.echo(
        f"cellwright worker: {settings.worker_concurrency} at once from queue"
        f" '{settings.queue_name}'",
        err=True,
    )
    try:
        app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={settings.worker_concurrency}",
                f"--queues={settings.queue_name}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=cellwright-{os.getpid()}@%h",
            ]
        )
    finally:
        runtime.stop()


@main.command()
@data_dir_option
@_guard
def scheduler(data_dir: Path | None) -> None:
    """Run the schedules, polling, connection health checks and retention.

    Any number may run: the one holding the scheduler lease in the store does the work,
    another takes over within about 20 s of it stopping (``cellwright serve`` processes
    take part too). In scaled-out mode it also sends again the executions no worker
    started (a worker that died mid-run). It never opens the analytics file.
    """
    import signal

    from engine.service import Cellwright

    settings = _settings(data_dir)
    logging.getLogger("cellwright").setLevel(settings.log_level.upper())
    svc = Cellwright(settings)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await svc.start(scheduler=True, analytics=False)
        click.echo("cellwright scheduler: running (the lease holder does the work)", err=True)
        try:
            await stop.wait()
        finally:
            await svc.stop()

    try:
        asyncio.run(go())
    finally:
        svc.close()


def _one_handler_for_param() -> None:
    """Route param's (and so Panel's and HoloViews') warnings through our log format only.

    Left alone, param gives its logger a console handler of its own, and the record
    also reaches the root handler: every warning was printed twice.
    """
    import param

    own = logging.getLogger("param")
    own.handlers.clear()
    param.parameterized.logger = own


def _load(file: Path) -> Any:
    return documents.load(file)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trigger-data", default="{}", help="The trigger's output for this run, as JSON.")
@data_dir_option
@_guard
def run(file: Path, trigger_data: str, data_dir: Path | None) -> None:
    """Run a scenario file once, without a server; print the execution as JSON.

    The run is kept in the execution history and analytics (under the file's name),
    and adds no scenario to the workspace's list.

    Exit code 0 when the run completed, 1 when it failed, 2 for an invalid file or data.
    """
    try:
        doc = _load(file)
        payload = json.loads(trigger_data)
    except CellwrightError as exc:
        _fail(exc.message)
    except json.JSONDecodeError as exc:
        _fail(f"--trigger-data is not valid JSON: {exc.msg} at column {exc.colno}.")
    if not isinstance(payload, dict):
        _fail("--trigger-data must be a JSON object.")

    async def go(svc: Any) -> dict[str, Any]:
        user = svc.local_user()
        # kept under a hidden scenario for this file: history and analytics have the run,
        # the workspace's scenario list gets no draft (one per file, reused)
        scenario = svc.scenarios.save_file_run(user.id, doc, source)
        await svc.start(scheduler=False)
        try:
            result: dict[str, Any] = await svc.run_now(user.id, scenario.id, payload)
            return result
        finally:
            await svc.stop()

    source = str(file.resolve())
    try:
        with _app(data_dir, analytics=True) as svc:
            execution = asyncio.run(go(svc))
    except CellwrightError as exc:
        _fail(exc.message)
    _print_json(execution)
    sys.exit(0 if execution["status"] == "completed" else EXIT_FAILED)


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--enable", is_flag=True, help="Publish the scenario and enable it right away.")
@data_dir_option
@_guard
def import_(file: Path, enable: bool, data_dir: Path | None) -> None:
    """Import a scenario file as a new scenario (a saved draft); print its id."""
    doc = _load(file)
    with _app(data_dir) as svc:
        user = svc.local_user()
        scenario = svc.import_scenario(user.id, doc, imported=True)
        if enable:

            async def go() -> None:
                try:
                    await svc.publish(user.id, scenario.id)
                    await svc.enable(user.id, scenario.id)
                finally:
                    await svc.contexts.aclose()

            asyncio.run(go())
        click.echo(scenario.id)


@main.command()
@click.argument("scenario_id")
@click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    help="The saved version to publish (default: the latest).",
)
@data_dir_option
@_guard
def publish(scenario_id: str, version: int | None, data_dir: Path | None) -> None:
    """Publish a saved version of a scenario: the one its trigger runs from now on.

    An enabled scenario whose trigger changed is re-armed (vendor webhooks, schedules).
    """

    async def go(svc: Any) -> Any:
        try:
            return await svc.publish(svc.local_user().id, scenario_id, version)
        finally:
            await svc.contexts.aclose()

    with _app(data_dir) as svc:
        scenario = asyncio.run(go(svc))
    state = (
        "enabled"
        if scenario.status == "active"
        else f"{scenario.status}: enable it to run on its trigger"
    )
    click.echo(f"Version {scenario.live_version} of '{scenario.name}' is live ({state}).")


@main.command()
@click.argument("scenario_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@data_dir_option
@_guard
def export(scenario_id: str, output: Path | None, data_dir: Path | None) -> None:
    """Export a scenario as YAML."""
    with _app(data_dir) as svc:
        text = svc.export_scenario(svc.local_user().id, scenario_id)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def apps(as_json: bool) -> None:
    """List the app catalog (the apps Cellwright ships; not those added by
    CELLWRIGHT_EXTRA_APPS)."""
    from connectors.registry import default_registry

    catalog = [app.describe(full=False) for app in default_registry()]
    if as_json:
        keep = ("key", "name", "category", "auth", "triggers", "actions")
        _print_json([{k: a[k] for k in keep} for a in catalog])
        return
    for a in catalog:
        click.echo(
            f"{a['key']:<12} {a['name']:<18} {a['category']:<14} auth={a['auth']:<8} "
            f"triggers={len(a['triggers'])} actions={len(a['actions'])}"
        )


@main.command()
@click.option("--scenario", "scenario_id", help="Only this scenario's executions.")
@click.option(
    "--status",
    type=click.Choice(["queued", "running", "waiting", "completed", "failed", "cancelled"]),
)
@click.option(
    "--search", help="Only executions whose trigger data contains this text (case-insensitive)."
)
@click.option(
    "--parent",
    "parent_execution_id",
    help="Only the runs this execution's Run scenario cells called (sub-scenarios).",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@data_dir_option
@_guard
def executions(
    scenario_id: str | None,
    status: str | None,
    search: str | None,
    parent_execution_id: str | None,
    limit: int,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """List executions, newest first: a header row, then one line each with the scenario's name."""
    from storage import MAX_SEARCH_LENGTH

    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        _fail(f"--search is {len(search)} characters long; search for at most {MAX_SEARCH_LENGTH}.")
    with _app(data_dir) as svc:
        user = svc.local_user()
        items = svc.list_executions(
            user.id,
            scenario_id=scenario_id,
            status=status,
            search=search,
            parent_execution_id=parent_execution_id,
            limit=limit,
        )
        names = svc.scenarios.names(user.id)
    if as_json:
        _print_json(items)
        return
    click.echo(_execution_line("EXECUTION", "STATUS", "SCENARIO", "STARTED", "DURATION", "ERROR"))
    for e in items:
        error = (e.get("error") or {}).get("message", "")
        duration = "" if e.get("duration_ms") is None else f"{e['duration_ms']:.1f} ms"
        name = names.get(e["scenario_id"], e["scenario_id"])
        started = (e.get("start_time") or e.get("created_at") or "")[:19].replace("T", " ")
        click.echo(_execution_line(e["id"], e["status"], name, started, duration, error))


def _execution_line(
    execution: str, status: str, scenario: str, started: str, duration: str, error: str
) -> str:
    """One row of ``cellwright executions``: fixed columns; a long name is shortened with '…'."""
    scenario = scenario if len(scenario) <= 28 else scenario[:27] + "…"
    row = f"{execution:<32}  {status:<9}  {scenario:<28}  {started:<19}  {duration:>11}  {error}"
    return row.rstrip()


@main.command()
@click.argument("execution_id")
@click.option("--from-start", is_flag=True, help="Run every cell again.")
@click.option("--from-cell", help="Run from this cell; earlier cells keep their outputs.")
@click.option(
    "--latest", is_flag=True, help="Use the scenario's current version (after fixing a cell)."
)
@data_dir_option
@_guard
def rerun(
    execution_id: str, from_start: bool, from_cell: str | None, latest: bool, data_dir: Path | None
) -> None:
    """Rerun an execution (from its failed cell by default); print the new execution as JSON."""
    if from_start and from_cell:
        _fail("use either --from-start or --from-cell, not both.")

    async def go(svc: Any) -> dict[str, Any]:
        user = svc.local_user()
        await svc.start(scheduler=False)
        try:
            new = await svc.rerun(
                user.id, execution_id, from_start=from_start, from_cell=from_cell, latest=latest
            )
            await svc.executor.wait(new.id, svc.settings.execution_timeout_seconds + 5)
            result: dict[str, Any] = svc.execution(user.id, new.id)
            return result
        finally:
            await svc.stop()

    try:
        with _app(data_dir) as svc:
            execution = asyncio.run(go(svc))
    except CellwrightError as exc:
        _fail(exc.message)
    _print_json(execution)
    sys.exit(0 if execution["status"] == "completed" else EXIT_FAILED)


@main.command()
@click.option("--name", default="cli", show_default=True, help="A label for the key.")
@data_dir_option
@_guard
def apikey(name: str, data_dir: Path | None) -> None:
    """Create an API key for the local admin user (shown once)."""
    with _app(data_dir) as svc:
        plaintext, _ = svc.accounts.create_api_key(svc.local_user().id, name)
    click.echo(plaintext)


CONNECTION_FIELDS = (
    "id",
    "app_id",
    "name",
    "status",
    "status_message",
    "is_sandbox",
    "created_at",
    "updated_at",
    "last_used",
    "usage_count",
    "metadata",
    "events_url",
)
"""What ``cellwright connections --json`` shows of a connection (as
``GET /api/v1/connections``; never credentials)."""


def _credentials_option(value: str | None) -> dict[str, Any] | None:
    """``--credentials``: JSON text, or ``-`` to read it from stdin (keeps secrets out of
    shell history)."""
    if value is None:
        return None
    text = sys.stdin.read() if value == "-" else value
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"--credentials is not valid JSON: {exc.msg} at column {exc.colno}.")
    if not isinstance(data, dict):
        _fail("--credentials must be a JSON object of the app's connection fields.")
    return data


@main.command()
@click.argument("app_key", metavar="APP")
@click.option(
    "--sandbox", is_flag=True, help="Connect to the app's built-in simulator: no account needed."
)
@click.option(
    "--credentials",
    help="The app's connection fields as a JSON object, or - to read them from stdin.",
)
@click.option("--name", help="A label; default: the account the app's test call reports.")
@data_dir_option
@_guard
def connect(
    app_key: str, sandbox: bool, credentials: str | None, name: str | None, data_dir: Path | None
) -> None:
    """Create a connection to APP for the local admin user, test it, print its id.

    With --sandbox the connection talks to the app's simulator (the published sandbox
    credentials are used unless --credentials is given). The field names for
    --credentials are in the app's auth schema (GET /api/v1/apps/APP).

    Exit code 0 when the app accepted the credentials; 1 when the connection was stored
    but its test call failed (the reason goes to stderr); 2 for invalid input.
    """
    creds = _credentials_option(credentials)
    if creds is None and not sandbox:
        _fail("give --credentials JSON (the app's connection fields) or --sandbox.")

    async def go(svc: Any) -> Any:
        try:
            return await svc.create_connection(
                svc.local_user().id, app_key, credentials=creds or {}, name=name, sandbox=sandbox
            )
        finally:
            await svc.contexts.aclose()

    with _app(data_dir) as svc:
        app = svc.apps.get(app_key)
        if not app.needs_connection:
            _fail(f"{app.name} needs no connection: use it in a scenario as it is.")
        connection = asyncio.run(go(svc))
    click.echo(connection.id)
    if connection.status != "active":
        click.echo(
            f"error: the connection was stored, but its test failed: {connection.status_message}",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    click.echo(
        f"Connected: {connection.name}" + (" (sandbox)" if connection.is_sandbox else ""), err=True
    )


@main.command()
@click.option("--app", "app_key", help="Only connections to this app.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@data_dir_option
@_guard
def connections(app_key: str | None, as_json: bool, data_dir: Path | None) -> None:
    """List the local admin user's connections (credentials are never shown)."""
    from workspace.api import connection_out

    with _app(data_dir) as svc:
        user = svc.local_user()
        items = [
            connection_out(svc, user, c) for c in svc.connections.for_user(user.id, app_id=app_key)
        ]
    if as_json:
        _print_json([{k: c.get(k) for k in CONNECTION_FIELDS} for c in items])
        return
    for c in items:
        kind = "sandbox" if c["is_sandbox"] else ""
        message = f"  {c['status_message']}" if c.get("status_message") else ""
        click.echo(f"{c['id']}  {c['app_id']:<12} {c['status']:<8} {kind:<7} {c['name']}{message}")
        if c.get("events_url"):
            click.echo(f"    events URL: {c['events_url']}")


if __name__ == "__main__":  # pragma: no cover
    main()


@main.group()
def audit() -> None:
    """The audit trail: check its hash chain, export it."""


@audit.command("verify")
@data_dir_option
@_guard
def audit_verify(data_dir: Path | None) -> None:
    """Check that no audit entry was changed, removed or inserted.

    Prints the number of entries and the newest entry's hash (note it: removing the
    newest entries leaves a shorter chain that is still intact), or the first broken
    entry; exits 1 when the chain is broken.
    """
    with _app(data_dir) as svc:
        verdict = svc.accounts.verify_audit_chain()
    if verdict.intact:
        click.echo(
            f"The audit trail is intact: {verdict.checked} entries, "
            f"head hash {verdict.head_hash or '(none: the trail is empty)'}."
        )
        return
    click.echo(
        f"The audit trail is BROKEN at entry #{verdict.broken_seq} (id {verdict.broken_id}): "
        f"{verdict.reason}.",
        err=True,
    )
    sys.exit(EXIT_FAILED)


@audit.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--action", default=None, help="An action (scenario.publish) or a group (scenario).")
@click.option("--limit", type=click.IntRange(1), default=10_000, show_default=True)
@data_dir_option
@_guard
def audit_export(
    fmt: str, output: Path | None, action: str | None, limit: int, data_dir: Path | None
) -> None:
    """Write every user's audit entries, newest first, as JSON or CSV."""
    from workspace.audit_export import to_csv, to_json

    with _app(data_dir) as svc:
        entries = svc.accounts.audit_entries(None, limit=limit, action=action)
    text = to_csv(entries) if fmt == "csv" else to_json(entries)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _register_gdpr_commands() -> None:
    from workspace.cli_privacy import account, privacy, retention

    for group in (account, privacy, retention):
        main.add_command(group)


_register_gdpr_commands()
