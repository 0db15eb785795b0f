"""A stateful WordPress REST API simulator, for tests and sandbox connections.

It follows WordPress 6.8 for the routes the connector uses, as described by
``spec/wp-json-index.subset.json`` (served verbatim at ``/wp-json/``): requests are
dispatched by the index's regex routes and methods, and declared arguments are
checked against their type, enum, range and format the way WordPress's
``rest_validate_value_from_schema`` does (400 ``rest_invalid_param``). Seeded from
``spec/sample-responses.json``; the site's time zone is GMT (``gmt_offset`` "0").

- Both API roots: ``/wp-json/<route>`` (pretty permalinks) and ``/?rest_route=<route>``
  (or ``/index.php?rest_route=``). The home page advertises the root in a
  ``Link: <…>; rel="https://api.w.org/"`` header, on GET and HEAD.
- Auth: application passwords as HTTP basic (``USERNAME`` / ``APPLICATION_PASSWORD``;
  spaces ignored as WordPress does). A wrong user or password → 401; none → an
  anonymous visitor (public reads only).
- Test-only controls, not part of WordPress: ``POST /__sandbox__/control`` with JSON
  ``{"pretty_permalinks": false}`` (``/wp-json/…`` becomes a 404 page and the home
  page advertises ``?rest_route=/``), ``{"fail_next": {"status": 429, "retry_after": 7}}``
  (the next REST call fails the way a host's rate limiter or a 5xx would; ``code`` and
  ``message`` may be given too), ``{"advance_clock": 60}`` (seconds).
  ``GET /__sandbox__/files/<name>`` stands in for a third-party file host and refuses
  requests carrying ``Authorization`` (the password must never leave the site).
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

SPEC = Path(__file__).parent / "spec"
INDEX: dict[str, Any] = json.loads((SPEC / "wp-json-index.subset.json").read_text(encoding="utf-8"))
SAMPLES: dict[str, Any] = json.loads((SPEC / "sample-responses.json").read_text(encoding="utf-8"))["responses"]
ROUTES = [(re.compile(f"^{pattern}$"), pattern, spec) for pattern, spec in INDEX["routes"].items()]

USERNAME = "admin"
APPLICATION_PASSWORD = "abcd EFGH 1234 ijkl MNOP 6789"  # noqa: S105 - the sandbox's published demo password
FILE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
              "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "mp3": "audio/mpeg", "mp4": "video/mp4"}
# rest_parse_date()'s pattern: the offset is optional.
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?$")
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
LINK_QUERY = {"post": "p", "page": "page_id", "attachment": "attachment_id"}


def wp_error(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status_code=status)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _parse_date(value: str) -> datetime:
    """A date-time argument in GMT (naive ones are site time, which is GMT here)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _raw(value: Any) -> str:
    """A text argument: a plain string or ``{"raw": …}`` (WordPress takes both)."""
    return str(value.get("raw", "")) if isinstance(value, dict) else str(value)


def _autop(text: str) -> str:
    return text if not text.strip() or text.lstrip().startswith("<") else f"<p>{text}</p>\n"


def _slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", html.unescape(text)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


class Site:
    """The site's state. Posts, pages and attachments share one id sequence (wp_posts)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.pretty = True
        self.fail_next: dict[str, Any] | None = None
        self.users = {u["id"]: {k: v for k, v in u.items() if k != "_links"} for u in SAMPLES["UsersCollection"]}
        self.posts: dict[int, dict[str, Any]] = {}
        for key in ("PostModel", "PageModel", "MediaModel"):
            seed = SAMPLES[key]
            item = {k: v for k, v in seed.items() if k not in ("_links", "guid", "link", "class_list")}
            for text in ("title", "content", "excerpt", "caption", "description"):
                if text in seed:
                    item[text] = seed[text]["rendered"]
            self.posts[item["id"]] = item
        self.terms = {t["id"]: dict(t) for t in (SAMPLES["CategoryModel"], SAMPLES["TagModel"])}
        comment = {k: v for k, v in SAMPLES["CommentModel"].items() if k not in ("_links", "link")}
        self.comments = {comment["id"]: {**comment, "content": comment["content"]["rendered"]}}
        self.post_ids, self.term_ids, self.comment_ids = itertools.count(11), itertools.count(3), itertools.count(3)

    def now(self) -> str:
        return _stamp(datetime.now(UTC).replace(microsecond=0, tzinfo=None) + self.offset)

    def unique_slug(self, slug: str, kind: str, skip: int | None = None) -> str:
        taken = {p["slug"] for p in self.posts.values() if p["type"] == kind and p["id"] != skip}
        candidate, n = slug, 2
        while candidate in taken:
            candidate, n = f"{slug}-{n}", n + 1
        return candidate


@dataclass
class Call:
    """One REST request after dispatch."""

    site: Site
    request: Request
    user: int | None
    params: dict[str, Any]
    base: str

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


# -- argument validation (rest_validate_value_from_schema) ---------------------------------


def _check(name: str, value: Any, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The coerced value, or an error message, for one declared argument."""
    types = schema.get("type") or []
    types = [types] if isinstance(types, str) else types
    if isinstance(value, str):  # query-string values arrive as text
        if "integer" in types and re.fullmatch(r"-?\d+", value):
            value = int(value)
        elif "boolean" in types and value in ("true", "false", "1", "0"):
            value = value in ("true", "1")
        elif "array" in types:
            value = [v for v in re.split(r"[,\s]+", value) if v]
    if "object" in types and isinstance(value, str) and "raw" in schema.get("properties", {}):
        return value, None  # title, content…: validate_callback is null, strings are accepted
    kinds = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict, "null": type(None)}
    if types and not any(isinstance(value, kinds[t]) and not (t == "integer" and isinstance(value, bool)) for t in types):
        return value, f"{name} is not of type {','.join(types)}."
    if "enum" in schema and value not in schema["enum"]:
        return value, f"{name} is not one of {', '.join(map(str, schema['enum']))}."
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return value, f"{name} must be between {low} (inclusive) and {high} (inclusive)"
    if isinstance(value, str):
        fmt = schema.get("format")
        if fmt == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            return value, "Invalid email address."
        if fmt == "date-time" and not DATE_TIME.match(value):
            return value, "Invalid date."
    if isinstance(value, list) and "items" in schema:
        checked = [_check(f"{name}[{i}]", item, schema["items"]) for i, item in enumerate(value)]
        problem = next((msg for _, msg in checked if msg), None)
        return [v for v, _ in checked], problem
    return value, None


def validate(args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | Response:
    missing = [n for n, s in args.items() if s.get("required") and n not in params]
    if missing:
        return wp_error("rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", 400, params=missing)
    problems: dict[str, str] = {}
    for name, schema in args.items():
        if name in params:
            params[name], problem = _check(name, params[name], schema)
            if problem:
                problems[name] = problem
    if problems:
        return wp_error("rest_invalid_param", f"Invalid parameter(s): {', '.join(problems)}", 400, params=problems)
    return params


# -- rendering -----------------------------------------------------------------------------


def render_post(call: Call, item: dict[str, Any], edit: bool = False) -> dict[str, Any]:
    kind = item["type"]
    link = f"{call.base}?{LINK_QUERY[kind]}={item['id']}"

    def text(key: str) -> dict[str, Any]:
        raw = item.get(key, "")
        rendered = raw if key == "title" else _autop(raw or re.sub(r"<[^>]+>", "", item.get("content", "")))
        return {"raw": raw, "rendered": rendered} if edit else {"rendered": rendered}

    data: dict[str, Any] = {
        "id": item["id"], "date": item["date"], "date_gmt": item["date_gmt"], "guid": {"rendered": link},
        "modified": item["modified"], "modified_gmt": item["modified_gmt"], "slug": item["slug"],
        "status": item["status"], "type": kind, "link": link, "title": text("title"),
    }
    if kind != "attachment":
        data["content"] = {**text("content"), "protected": False}
        data["excerpt"] = {**text("excerpt"), "protected": False}
    keys = {"post": ("author", "featured_media", "comment_status", "ping_status", "sticky", "template", "format", "meta", "categories", "tags"),
            "page": ("author", "featured_media", "parent", "menu_order", "comment_status", "ping_status", "template", "meta"),
            "attachment": ("author", "featured_media", "comment_status", "ping_status", "template", "meta")}[kind]
    data.update({k: item.get(k) for k in keys})
    if kind == "attachment":
        data.update(description=text("description"), caption=text("caption"), alt_text=item.get("alt_text", ""),
                    media_type=item["media_type"], mime_type=item["mime_type"], media_details=item.get("media_details", {}),
                    post=item.get("post"), source_url=item["source_url"])
    return data


def render_term(call: Call, term: dict[str, Any]) -> dict[str, Any]:
    field = "categories" if term["taxonomy"] == "category" else "tags"
    count = sum(1 for p in call.site.posts.values() if p["status"] == "publish" and term["id"] in p.get(field, []))
    return {**term, "count": count}


def render_comment(call: Call, comment: dict[str, Any], edit: bool = False) -> dict[str, Any]:
    content = {"rendered": _autop(comment["content"])} | ({"raw": comment["content"]} if edit else {})
    return {**comment, "content": content, "link": f"{call.base}?p={comment['post']}#comment-{comment['id']}"}


def paginate(call: Call, items: list[Any], invalid_page: str | None = None) -> Response:
    per_page, page = call.get("per_page", 10), call.get("page", 1)
    total, pages = len(items), math.ceil(len(items) / per_page)
    if invalid_page and total and page > pages:
        return wp_error(invalid_page, "The page number requested is larger than the number of pages available.", 400)
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = [f'<{call.request.url.include_query_params(page=n)}>; rel="{rel}"' for n, rel in ((page - 1, "prev"), (page + 1, "next")) if 1 <= n <= pages]
    if links:
        headers["Link"] = ", ".join(links)
    return JSONResponse(items[(page - 1) * per_page: page * per_page], headers=headers)


def _sorted(call: Call, items: list[dict[str, Any]], columns: dict[str, str], order: str = "desc") -> list[dict[str, Any]]:
    """``columns`` maps ``orderby`` values to fields; its first entry is the default."""
    column = columns.get(call.get("orderby", next(iter(columns))), "id")
    key = (lambda i: (i[column], i["id"])) if column == "id" else (lambda i: (str(i.get(column, "")), i["id"]))
    return sorted(items, key=key, reverse=call.get("order", order) == "desc")


def _after(call: Call, item: dict[str, Any], arg: str, column: str) -> bool:
    value = call.get(arg)
    return value is None or item[column] > _stamp(_parse_date(value))


# -- posts, pages, media -------------------------------------------------------------------


def list_posts(kind: str):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        default = ["inherit"] if kind == "attachment" else ["publish"]
        statuses = call.get("status", default)
        if statuses != default and call.user is None:
            return wp_error("rest_invalid_param", "Invalid parameter(s): status", 400, params={"status": "Status is forbidden."})
        search, slugs = str(call.get("search", "")).casefold(), call.get("slug")
        items = [
            p for p in call.site.posts.values()
            if p["type"] == kind and p["status"] in statuses and (not slugs or p["slug"] in slugs)
            and search in f"{p['title']} {p.get('content', '')} {p.get('excerpt', '')}".casefold()
            and call.get("media_type") in (None, p.get("media_type"))
            and _after(call, p, "after", "date_gmt") and _after(call, p, "modified_after", "modified_gmt")
        ]
        items = _sorted(call, items, {"date": "date_gmt", "modified": "modified_gmt", "id": "id", "title": "title", "slug": "slug"})
        return paginate(call, [render_post(call, p) for p in items], "rest_post_invalid_page_number")

    return handler


def _apply(call: Call, item: dict[str, Any]) -> Response | None:
    site, params = call.site, call.params
    for key in ("title", "content", "excerpt", "caption", "description"):
        if key in params:
            item[key] = _raw(params[key])
    for key in ("status", "comment_status", "ping_status", "sticky", "format", "template", "parent", "menu_order", "alt_text", "post"):
        if key in params:
            item[key] = params[key]
    if "date_gmt" in params or "date" in params:
        item["date"] = item["date_gmt"] = _stamp(_parse_date(params.get("date_gmt") or params["date"]))
    if "author" in params and params["author"] not in site.users:
        return wp_error("rest_invalid_author", "Invalid author ID.", 400)
    item["author"] = params.get("author", item.get("author", call.user))
    media = params.get("featured_media")
    if media and site.posts.get(media, {}).get("type") != "attachment":
        return wp_error("rest_invalid_featured_media", "Invalid featured media ID.", 400)
    item["featured_media"] = media if media is not None else item.get("featured_media", 0)
    for field, taxonomy in (("categories", "category"), ("tags", "post_tag")):
        if field in params:  # unknown ids are skipped, like wp_set_object_terms() does
            item[field] = [i for i in params[field] if site.terms.get(i, {}).get("taxonomy") == taxonomy]
    item["slug"] = site.unique_slug(params.get("slug") or item.get("slug") or _slugify(item.get("title", "")) or str(item["id"]), item["type"], item["id"])
    item["modified"] = item["modified_gmt"] = site.now()
    return None


def create_post(kind: str):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        if call.user is None:
            return wp_error("rest_cannot_create", "Sorry, you are not allowed to create posts as this user.", 401)
        now = call.site.now()
        item: dict[str, Any] = {"id": next(call.site.post_ids), "type": kind, "status": "draft", "date": now, "date_gmt": now,
                                "comment_status": "open" if kind == "post" else "closed", "ping_status": "open" if kind == "post" else "closed",
                                "template": "", "meta": {}, "title": "", "content": "", "excerpt": ""}
        item.update({"sticky": False, "format": "standard", "categories": [1], "tags": []} if kind == "post" else {"parent": 0, "menu_order": 0})
        failed = _apply(call, item)
        if failed:
            return failed
        call.site.posts[item["id"]] = item
        location = f"{call.base}wp-json/wp/v2/{kind}s/{item['id']}"
        return JSONResponse(render_post(call, item, edit=True), status_code=201, headers={"Location": location})

    return handler


def _find(call: Call, kind: str) -> dict[str, Any] | Response:
    item = call.site.posts.get(call.get("id"))
    if item is None or item["type"] != kind:
        return wp_error("rest_post_invalid_id", "Invalid post ID.", 404)
    return item


def update_post(kind: str):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        item = _find(call, kind)
        if isinstance(item, Response):
            return item
        if call.user is None:
            return wp_error("rest_cannot_edit", "Sorry, you are not allowed to edit this post.", 401)
        changed = dict(item)
        failed = _apply(call, changed)
        if failed:
            return failed
        item.update(changed)
        return JSONResponse(render_post(call, item, edit=True))

    return handler


async def delete_post(call: Call) -> Response:
    item = _find(call, "post")
    if isinstance(item, Response):
        return item
    if call.user is None:
        return wp_error("rest_cannot_delete", "Sorry, you are not allowed to delete this post.", 401)
    if call.get("force"):
        del call.site.posts[item["id"]]
        return JSONResponse({"deleted": True, "previous": render_post(call, item, edit=True)})
    if item["status"] == "trash":
        return wp_error("rest_already_trashed", "The post has already been deleted.", 410)
    item.update(status="trash", modified=call.site.now(), modified_gmt=call.site.now())
    return JSONResponse(render_post(call, item, edit=True))


async def upload_media(call: Call) -> Response:
    """Raw-body upload, as in WP_REST_Attachments_Controller::upload_from_data()."""
    if call.user is None:
        return wp_error("rest_cannot_create", "Sorry, you are not allowed to upload media on this site.", 401)
    body, headers = await call.request.body(), call.request.headers
    if not body:
        return wp_error("rest_upload_no_data", "No data supplied.", 400)
    if not headers.get("content-type"):
        return wp_error("rest_upload_no_content_type", "No Content-Type supplied.", 400)
    if not headers.get("content-disposition"):
        return wp_error("rest_upload_no_content_disposition", "No Content-Disposition supplied.", 400)
    match = re.search(r'filename="?([^";]+)"?', headers["content-disposition"])
    if not match:
        return wp_error("rest_upload_invalid_disposition", "Invalid Content-Disposition supplied. Content-Disposition needs to be formatted as `attachment; filename=\"image.png\"` or similar.", 400)
    filename = match.group(1)
    mime = FILE_TYPES.get(filename.rsplit(".", 1)[-1].lower()) if "." in filename else None
    if mime is None:
        return wp_error("rest_upload_sideload_error", "Sorry, you are not allowed to upload this file type.", 500)
    now = call.site.now()
    item = {"id": next(call.site.post_ids), "type": "attachment", "status": "inherit", "date": now, "date_gmt": now,
            "modified": now, "modified_gmt": now, "slug": call.site.unique_slug(_slugify(filename.rsplit(".", 1)[0]), "attachment"),
            "title": filename.rsplit(".", 1)[0], "author": call.user, "featured_media": 0, "comment_status": "open",
            "ping_status": "closed", "template": "", "meta": {}, "description": "", "caption": "", "alt_text": "",
            "media_type": "image" if mime.startswith("image/") else "file", "mime_type": mime,
            "media_details": {"filesize": len(body)}, "post": None,
            "source_url": f"{call.base}wp-content/uploads/{now[:4]}/{now[5:7]}/{filename}"}
    call.site.posts[item["id"]] = item
    return JSONResponse(render_post(call, item, edit=True), status_code=201, headers={"Location": f"{call.base}wp-json/wp/v2/media/{item['id']}"})


# -- terms, comments, users ---------------------------------------------------------------


def list_terms(taxonomy: str):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        search, slugs = str(call.get("search", "")).casefold(), call.get("slug")
        items = [t for t in call.site.terms.values() if t["taxonomy"] == taxonomy and (not slugs or t["slug"] in slugs)
                 and (search in html.unescape(t["name"]).casefold() or search in t["slug"])]
        items = _sorted(call, items, {"name": "name", "slug": "slug", "id": "id"}, order="asc")
        return paginate(call, [render_term(call, t) for t in items])

    return handler


def create_term(taxonomy: str):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        if call.user is None:
            return wp_error("rest_cannot_create", "Sorry, you are not allowed to create terms in this taxonomy.", 401)
        name, parent = html.escape(call.get("name").strip(), quote=False), call.get("parent", 0)
        if parent and parent not in call.site.terms:
            return wp_error("rest_term_invalid", "Parent term does not exist.", 400)
        for term in call.site.terms.values():
            if term["taxonomy"] == taxonomy and term["name"].casefold() == name.casefold() and term.get("parent", 0) == parent:
                return wp_error("term_exists", "A term with the name provided already exists with this parent.", 400, term_id=term["id"])
        term_id, slug = next(call.site.term_ids), call.get("slug") or _slugify(name)
        query = "cat" if taxonomy == "category" else "tag"
        term = {"id": term_id, "count": 0, "description": call.get("description", ""), "link": f"{call.base}?{query}={term_id if query == 'cat' else slug}",
                "name": name, "slug": slug, "taxonomy": taxonomy, "meta": {}}
        if taxonomy == "category":
            term["parent"] = parent
        call.site.terms[term_id] = term
        return JSONResponse(render_term(call, term), status_code=201)

    return handler


def get_term(taxonomy: str):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        term = call.site.terms.get(call.get("id"))
        if term is None or term["taxonomy"] != taxonomy:
            return wp_error("rest_term_invalid", "Term does not exist.", 404)
        return JSONResponse(render_term(call, term))

    return handler


async def list_comments(call: Call) -> Response:
    wanted = call.get("status", "approve")
    if wanted != "approve" and call.user is None:
        return wp_error("rest_forbidden_param", "Query parameter not permitted: status", 401)
    statuses = {"approve": ["approved"], "hold": ["hold"], "all": ["approved", "hold"]}.get(wanted, [wanted])
    items = [c for c in call.site.comments.values() if c["status"] in statuses and (not call.get("post") or c["post"] in call.get("post"))
             and _after(call, c, "after", "date_gmt")]
    items = _sorted(call, items, {"date_gmt": "date_gmt", "date": "date_gmt", "id": "id"})
    return paginate(call, [render_comment(call, c) for c in items], "rest_comment_invalid_page_number")


async def create_comment(call: Call) -> Response:
    if call.user is None:
        return wp_error("rest_comment_login_required", "Sorry, you must be logged in to comment.", 401)
    post = call.site.posts.get(call.get("post", 0))
    if post is None or post["type"] == "attachment":
        return wp_error("rest_comment_invalid_post_id", "Sorry, you are not allowed to create this comment without a post.", 403)
    content = _raw(call.get("content", "")).strip()
    if not content:
        return wp_error("rest_comment_content_invalid", "Invalid comment content.", 400)
    user, now = call.site.users[call.user], call.site.now()
    status = {"hold": "hold", "0": "hold"}.get(str(call.get("status", "approved")), "approved")
    comment = {"id": next(call.site.comment_ids), "post": post["id"], "parent": call.get("parent", 0), "author": call.user,
               "author_name": call.get("author_name", user["name"]), "author_url": call.get("author_url", user["url"]),
               "date": now, "date_gmt": now, "content": content, "status": status, "type": "comment",
               "author_avatar_urls": user["avatar_urls"], "meta": {}}
    call.site.comments[comment["id"]] = comment
    return JSONResponse(render_comment(call, comment, edit=True), status_code=201)


async def users_me(call: Call) -> Response:
    if call.user is None:
        return wp_error("rest_not_logged_in", "You are not currently logged in.", 401)
    user = dict(call.site.users[call.user])
    if call.get("context") == "edit":
        user.update(username=USERNAME, email="admin@example.org", roles=["administrator"], registered_date="2017-02-14T00:00:00+00:00",
                    first_name="", last_name="", nickname=USERNAME, locale="en_US", capabilities={"administrator": True}, extra_capabilities={"administrator": True})
    return JSONResponse(user)


async def index(call: Call) -> Response:
    return JSONResponse(INDEX)


P, P_ID = "/wp/v2/posts", r"/wp/v2/posts/(?P<id>[\d]+)"
HANDLERS: dict[tuple[str, str], Any] = {
    ("/", "GET"): index,
    ("/wp/v2/users/me", "GET"): users_me,
    (P, "GET"): list_posts("post"), (P, "POST"): create_post("post"),
    (P_ID, "POST"): update_post("post"), (P_ID, "PUT"): update_post("post"), (P_ID, "PATCH"): update_post("post"),
    (P_ID, "DELETE"): delete_post,
    ("/wp/v2/pages", "POST"): create_post("page"),
    ("/wp/v2/media", "GET"): list_posts("attachment"), ("/wp/v2/media", "POST"): upload_media,
    (r"/wp/v2/media/(?P<id>[\d]+)", "POST"): update_post("attachment"),
    ("/wp/v2/categories", "GET"): list_terms("category"), ("/wp/v2/categories", "POST"): create_term("category"),
    (r"/wp/v2/categories/(?P<id>[\d]+)", "GET"): get_term("category"),
    ("/wp/v2/tags", "GET"): list_terms("post_tag"), ("/wp/v2/tags", "POST"): create_term("post_tag"),
    (r"/wp/v2/tags/(?P<id>[\d]+)", "GET"): get_term("post_tag"),
    ("/wp/v2/comments", "GET"): list_comments, ("/wp/v2/comments", "POST"): create_comment,
}


# -- HTTP ----------------------------------------------------------------------------------


def _base(request: Request) -> str:
    """The site's address, also when mounted under a prefix (``cellwright serve``)."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}/"


def _user(site: Site, request: Request) -> int | None | Response:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        login, _, password = base64.b64decode(value, validate=True).decode("utf-8", "replace").partition(":")
    except ValueError:
        login = password = ""
    if login not in (USERNAME, "admin@example.org"):
        return wp_error("invalid_username", "Unknown username. Check again or try your email address.", 401)
    if re.sub(r"[^a-z\d]", "", password, flags=re.I) != re.sub(r"[^a-z\d]", "", APPLICATION_PASSWORD, flags=re.I):
        return wp_error("incorrect_password", "The provided password is an invalid application password.", 401)
    return 1


async def dispatch(request: Request, route: str) -> Response:
    site: Site = request.app.state.site
    if site.fail_next:
        fail, site.fail_next = site.fail_next, None
        headers = {"Retry-After": str(fail["retry_after"])} if "retry_after" in fail else {}
        response = wp_error(fail.get("code", "sandbox_failure"), fail.get("message", "Simulated failure."), fail["status"])
        response.headers.update(headers)
        return response
    user = _user(site, request)
    if isinstance(user, Response):
        return user
    route = "/" + route.strip("/")
    found = next(((m, pattern, spec) for regex, pattern, spec in ROUTES if (m := regex.match(route))), None)
    method = "GET" if request.method == "HEAD" else request.method
    endpoint = found and next((e for e in found[2]["endpoints"] if method in e["methods"]), None)
    handler = found and HANDLERS.get((found[1], method))
    if not found or not endpoint or not handler:
        return wp_error("rest_no_route", "No route was found matching the URL and request method.", 404)
    params: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "rest_route"}
    if "json" in request.headers.get("content-type", ""):
        try:
            params.update(json.loads(await request.body() or b"{}"))
        except ValueError:
            return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400)
    params.update({k: int(v) if v.isdigit() else v for k, v in found[0].groupdict().items()})
    checked = validate(endpoint.get("args", {}), params)
    if isinstance(checked, Response):
        return checked
    return await handler(Call(site, request, user, checked, _base(request)))  # type: ignore[no-any-return]


async def home(request: Request) -> Response:
    if "rest_route" in request.query_params:
        return await dispatch(request, request.query_params["rest_route"])
    site: Site = request.app.state.site
    root = f"{_base(request)}wp-json/" if site.pretty else f"{_base(request)}?rest_route=/"
    page = "<!doctype html><title>Test Blog</title><h1>Test Blog</h1>"
    return HTMLResponse(page, headers={"Link": f'<{root}>; rel="https://api.w.org/"'})


async def pretty_route(request: Request) -> Response:
    if not request.app.state.site.pretty:
        return HTMLResponse("<!doctype html><title>Page not found</title>", status_code=404)
    return await dispatch(request, request.path_params.get("route", ""))


async def control(request: Request) -> Response:
    site: Site = request.app.state.site
    orders = await request.json()
    site.pretty = orders.get("pretty_permalinks", site.pretty)
    site.fail_next = orders.get("fail_next", site.fail_next)
    site.offset += timedelta(seconds=orders.get("advance_clock", 0))
    return JSONResponse({"pretty_permalinks": site.pretty, "now": site.now()})


async def third_party_file(request: Request) -> Response:
    if "authorization" in request.headers:
        return Response("credentials sent to a third-party host", status_code=400)
    name = request.path_params["name"]
    if name.startswith("missing"):
        return Response("not found", status_code=404)
    if name.endswith(".png"):
        return Response(TINY_PNG, media_type="image/png")
    return Response(b"hello from a file host\n", media_type="application/octet-stream")


def create_app() -> Starlette:
    """A fresh simulated site."""
    app = Starlette(routes=[
        Route("/", home, methods=METHODS),
        Route("/index.php", home, methods=METHODS),
        Route("/wp-json", pretty_route, methods=METHODS),
        Route("/wp-json/{route:path}", pretty_route, methods=METHODS),
        Route("/__sandbox__/control", control, methods=["POST"]),
        Route("/__sandbox__/files/{name}", third_party_file, methods=["GET"]),
    ])
    app.state.site = Site()
    return app
