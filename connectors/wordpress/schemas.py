"""Input and output models of the WordPress operations.

Outputs keep WordPress's own shapes (``title.rendered``, ids for terms) so the REST
API documentation applies; ``extra="allow"`` passes through fields a site adds
(plugins register their own). Inputs take simple values: a mapped title, HTML
content, a status, category and tag *names*.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from connectors.sdk.options import dynamic

PostStatus = Literal["publish", "future", "draft", "pending", "private"]
NewPostStatus = Literal["publish", "private", "draft", "pending"]


def _names_or_ids(value: Any) -> Any:
    """``"News, Events"`` → ``["News", "Events"]``; ``7`` → ``[7]``; empty → not given."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


def _published() -> list[PostStatus]:
    return ["publish"]


def _publish_only() -> list[NewPostStatus]:
    return ["publish"]


TermList = Annotated[list[int | str] | None, BeforeValidator(_names_or_ids)]


# -- outputs ---------------------------------------------------------------------------


class Rendered(BaseModel):
    """A text field: the HTML WordPress displays and, for users who may edit it, the stored text."""

    model_config = ConfigDict(extra="allow")
    rendered: str = Field("", description="The HTML shown on the site.")
    raw: str | None = Field(
        None, description="The text as stored (only returned to users who can edit it)."
    )


class _Item(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int = Field(description="The item's id.")
    date: str | None = Field(
        None, description="Publication date in the site's time zone (ISO 8601, no offset)."
    )
    date_gmt: str | None = Field(None, description="Publication date in GMT (ISO 8601, no offset).")
    modified: str | None = Field(None, description="Last change in the site's time zone.")
    modified_gmt: str | None = Field(None, description="Last change in GMT.")
    slug: str = Field("", description="The URL-friendly name.")
    status: str = Field(
        description="publish, future, draft, pending, private, trash, or inherit (media)."
    )
    type: str = Field(description="post, page or attachment.")
    link: str = Field("", description="The public URL.")
    title: Rendered = Field(description="The title.")
    title_text: str = Field(
        "",
        description="The title as plain text: HTML entities such as &#8217; decoded, tags removed.",
    )
    author: int = Field(0, description="The author's user id.")


class _Document(_Item):
    content: Rendered = Field(description="The body (HTML).")
    excerpt: Rendered = Field(description="The summary.")
    featured_media: int = Field(0, description="The id of the featured image (0: none).")


class Post(_Document):
    """A WordPress post."""

    sticky: bool = Field(False, description="Pinned to the top of the blog.")
    format: str = Field("standard", description="The post format (standard, aside, gallery…).")
    categories: list[int] = Field(default_factory=list, description="Category ids.")
    tags: list[int] = Field(default_factory=list, description="Tag ids.")


class Page(_Document):
    """A WordPress page."""

    parent: int = Field(0, description="The parent page's id (0: top level).")
    menu_order: int = Field(0, description="The position among its sibling pages.")


class Media(_Item):
    """A media library item (attachment)."""

    source_url: str = Field(description="The URL of the uploaded file.")
    mime_type: str = Field(description="The file's content type, e.g. image/jpeg.")
    media_type: str = Field(description="image or file.")
    alt_text: str = Field("", description="Alternative text for images.")
    caption: Rendered = Field(
        default_factory=lambda: Rendered(rendered="", raw=None), description="The caption."
    )
    description: Rendered = Field(
        default_factory=lambda: Rendered(rendered="", raw=None), description="The description."
    )
    post: int | None = Field(None, description="The post the file is attached to.")


class Comment(BaseModel):
    """A comment."""

    model_config = ConfigDict(extra="allow")
    id: int = Field(description="The comment's id.")
    post: int = Field(description="The id of the post it belongs to.")
    parent: int = Field(0, description="The comment it replies to (0: none).")
    author: int = Field(0, description="The author's user id (0: a visitor).")
    author_name: str = Field("", description="The author's display name.")
    author_url: str = Field("", description="The author's website.")
    date: str = Field(description="When it was written, site time zone.")
    date_gmt: str = Field(description="When it was written, GMT.")
    content: Rendered = Field(description="The text.")
    link: str = Field("", description="The public URL.")
    status: str = Field(description="approved, hold, spam or trash.")
    type: str = Field("comment", description="comment, pingback or trackback.")


class Term(BaseModel):
    """A category or tag."""

    model_config = ConfigDict(extra="allow")
    id: int = Field(description="The term's id (what posts list in categories/tags).")
    name: str = Field(description="The name (HTML-escaped by WordPress, e.g. 'News &amp; Events').")
    slug: str = Field(description="The URL-friendly name.")
    taxonomy: str = Field(description="category or post_tag.")
    description: str = Field("", description="The description.")
    count: int = Field(0, description="How many published posts use it.")
    parent: int | None = Field(None, description="The parent category's id (categories only).")
    link: str = Field("", description="The archive page URL.")


class TermResult(Term):
    """A category or tag found or created."""

    created: bool = Field(description="True when it did not exist and was created.")


class FoundPosts(BaseModel):
    """Posts matching a search."""

    posts: list[Post] = Field(description="The matching posts, newest first.")
    count: int = Field(description="How many are listed here.")
    total: int = Field(description="How many match in all (X-WP-Total).")


class DeletedPost(BaseModel):
    """The outcome of deleting a post."""

    id: int = Field(description="The post's id.")
    deleted: bool = Field(description="True: deleted for good. False: moved to the trash.")
    post: Post = Field(description="The post as it was (deleted) or now is (trashed).")


# -- action inputs ---------------------------------------------------------------------


class _Terms(BaseModel):
    categories: TermList = Field(
        None,
        description="Categories: names (text, e.g. 'News' or 'News, Events') or ids (numbers).",
        examples=[["News", "Events"]],
        json_schema_extra=dynamic("categories"),
    )
    tags: TermList = Field(
        None, description="Tags: names (text) or ids (numbers).", json_schema_extra=dynamic("tags")
    )
    create_missing_terms: bool = Field(
        True,
        description="Create categories and tags given by name that do not exist yet. Off: the step "
        "fails and names them.",
    )


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, description="The title (plain text).")
    content: str | None = Field(
        None,
        description="The body as HTML, e.g. <p>Hello</p>. Plain text works too: "
        "WordPress adds paragraphs.",
    )
    excerpt: str | None = Field(None, description="A short summary shown in lists and feeds.")
    status: PostStatus | None = Field(
        None,
        description="publish: live now. draft: saved only. pending: awaits review. private: "
        "editors only. future: scheduled for 'date'.",
    )
    slug: str | None = Field(
        None, description="The URL-friendly name; made from the title when empty."
    )
    author: int | None = Field(
        None, description="The author's user id; the connected user when empty."
    )
    featured_media: int | None = Field(
        None, description="The id of a media item to use as the featured image."
    )
    date: datetime | None = Field(
        None,
        description="Publication date. With a time zone (2026-05-01T09:00:00Z) it is exact; "
        "without, it is the site's local time. A future date with status "
        "'future' schedules the post.",
    )


class CreatePostInput(_Terms, _Content):
    """A new post."""

    title: str = Field(description="The title (plain text).")
    status: PostStatus = Field(
        "draft", description="publish, draft (default), pending, private or future."
    )


class _PostId(BaseModel):
    post_id: int = Field(
        gt=0, description="The id of the post to change.", json_schema_extra=dynamic("posts")
    )


class UpdatePostInput(_Terms, _Content, _PostId):
    """Changes to a post; empty fields are left as they are."""


class CreatePageInput(_Content):
    """A new page."""

    title: str = Field(description="The title (plain text).")
    status: PostStatus = Field(
        "draft", description="publish, draft (default), pending, private or future."
    )
    parent: int | None = Field(None, description="The parent page's id, for a sub-page.")
    menu_order: int | None = Field(None, description="The position among its sibling pages.")


class FindPostsInput(BaseModel):
    """What to look for."""

    model_config = ConfigDict(extra="forbid")
    search: str | None = Field(
        None, description="Words to look for in titles, contents and excerpts."
    )
    slug: str | None = Field(None, description="The exact slug (URL name) of the post.")
    status: list[PostStatus] = Field(default_factory=_published, description="Statuses to include.")
    limit: int = Field(10, ge=1, le=100, description="How many posts to return at most.")


class FindOrCreateTermInput(BaseModel):
    """A category or tag by name."""

    model_config = ConfigDict(extra="forbid")
    taxonomy: Literal["category", "tag"] = Field(description="category or tag.")
    name: str = Field(min_length=1, description="The name to look for (case-insensitive).")
    create_if_missing: bool = Field(
        True, description="Create it when no category or tag has this name."
    )
    description: str | None = Field(None, description="The description, when it is created.")
    parent: int | None = Field(
        None, description="The parent category's id, when a category is created."
    )

    @model_validator(mode="after")
    def _parent_only_for_categories(self) -> FindOrCreateTermInput:
        if self.parent is not None and self.taxonomy == "tag":
            raise ValueError("parent: tags have no parent; leave it empty or choose 'category'")
        return self


class UploadMediaInput(BaseModel):
    """A file for the media library: from a URL, or as base64."""

    model_config = ConfigDict(extra="forbid")
    source_url: str | None = Field(None, description="Download the file from this http(s) URL.")
    file_base64: str | None = Field(
        None,
        description="Or the file's bytes as base64 (a data: URL such as data:image/png;base64,… "
        "works too).",
    )
    filename: str | None = Field(
        None, description="The file name, e.g. photo.jpg; taken from the URL when empty."
    )
    content_type: str | None = Field(
        None, description="e.g. image/jpeg; guessed from the download or the file name when empty."
    )
    title: str | None = Field(None, description="The title; the file name when empty.")
    alt_text: str | None = Field(None, description="Alternative text for images (accessibility).")
    caption: str | None = Field(None, description="The caption.")
    description: str | None = Field(None, description="The description.")
    post: int | None = Field(
        None, description="Attach the file to this post id.", json_schema_extra=dynamic("posts")
    )

    @model_validator(mode="after")
    def _one_source(self) -> UploadMediaInput:
        if bool(self.source_url) == bool(self.file_base64):
            raise ValueError("source_url / file_base64: give exactly one of them")
        if self.source_url and not self.source_url.lower().startswith(("http://", "https://")):
            raise ValueError("source_url: must be an http:// or https:// URL")
        return self

    def decoded(self) -> tuple[bytes, str]:
        """The base64 file's bytes and the content type of a data: URL ("" otherwise)."""
        text, content_type = (self.file_base64 or "").strip(), ""
        if text.startswith("data:") and "," in text:
            header, text = text.split(",", 1)
            content_type = header[5:].split(";")[0]
        try:
            return base64.b64decode(text, validate=True), content_type
        except (binascii.Error, ValueError):
            raise ValueError("file_base64: not valid base64") from None


class CreateCommentInput(BaseModel):
    """A comment on a post."""

    model_config = ConfigDict(extra="forbid")
    post: int = Field(
        gt=0, description="The id of the post to comment on.", json_schema_extra=dynamic("posts")
    )
    content: str = Field(min_length=1, description="The comment's text (simple HTML allowed).")
    parent: int | None = Field(None, description="Reply to this comment id.")
    author_name: str | None = Field(
        None, description="The name shown; the connected user's when empty."
    )
    author_email: str | None = Field(
        None,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="The author's e-mail; the connected user's when empty.",
    )
    author_url: str | None = Field(None, description="The author's website.")
    status: Literal["approved", "hold"] | None = Field(
        None, description="approved or hold (awaiting moderation); needs moderation rights."
    )


class DeletePostInput(BaseModel):
    """The post to delete."""

    model_config = ConfigDict(extra="forbid")
    post_id: int = Field(
        gt=0, description="The id of the post.", json_schema_extra=dynamic("posts")
    )
    force: bool = Field(False, description="Delete for good instead of moving it to the trash.")


# -- trigger inputs --------------------------------------------------------------------


class NewPostInput(BaseModel):
    """Which new posts fire."""

    model_config = ConfigDict(extra="forbid")
    status: list[NewPostStatus] = Field(
        default_factory=_publish_only,
        description="Statuses to watch. (Scheduled posts fire when they are published.)",
    )


class UpdatedPostInput(BaseModel):
    """Which posts fire when created or changed."""

    model_config = ConfigDict(extra="forbid")
    status: list[PostStatus] = Field(default_factory=_published, description="Statuses to watch.")


class NewCommentInput(BaseModel):
    """Which new comments fire."""

    model_config = ConfigDict(extra="forbid")
    post: int | None = Field(
        None, description="Only comments on this post id.", json_schema_extra=dynamic("posts")
    )
    status: Literal["approve", "hold", "all"] = Field(
        "approve", description="approve: published comments. hold: awaiting moderation. all: both."
    )


class NewMediaInput(BaseModel):
    """Which new media items fire."""

    model_config = ConfigDict(extra="forbid")
    media_type: Literal["image", "video", "audio", "text", "application"] | None = Field(
        None, description="Only this kind of file; all kinds when empty."
    )
