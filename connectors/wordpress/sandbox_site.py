"""The simulated WordPress site behind ``sandbox.py``: its state and what each route does.

Handlers receive a ``Call`` (the request after dispatch and argument validation) and
answer like WordPress 6.8's controllers, error codes and messages included. Seeded
from ``spec/sample-responses.json``; the site's time zone is UTC+2 (``UTC_OFFSET``), so
``date`` (site time) differs from ``date_gmt``, and titles are rendered as WordPress renders
them (``&#038;``, ``&#8217;``…).
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.wordpress.auth import SANDBOX_CREDENTIALS

SPEC = Path(__file__).parent / "spec"
INDEX: dict[str, Any] = json.loads((SPEC / "wp-json-index.subset.json").read_text(encoding="utf-8"))
SAMPLES: dict[str, Any] = json.loads((SPEC / "sample-responses.json").read_text(encoding="utf-8"))[
    "responses"
]
USERNAME = SANDBOX_CREDENTIALS["username"]
FILE_TYPES = {  # by extension, as wp_check_filetype() decides
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
}
SUBSCRIBER_CREDENTIALS = {
    "username": "restapiclientfixtureuser",  # the seeded user 2 ("REST API Client Fixture: User")
    "application_password": "wxyz WXYZ 9876 abcd EFGH 5432",  # published: the sandbox's subscriber
}
"""A user whose role is Subscriber: it may read, and nothing else (WordPress's default roles,
https://wordpress.org/documentation/article/roles-and-capabilities/), so creating, editing or
deleting answers 403 as core's permission checks do."""
CAPABILITIES = {
    "administrator": frozenset(
        {"read", "edit_posts", "edit_pages", "delete_posts", "upload_files", "manage_categories"}
    ),
    "subscriber": frozenset({"read"}),
}
"""The capabilities the routes here check, per role (the part of the roles' lists that matters)."""
LINK_QUERY = {"post": "p", "page": "page_id", "attachment": "attachment_id"}
# what each post type shows besides id, dates, slug, status, type, link, title (and content)
FIELDS = {
    "post": (
        "author",
        "featured_media",
        "comment_status",
        "ping_status",
        "sticky",
        "template",
        "format",
        "meta",
        "categories",
        "tags",
    ),
    "page": (
        "author",
        "featured_media",
        "parent",
        "menu_order",
        "comment_status",
        "ping_status",
        "template",
        "meta",
    ),
    "attachment": ("author", "featured_media", "comment_status", "ping_status", "template", "meta"),
}


def wp_error(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "data": {"status": status, **data}}, status_code=status
    )


UTC_OFFSET = timedelta(hours=2)
"""The site's time zone (UTC+2, e.g. Europe/Paris in summer): ``date`` and ``modified`` are
site time and differ from ``date_gmt`` / ``modified_gmt``, as on most real sites."""


def _texturize(text: str) -> str:
    """What ``get_the_title()`` makes of a title (``wptexturize`` and ``convert_chars``,
    https://developer.wordpress.org/reference/functions/wptexturize/): an ampersand becomes
    ``&#038;``, an apostrophe ``&#8217;``, straight double quotes curly ones."""
    text = re.sub(r"&(?!#?\w+;)", "&#038;", text)
    text = re.sub(r"(?<=\w)'", "&#8217;", text).replace("'", "&#8216;")
    return re.sub(r'"([^"]*)"', "&#8220;\\1&#8221;", text)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _parse_date(value: str) -> datetime:
    """A date-time argument in GMT (a naive one as it is: the caller knows whose time it is)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _raw(value: Any) -> str:
    """A text argument: a plain string or ``{"raw": …}`` (WordPress takes both)."""
    return str(value.get("raw", "")) if isinstance(value, dict) else str(value)


def _autop(text: str) -> str:
    return text if not text.strip() or text.lstrip().startswith("<") else f"<p>{text}</p>\n"


def _slugify(text: str) -> str:
    text = (
        unicodedata.normalize("NFKD", html.unescape(text))
        .encode("ascii", "ignore")
        .decode()
        .lower()
    )
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


class Site:
    """The site's state. Posts, pages and attachments share one id sequence (wp_posts)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.utc_offset = UTC_OFFSET  # Settings → General → Timezone: dates are shown in it
        self.pretty = True
        self.fail_next: dict[str, Any] | None = None
        self.users = {
            u["id"]: {k: v for k, v in u.items() if k != "_links"}
            for u in SAMPLES["UsersCollection"]
        }
        self.roles = {1: "administrator", 2: "subscriber"}
        # Posts, pages and media keep their text fields as stored (``raw``); rendering adds HTML.
        self.posts: dict[int, dict[str, Any]] = {}
        for key in ("PostModel", "PageModel", "MediaModel"):
            seed = SAMPLES[key]
            item = {
                k: v for k, v in seed.items() if k not in ("_links", "guid", "link", "class_list")
            }
            for text in ("title", "content", "excerpt", "caption", "description"):
                if text in seed:
                    item[text] = seed[text]["rendered"]
            self.posts[item["id"]] = item
        self.terms = {t["id"]: dict(t) for t in (SAMPLES["CategoryModel"], SAMPLES["TagModel"])}
        comment = {k: v for k, v in SAMPLES["CommentModel"].items() if k not in ("_links", "link")}
        self.comments = {comment["id"]: {**comment, "content": comment["content"]["rendered"]}}
        self.post_ids, self.term_ids = itertools.count(11), itertools.count(3)  # after the seeds
        self.comment_ids = itertools.count(3)

    def local(self, gmt: str) -> str:
        """A GMT stamp in the site's time zone."""
        return _stamp(datetime.fromisoformat(gmt) + self.utc_offset)

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


Handler = Callable[[Call], Awaitable[Response]]


def can(call: Call, capability: str) -> bool:
    """``current_user_can``: the signed-in user's role has ``capability`` (a visitor has none)."""
    return (
        call.user is not None
        and capability in CAPABILITIES[call.site.roles.get(call.user, "subscriber")]
    )


def refused(call: Call, capability: str, code: str, message: str) -> Response | None:
    """Core's permission checks (``current_user_can``, e.g. ``create_item_permissions_check``
    in ``WP_REST_Posts_Controller``, https://developer.wordpress.org/rest-api/): a
    ``WP_Error`` whose status is ``rest_authorization_required_code()``: 401 for a visitor,
    403 for a signed-in user whose role lacks ``capability``. None when allowed."""
    if can(call, capability):
        return None
    return wp_error(code, message, 401 if call.user is None else 403)


# -- rendering -----------------------------------------------------------------------------


def render_post(call: Call, item: dict[str, Any], edit: bool = False) -> dict[str, Any]:
    kind = item["type"]
    link = f"{call.base}?{LINK_QUERY[kind]}={item['id']}"

    def text(key: str) -> dict[str, Any]:
        raw = item.get(key, "")
        rendered = (
            _texturize(raw)
            if key == "title"
            else _autop(raw or re.sub(r"<[^>]+>", "", item.get("content", "")))
        )
        return {"raw": raw, "rendered": rendered} if edit else {"rendered": rendered}

    data: dict[str, Any] = {
        "id": item["id"],
        "date": call.site.local(item["date_gmt"]),
        "date_gmt": item["date_gmt"],
        "guid": {"rendered": link},
        "modified": call.site.local(item["modified_gmt"]),
        "modified_gmt": item["modified_gmt"],
        "slug": item["slug"],
        "status": item["status"],
        "type": kind,
        "link": link,
        "title": text("title"),
    }
    if kind != "attachment":
        data["content"] = {**text("content"), "protected": False}
        data["excerpt"] = {**text("excerpt"), "protected": False}
    data.update({k: item.get(k) for k in FIELDS[kind]})
    if kind == "attachment":
        data.update(
            description=text("description"),
            caption=text("caption"),
            alt_text=item.get("alt_text", ""),
            media_type=item["media_type"],
            mime_type=item["mime_type"],
            media_details=item.get("media_details", {}),
            post=item.get("post"),
            source_url=item["source_url"],
        )
    return data


def render_term(call: Call, term: dict[str, Any]) -> dict[str, Any]:
    field = "categories" if term["taxonomy"] == "category" else "tags"
    count = sum(
        1
        for p in call.site.posts.values()
        if p["status"] == "publish" and term["id"] in p.get(field, [])
    )
    return {**term, "count": count}


def render_comment(call: Call, comment: dict[str, Any], edit: bool = False) -> dict[str, Any]:
    content = {"rendered": _autop(comment["content"])} | (
        {"raw": comment["content"]} if edit else {}
    )
    return {
        **comment,
        "content": content,
        "link": f"{call.base}?p={comment['post']}#comment-{comment['id']}",
    }


def paginate(call: Call, items: list[Any], invalid_page: str | None = None) -> Response:
    per_page, page = call.get("per_page", 10), call.get("page", 1)
    total, pages = len(items), math.ceil(len(items) / per_page)
    if invalid_page and total and page > pages:
        return wp_error(
            invalid_page,
            "The page number requested is larger than the number of pages available.",
            400,
        )
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    near = ((page - 1, "prev"), (page + 1, "next"))
    links = [
        f'<{call.request.url.include_query_params(page=n)}>; rel="{rel}"'
        for n, rel in near
        if 1 <= n <= pages
    ]
    if links:
        headers["Link"] = ", ".join(links)
    return JSONResponse(items[(page - 1) * per_page : page * per_page], headers=headers)


def _sorted(
    call: Call, items: list[dict[str, Any]], columns: dict[str, str], order: str = "desc"
) -> list[Any]:
    """``columns`` maps ``orderby`` values to fields; its first entry is the default."""
    column = columns.get(call.get("orderby", next(iter(columns))), "id")
    key = (
        (lambda i: (i[column], i["id"]))
        if column == "id"
        else (lambda i: (str(i.get(column, "")), i["id"]))
    )
    return sorted(items, key=key, reverse=call.get("order", order) == "desc")


def _after(call: Call, item: dict[str, Any], arg: str, column: str) -> bool:
    value = call.get(arg)
    if value is None:
        return True
    moment = _parse_date(value)
    if not re.search(r"(Z|[+-]\d\d:?\d\d)$", str(value)):
        moment -= call.site.utc_offset  # WordPress reads a date without an offset as site time
    return bool(item[column] > _stamp(moment))


# -- posts, pages, media -------------------------------------------------------------------


def list_posts(kind: str) -> Handler:
    async def handler(call: Call) -> Response:
        default = ["inherit"] if kind == "attachment" else ["publish"]
        statuses = call.get("status", default)
        if statuses != default and not can(call, "edit_posts"):  # sanitize_post_statuses()
            return wp_error(
                "rest_invalid_param",
                "Invalid parameter(s): status",
                400,
                params={"status": "Status is forbidden."},
            )
        search, slugs = str(call.get("search", "")).casefold(), call.get("slug")
        items = [
            p
            for p in call.site.posts.values()
            if p["type"] == kind
            and p["status"] in statuses
            and (not slugs or p["slug"] in slugs)
            and search in f"{p['title']} {p.get('content', '')} {p.get('excerpt', '')}".casefold()
            and call.get("media_type") in (None, p.get("media_type"))
            and _after(call, p, "after", "date_gmt")
            and _after(call, p, "modified_after", "modified_gmt")
        ]
        columns = {
            "date": "date_gmt",
            "modified": "modified_gmt",
            "id": "id",
            "title": "title",
            "slug": "slug",
        }
        items = _sorted(call, items, columns)
        return paginate(
            call, [render_post(call, p) for p in items], "rest_post_invalid_page_number"
        )

    return handler


def _apply(call: Call, item: dict[str, Any]) -> Response | None:
    site, params = call.site, call.params
    for key in ("title", "content", "excerpt", "caption", "description"):
        if key in params:
            item[key] = _raw(params[key])
    plain = (
        "status",
        "comment_status",
        "ping_status",
        "sticky",
        "format",
        "template",
        "parent",
        "menu_order",
        "alt_text",
        "post",
    )
    item.update({key: params[key] for key in plain if key in params})
    if "date_gmt" in params or "date" in params:
        if "date_gmt" in params:
            moment = _parse_date(params["date_gmt"])
        else:  # ``date`` is site time unless it names its offset
            given = params["date"]
            moment = _parse_date(given)
            if not re.search(r"(Z|[+-]\d\d:?\d\d)$", str(given)):
                moment -= site.utc_offset
        item["date"] = item["date_gmt"] = _stamp(moment)
    if "author" in params and params["author"] not in site.users:
        return wp_error("rest_invalid_author", "Invalid author ID.", 400)
    item["author"] = params.get("author", item.get("author", call.user))
    media = params.get("featured_media")
    if media and site.posts.get(media, {}).get("type") != "attachment":
        return wp_error("rest_invalid_featured_media", "Invalid featured media ID.", 400)
    item["featured_media"] = media if media is not None else item.get("featured_media", 0)
    for field, taxonomy in (("categories", "category"), ("tags", "post_tag")):
        if field in params:  # unknown ids are skipped, like wp_set_object_terms() does
            item[field] = [
                i for i in params[field] if site.terms.get(i, {}).get("taxonomy") == taxonomy
            ]
    slug = (
        params.get("slug") or item.get("slug") or _slugify(item.get("title", "")) or str(item["id"])
    )
    item["slug"] = site.unique_slug(slug, item["type"], item["id"])
    item["modified"] = item["modified_gmt"] = site.now()
    return None


def create_post(kind: str) -> Handler:
    async def handler(call: Call) -> Response:
        denied = refused(
            call,
            "edit_posts" if kind == "post" else "edit_pages",
            "rest_cannot_create",
            "Sorry, you are not allowed to create posts as this user.",
        )
        if denied:
            return denied
        now, discussion = call.site.now(), "open" if kind == "post" else "closed"
        item: dict[str, Any] = {
            "id": next(call.site.post_ids),
            "type": kind,
            "status": "draft",
            "date": now,
            "date_gmt": now,
            "comment_status": discussion,
            "ping_status": discussion,
            "template": "",
            "meta": {},
            "title": "",
            "content": "",
            "excerpt": "",
        }
        if kind == "post":
            item.update(
                sticky=False, format="standard", categories=[1], tags=[]
            )  # 1: Uncategorized
        else:
            item.update(parent=0, menu_order=0)
        failed = _apply(call, item)
        if failed:
            return failed
        call.site.posts[item["id"]] = item
        location = f"{call.base}wp-json/wp/v2/{kind}s/{item['id']}"
        return JSONResponse(
            render_post(call, item, edit=True), status_code=201, headers={"Location": location}
        )

    return handler


def _find(call: Call, kind: str) -> dict[str, Any] | Response:
    item = call.site.posts.get(call.get("id"))
    if item is None or item["type"] != kind:
        return wp_error("rest_post_invalid_id", "Invalid post ID.", 404)
    return item


def update_post(kind: str) -> Handler:
    async def handler(call: Call) -> Response:
        item = _find(call, kind)
        if isinstance(item, Response):
            return item
        denied = refused(
            call,
            "upload_files" if kind == "attachment" else "edit_posts",
            "rest_cannot_edit",
            "Sorry, you are not allowed to edit this post.",
        )
        if denied:
            return denied
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
    denied = refused(
        call,
        "delete_posts",
        "rest_cannot_delete",
        "Sorry, you are not allowed to delete this post.",
    )
    if denied:
        return denied
    if call.get("force"):
        del call.site.posts[item["id"]]
        return JSONResponse({"deleted": True, "previous": render_post(call, item, edit=True)})
    if item["status"] == "trash":
        return wp_error("rest_already_trashed", "The post has already been deleted.", 410)
    item.update(status="trash", modified=call.site.now(), modified_gmt=call.site.now())
    return JSONResponse(render_post(call, item, edit=True))


async def upload_media(call: Call) -> Response:
    """Raw-body upload, as in WP_REST_Attachments_Controller::upload_from_data()."""
    denied = refused(
        call,
        "upload_files",
        "rest_cannot_create",
        "Sorry, you are not allowed to upload media on this site.",
    )
    if denied:
        return denied
    body, headers = await call.request.body(), call.request.headers
    if not body:
        return wp_error("rest_upload_no_data", "No data supplied.", 400)
    if not headers.get("content-type"):
        return wp_error("rest_upload_no_content_type", "No Content-Type supplied.", 400)
    if not headers.get("content-disposition"):
        return wp_error(
            "rest_upload_no_content_disposition", "No Content-Disposition supplied.", 400
        )
    match = re.search(r'filename="?([^";]+)"?', headers["content-disposition"])
    if not match:
        return wp_error(
            "rest_upload_invalid_disposition",
            "Invalid Content-Disposition supplied. Content-Disposition "
            'needs to be formatted as `attachment; filename="image.png"` or similar.',
            400,
        )
    filename = match.group(1)
    stem, _, extension = filename.rpartition(".")
    mime = FILE_TYPES.get(extension.lower()) if stem else None
    if mime is None:
        return wp_error(
            "rest_upload_sideload_error",
            "Sorry, you are not allowed to upload this file type.",
            500,
        )
    now = call.site.now()
    item: dict[str, Any] = {
        "id": next(call.site.post_ids),
        "type": "attachment",
        "status": "inherit",
        "date": now,
        "date_gmt": now,
        "modified": now,
        "modified_gmt": now,
        "slug": call.site.unique_slug(_slugify(stem), "attachment"),
        "title": stem,
        "author": call.user,
        "featured_media": 0,
        "comment_status": "open",
        "ping_status": "closed",
        "template": "",
        "meta": {},
        "description": "",
        "caption": "",
        "alt_text": "",
        "post": None,
        "media_type": "image" if mime.startswith("image/") else "file",
        "mime_type": mime,
        "media_details": {"filesize": len(body)},
        "source_url": f"{call.base}wp-content/uploads/{now[:4]}/{now[5:7]}/{filename}",
    }
    call.site.posts[item["id"]] = item
    location = f"{call.base}wp-json/wp/v2/media/{item['id']}"
    return JSONResponse(
        render_post(call, item, edit=True), status_code=201, headers={"Location": location}
    )


# -- terms, comments, users ---------------------------------------------------------------


def list_terms(taxonomy: str) -> Handler:
    async def handler(call: Call) -> Response:
        search, slugs = str(call.get("search", "")).casefold(), call.get("slug")
        items = [
            t
            for t in call.site.terms.values()
            if t["taxonomy"] == taxonomy
            and (not slugs or t["slug"] in slugs)
            and (
                search in t["name"].casefold() or search in t["slug"]
            )  # LIKE on the stored, escaped name
        ]
        items = _sorted(call, items, {"name": "name", "slug": "slug", "id": "id"}, order="asc")
        return paginate(call, [render_term(call, t) for t in items])

    return handler


def create_term(taxonomy: str) -> Handler:
    async def handler(call: Call) -> Response:
        denied = refused(
            call,
            "manage_categories",
            "rest_cannot_create",
            "Sorry, you are not allowed to create terms in this taxonomy.",
        )
        if denied:
            return denied
        name, parent = html.escape(call.get("name").strip(), quote=False), call.get("parent", 0)
        if parent and parent not in call.site.terms:
            return wp_error("rest_term_invalid", "Parent term does not exist.", 400)
        for term in call.site.terms.values():
            same = term["taxonomy"] == taxonomy and term["name"].casefold() == name.casefold()
            if same and term.get("parent", 0) == parent:
                return wp_error(
                    "term_exists",
                    "A term with the name provided already exists with this parent.",
                    400,
                    term_id=term["id"],
                )
        term_id, slug = next(call.site.term_ids), call.get("slug") or _slugify(name)
        link = f"{call.base}?cat={term_id}" if taxonomy == "category" else f"{call.base}?tag={slug}"
        term = {
            "id": term_id,
            "count": 0,
            "description": call.get("description", ""),
            "link": link,
            "name": name,
            "slug": slug,
            "taxonomy": taxonomy,
            "meta": {},
        }
        if taxonomy == "category":
            term["parent"] = parent
        call.site.terms[term_id] = term
        return JSONResponse(render_term(call, term), status_code=201)

    return handler


def get_term(taxonomy: str) -> Handler:
    async def handler(call: Call) -> Response:
        term = call.site.terms.get(call.get("id"))
        if term is None or term["taxonomy"] != taxonomy:
            return wp_error("rest_term_invalid", "Term does not exist.", 404)
        return JSONResponse(render_term(call, term))

    return handler


async def list_comments(call: Call) -> Response:
    wanted = call.get("status", "approve")
    if wanted != "approve":
        denied = refused(
            call, "edit_posts", "rest_forbidden_param", "Query parameter not permitted: status"
        )
        if denied:
            return denied
    statuses = {"approve": ["approved"], "hold": ["hold"], "all": ["approved", "hold"]}.get(
        wanted, [wanted]
    )
    posts = call.get("post")
    items = [
        c
        for c in call.site.comments.values()
        if c["status"] in statuses
        and (not posts or c["post"] in posts)
        and _after(call, c, "after", "date_gmt")
    ]
    items = _sorted(call, items, {"date_gmt": "date_gmt", "date": "date_gmt", "id": "id"})
    return paginate(
        call, [render_comment(call, c) for c in items], "rest_comment_invalid_page_number"
    )


async def create_comment(call: Call) -> Response:
    if call.user is None:
        return wp_error(
            "rest_comment_login_required", "Sorry, you must be logged in to comment.", 401
        )
    post = call.site.posts.get(call.get("post", 0))
    if post is None or post["type"] == "attachment":
        return wp_error(
            "rest_comment_invalid_post_id",
            "Sorry, you are not allowed to create this comment without a post.",
            403,
        )
    content = _raw(call.get("content", "")).strip()
    if not content:
        return wp_error("rest_comment_content_invalid", "Invalid comment content.", 400)
    user, now = call.site.users[call.user], call.site.now()
    status = {"hold": "hold", "0": "hold"}.get(str(call.get("status", "approved")), "approved")
    comment = {
        "id": next(call.site.comment_ids),
        "post": post["id"],
        "parent": call.get("parent", 0),
        "author": call.user,
        "author_name": call.get("author_name", user["name"]),
        "author_url": call.get("author_url", user["url"]),
        "date": now,
        "date_gmt": now,
        "content": content,
        "status": status,
        "type": "comment",
        "author_avatar_urls": user["avatar_urls"],
        "meta": {},
    }
    call.site.comments[comment["id"]] = comment
    return JSONResponse(render_comment(call, comment, edit=True), status_code=201)


async def users_me(call: Call) -> Response:
    if call.user is None:
        return wp_error("rest_not_logged_in", "You are not currently logged in.", 401)
    user = dict(call.site.users[call.user])
    if call.get("context") == "edit" and call.site.roles.get(call.user) == "subscriber":
        user.update(
            username=SUBSCRIBER_CREDENTIALS["username"],
            email="reader@example.org",
            roles=["subscriber"],
            capabilities={"subscriber": True},
            extra_capabilities={"subscriber": True},
        )
    elif call.get("context") == "edit":
        user.update(
            username=USERNAME,
            email="admin@example.org",
            roles=["administrator"],
            first_name="",
            last_name="",
            nickname=USERNAME,
            locale="en_US",
            registered_date="2017-02-14T00:00:00+00:00",
            capabilities={"administrator": True},
            extra_capabilities={"administrator": True},
        )
    return JSONResponse(user)


async def index(call: Call) -> Response:
    """The stored index, with this site's time zone (``gmt_offset`` in
    hours, as WordPress sends it)."""
    hours = call.site.utc_offset.total_seconds() / 3600
    return JSONResponse({**INDEX, "gmt_offset": f"{hours:g}"})


P, P_ID = "/wp/v2/posts", r"/wp/v2/posts/(?P<id>[\d]+)"
HANDLERS: dict[tuple[str, str], Handler] = {
    ("/", "GET"): index,
    ("/wp/v2/users/me", "GET"): users_me,
    (P, "GET"): list_posts("post"),
    (P, "POST"): create_post("post"),
    (P_ID, "POST"): update_post("post"),
    (P_ID, "PUT"): update_post("post"),
    (P_ID, "PATCH"): update_post("post"),
    (P_ID, "DELETE"): delete_post,
    ("/wp/v2/pages", "POST"): create_post("page"),
    ("/wp/v2/media", "GET"): list_posts("attachment"),
    ("/wp/v2/media", "POST"): upload_media,
    (r"/wp/v2/media/(?P<id>[\d]+)", "POST"): update_post("attachment"),
    ("/wp/v2/categories", "GET"): list_terms("category"),
    ("/wp/v2/categories", "POST"): create_term("category"),
    (r"/wp/v2/categories/(?P<id>[\d]+)", "GET"): get_term("category"),
    ("/wp/v2/tags", "GET"): list_terms("post_tag"),
    ("/wp/v2/tags", "POST"): create_term("post_tag"),
    (r"/wp/v2/tags/(?P<id>[\d]+)", "GET"): get_term("post_tag"),
    ("/wp/v2/comments", "GET"): list_comments,
    ("/wp/v2/comments", "POST"): create_comment,
}
