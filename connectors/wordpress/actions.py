"""The WordPress actions: posts, pages, terms, media, comments.

Posts refer to categories and tags by id; the actions also take names and resolve
them (``GET wp/v2/categories?search=``), creating missing ones unless the user turns
``create_missing_terms`` off. WordPress has no idempotency keys, so a retried create
can make a second post: the engine's retry policy for 5xx applies as for any vendor.
"""

from __future__ import annotations

import html
import mimetypes
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from connectors.sdk import (
    Action,
    InvalidInputError,
    NetworkError,
    OperationContext,
    UpstreamError,
    load_sample,
)
from connectors.sdk.netguard import forbidden, is_forbidden_cause
from connectors.wordpress.api import clean, get_page, url
from connectors.wordpress.schemas import (
    Comment,
    CreateCommentInput,
    CreatePageInput,
    CreatePostInput,
    DeletedPost,
    DeletePostInput,
    FindOrCreateTermInput,
    FindPostsInput,
    FoundPosts,
    Media,
    Page,
    Post,
    TermResult,
    UpdatePostInput,
    UploadMediaInput,
)

Taxonomy = Literal["category", "tag"]
TERM_ROUTES: dict[Taxonomy, str] = {"category": "wp/v2/categories", "tag": "wp/v2/tags"}
TEXT_FIELDS = frozenset({"title", "content", "excerpt", "caption", "description"})
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def wp_body(inputs: BaseModel, **dump: Any) -> dict[str, Any]:
    """The JSON body for WordPress from an input model (``dump``: model_dump's include/exclude).

    The route index declares title, content, excerpt, caption and description as
    objects (``{"raw", "rendered"}``); WordPress also takes bare strings, but we send
    the declared ``{"raw": …}`` form. A date with a time zone goes as ``date_gmt``,
    a naive one as ``date`` (the site's local time).
    """
    body: dict[str, Any] = {}
    for key, value in inputs.model_dump(exclude_none=True, **dump).items():
        if key in TEXT_FIELDS:
            body[key] = {"raw": value}
        elif isinstance(value, datetime):
            if value.tzinfo is not None:
                body[f"{key}_gmt"] = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            else:
                body[key] = value.strftime("%Y-%m-%dT%H:%M:%S")
        else:
            body[key] = value
    return body


# -- categories and tags ---------------------------------------------------------------


async def find_term(ctx: OperationContext, taxonomy: Taxonomy, name: str) -> dict[str, Any] | None:
    """The category or tag named ``name``, case-insensitively.

    WordPress stores term names HTML-escaped (``News &amp; Events``) and ``search`` is a
    SQL LIKE on the stored name, so the search text is escaped the same way.
    """
    search = html.escape(name.strip(), quote=False)
    items, _, _ = await get_page(ctx, TERM_ROUTES[taxonomy], search=search, per_page=100)
    wanted = name.strip().casefold()
    return next(
        (t for t in items if html.unescape(t["name"]).casefold() == wanted or t["slug"] == wanted),
        None,
    )


async def create_term(
    ctx: OperationContext, taxonomy: Taxonomy, name: str, **fields: Any
) -> tuple[dict[str, Any], bool]:
    """Create a term: ``(term, True)``; or ``(existing, False)`` when WordPress answers
    ``term_exists`` (another run created it since our search)."""
    route = TERM_ROUTES[taxonomy]
    try:
        return clean(await ctx.http.post(url(ctx, route), json={"name": name, **fields})), True
    except UpstreamError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        existing = (
            (body.get("data") or {}).get("term_id") if body.get("code") == "term_exists" else None
        )
        if existing is None:
            raise
        return clean(await ctx.http.get(url(ctx, f"{route}/{int(existing)}"))), False


async def term_ids(
    ctx: OperationContext,
    taxonomy: Taxonomy,
    values: Iterable[int | str],
    *,
    create: bool,
    field: str,
) -> list[int]:
    """Ids for a mix of ids (numbers) and names (text)."""
    ids: list[int] = []
    missing: list[str] = []
    for value in values:
        if isinstance(value, int):
            ids.append(value)
            continue
        term = await find_term(ctx, taxonomy, value)
        if term is None and create:
            term, _ = await create_term(ctx, taxonomy, value)
        if term is None:
            missing.append(value)
        else:
            ids.append(int(term["id"]))
    if missing:
        message = (
            f"no {taxonomy} named {', '.join(repr(m) for m in missing)} on the site; create it in "
            "WordPress or turn on 'create missing categories and tags'"
        )
        raise InvalidInputError(
            f"{field}: {message}", errors=[{"field": field, "message": message}]
        )
    return list(dict.fromkeys(ids))


async def _terms_body(
    ctx: OperationContext, inputs: CreatePostInput | UpdatePostInput
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    pairs: tuple[tuple[str, Taxonomy], ...] = (("categories", "category"), ("tags", "tag"))
    for field, taxonomy in pairs:
        values = getattr(inputs, field)
        if values is not None:
            body[field] = await term_ids(
                ctx, taxonomy, values, create=inputs.create_missing_terms, field=field
            )
    return body


TERM_FIELDS = {"categories", "tags", "create_missing_terms"}


# -- posts and pages -------------------------------------------------------------------


async def create_post(ctx: OperationContext, inputs: CreatePostInput) -> dict[str, Any]:
    """Create a post (a draft unless you choose another status)."""
    body = wp_body(inputs, exclude=TERM_FIELDS) | await _terms_body(ctx, inputs)
    return clean(await ctx.http.post(url(ctx, "wp/v2/posts"), json=body))


async def update_post(ctx: OperationContext, inputs: UpdatePostInput) -> dict[str, Any]:
    """Change a post's fields; empty fields keep their value."""
    body = wp_body(inputs, exclude=TERM_FIELDS | {"post_id"}) | await _terms_body(ctx, inputs)
    if not body:
        raise InvalidInputError("Nothing to change: fill in at least one field besides post_id.")
    return clean(await ctx.http.post(url(ctx, f"wp/v2/posts/{inputs.post_id}"), json=body))


async def find_posts(ctx: OperationContext, inputs: FindPostsInput) -> dict[str, Any]:
    """Posts matching words or a slug, newest first."""
    posts, total, _ = await get_page(
        ctx,
        "wp/v2/posts",
        search=inputs.search,
        slug=inputs.slug,
        status=inputs.status,
        per_page=inputs.limit,
    )
    return {"posts": posts, "count": len(posts), "total": total}


async def create_page(ctx: OperationContext, inputs: CreatePageInput) -> dict[str, Any]:
    """Create a page (a draft unless you choose another status)."""
    return clean(await ctx.http.post(url(ctx, "wp/v2/pages"), json=wp_body(inputs)))


async def delete_post(ctx: OperationContext, inputs: DeletePostInput) -> dict[str, Any]:
    """Move a post to the trash, or delete it for good with ``force``."""
    answer = await ctx.http.delete(
        url(ctx, f"wp/v2/posts/{inputs.post_id}", force=inputs.force or None)
    )
    if inputs.force:
        return {"id": inputs.post_id, "deleted": True, "post": clean(answer["previous"])}
    return {"id": inputs.post_id, "deleted": False, "post": clean(answer)}


# -- terms, comments -------------------------------------------------------------------


async def find_or_create_term(
    ctx: OperationContext, inputs: FindOrCreateTermInput
) -> dict[str, Any]:
    """A category or tag by name, created when missing (unless turned off)."""
    term = await find_term(ctx, inputs.taxonomy, inputs.name)
    if term is not None:
        return {**term, "created": False}
    if not inputs.create_if_missing:
        raise UpstreamError(
            f"WordPress has no {inputs.taxonomy} named '{inputs.name}'.", status=404
        )
    extra = inputs.model_dump(
        include={"description", "parent"}, exclude_none=True
    )  # plain strings here
    term, created = await create_term(ctx, inputs.taxonomy, inputs.name, **extra)
    return {**term, "created": created}


async def create_comment(ctx: OperationContext, inputs: CreateCommentInput) -> dict[str, Any]:
    """Comment on a post, as the connected user unless an author is given."""
    return clean(await ctx.http.post(url(ctx, "wp/v2/comments"), json=wp_body(inputs)))


# -- media -----------------------------------------------------------------------------


def _bad_source(message: str) -> InvalidInputError:
    return InvalidInputError(
        f"source_url: {message}", errors=[{"field": "source_url", "message": message}]
    )


async def _download(ctx: OperationContext, source_url: str) -> tuple[bytes, str, str]:
    """Fetch a file WITHOUT the connection's credentials: the URL belongs to someone else.

    Same client (so the same network guard), but ``auth=None`` and streamed with a size
    cap. Returns the bytes, the content type and the URL's last path segment.
    """
    request = httpx.Request("GET", source_url)  # not build_request: no app default headers either
    try:
        response = await ctx.http.client.send(request, auth=None, stream=True)
    except httpx.TransportError as exc:
        if is_forbidden_cause(exc):
            raise forbidden(request.url.host) from None
        reason = str(exc) or type(exc).__name__
        raise NetworkError(
            f"source_url: could not download from {request.url.host} ({reason})"
        ) from None
    try:
        if response.status_code >= 400:
            raise _bad_source(f"the download answered HTTP {response.status_code}")
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > MAX_UPLOAD_BYTES:
                raise _bad_source(f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    finally:
        await response.aclose()
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return bytes(data), content_type, response.url.path.rsplit("/", 1)[-1]


def _filename(name: str, content_type: str) -> str:
    """An ASCII file name with an extension (WordPress decides the file type by it)."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "upload"
    if "." not in name:
        name += mimetypes.guess_extension(content_type) or ""
    return name


async def _file(ctx: OperationContext, inputs: UploadMediaInput) -> tuple[bytes, str, str]:
    """The file's bytes, its content type as found ("" when unknown) and a name hint."""
    if inputs.source_url:
        return await _download(ctx, inputs.source_url)
    try:
        data, content_type = inputs.decoded()
    except ValueError as exc:
        raise InvalidInputError(
            str(exc), errors=[{"field": "file_base64", "message": str(exc)}]
        ) from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(
            f"file_base64: the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB"
        )
    return data, content_type, ""


async def upload_media(ctx: OperationContext, inputs: UploadMediaInput) -> dict[str, Any]:
    """Upload a file to the media library (raw body + Content-Disposition), then set its details."""
    data, found_type, url_name = await _file(ctx, inputs)
    name = inputs.filename or url_name or "upload"
    content_type = inputs.content_type or (found_type if found_type not in GENERIC_TYPES else "")
    content_type = content_type or mimetypes.guess_type(name)[0] or ""
    if not content_type:
        raise InvalidInputError(
            f"content_type: cannot tell what kind of file '{name}' is; "
            "set content_type (e.g. image/jpeg)",
            errors=[{"field": "content_type", "message": "unknown file type"}],
        )
    filename = _filename(name, content_type)
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    media: dict[str, Any] = await ctx.http.post(
        url(ctx, "wp/v2/media"), content=data, headers=headers
    )
    details = wp_body(inputs, include={"title", "alt_text", "caption", "description", "post"})
    if details:
        media = await ctx.http.post(url(ctx, f"wp/v2/media/{media['id']}"), json=details)
    return dict(clean(media))


def _action(
    key: str, name: str, perform: Any, input: type[BaseModel], output: type[BaseModel], **kw: Any
) -> Action:
    return Action(
        key=key,
        name=name,
        description=(perform.__doc__ or "").split("\n")[0],
        input=input,
        output=output,
        perform=perform,
        sample=load_sample(__file__, key),
        **kw,
    )


PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

ACTIONS: tuple[Action, ...] = (
    _action(
        "create_post",
        "Create post",
        create_post,
        CreatePostInput,
        Post,
        example={
            "title": "Hello from Cellwright",
            "content": "<p>Our first automated post.</p>",
            "status": "publish",
            "categories": "News, Announcements",
            "tags": ["cellwright"],
        },
    ),
    _action(
        "update_post",
        "Update post",
        update_post,
        UpdatePostInput,
        Post,
        idempotent=True,
        example={"post_id": 4, "title": "An edited title", "status": "publish"},
    ),
    _action(
        "find_posts",
        "Find posts",
        find_posts,
        FindPostsInput,
        FoundPosts,
        idempotent=True,
        example={"search": "fixture"},
    ),
    _action(
        "create_page",
        "Create page",
        create_page,
        CreatePageInput,
        Page,
        example={"title": "About us", "content": "Who we are and what we do.", "status": "publish"},
    ),
    _action(
        "delete_post",
        "Delete post",
        delete_post,
        DeletePostInput,
        DeletedPost,
        example={"post_id": 4},
    ),
    _action(
        "find_or_create_term",
        "Find or create category/tag",
        find_or_create_term,
        FindOrCreateTermInput,
        TermResult,
        idempotent=True,
        example={"taxonomy": "category", "name": "News"},
    ),
    _action(
        "upload_media",
        "Upload media",
        upload_media,
        UploadMediaInput,
        Media,
        example={"file_base64": PIXEL, "filename": "pixel.png", "alt_text": "A single pixel"},
    ),
    _action(
        "create_comment",
        "Create comment",
        create_comment,
        CreateCommentInput,
        Comment,
        example={"post": 4, "content": "Thanks for this post!"},
    ),
)
