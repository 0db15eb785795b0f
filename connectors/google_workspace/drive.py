"""Google Drive: upload files, create folders, notice new files in a folder.

Uploads use the multipart protocol (metadata and content in one request,
https://developers.google.com/workspace/drive/api/guides/manage-uploads#multipart),
fine up to 5 MB, which covers what a scenario passes along. Drive answers only
``id, name, mimeType`` unless ``fields`` asks for more, so every call names its fields.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from typing import Any

from connectors.google_workspace.api import DRIVE, DRIVE_UPLOAD, call, pages, quoted
from connectors.google_workspace.schemas import CreateFolderInput, NewFileInput, UploadFileInput
from connectors.sdk import InvalidInputError, OperationContext

FOLDER = "application/vnd.google-apps.folder"
FILE_FIELDS = "id,name,mimeType,parents,createdTime,modifiedTime,webViewLink,size"
MAX_NEW_FILES = 100


def file_output(file: Mapping[str, Any]) -> dict[str, Any]:
    size = file.get("size")
    return {
        "id": file["id"],
        "name": file.get("name", ""),
        "mime_type": file.get("mimeType", ""),
        "parents": list(file.get("parents") or []),
        "created_time": file.get("createdTime"),
        "modified_time": file.get("modifiedTime"),
        "web_view_link": file.get("webViewLink"),
        "size": int(size) if size is not None else None,
    }


def _content(inputs: UploadFileInput) -> bytes:
    if inputs.content is not None:
        return inputs.content.encode()
    try:
        return base64.b64decode(inputs.content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            "content_base64 is not valid base64.",
            errors=[{"field": "content_base64", "message": "not base64"}],
        ) from None


async def upload_file(ctx: OperationContext, inputs: UploadFileInput) -> dict[str, Any]:
    """``files.create`` with ``uploadType=multipart``: JSON metadata, then the content."""
    metadata: dict[str, Any] = {"name": inputs.name, "mimeType": inputs.mime_type}
    if inputs.folder_id:
        metadata["parents"] = [inputs.folder_id]
    boundary = "cellwright-" + secrets.token_hex(12)
    body = b"".join(
        (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps(metadata).encode(),
            f"\r\n--{boundary}\r\nContent-Type: {inputs.mime_type}\r\n\r\n".encode(),
            _content(inputs),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
    file = await call(
        ctx,
        "POST",
        DRIVE_UPLOAD,
        params={"uploadType": "multipart", "fields": FILE_FIELDS},
        content=body,
        headers={"Content-Type": f"multipart/related; boundary={boundary}"},
    )
    return file_output(file)


async def create_folder(ctx: OperationContext, inputs: CreateFolderInput) -> dict[str, Any]:
    """``files.create`` of a folder (metadata only)."""
    metadata: dict[str, Any] = {"name": inputs.name, "mimeType": FOLDER}
    if inputs.parent_id:
        metadata["parents"] = [inputs.parent_id]
    return file_output(
        await call(ctx, "POST", f"{DRIVE}/files", params={"fields": FILE_FIELDS}, json=metadata)
    )


async def fetch_new_files(
    ctx: OperationContext, inputs: NewFileInput, since: Any
) -> list[Mapping[str, Any]]:
    """Files in the folder created after the newest one seen (``files.list``, newest first)."""
    q = f"'{quoted(inputs.folder_id)}' in parents and trashed = false"
    if inputs.mime_type:
        q += f" and mimeType = '{quoted(inputs.mime_type)}'"
    if isinstance(since, str) and since:
        q += f" and createdTime > '{quoted(since)}'"
    files, _ = await pages(
        ctx,
        f"{DRIVE}/files",
        {
            "q": q,
            "orderBy": "createdTime desc",
            "pageSize": 50,
            "fields": f"nextPageToken,files({FILE_FIELDS})",
        },
        "files",
        limit=MAX_NEW_FILES,
    )
    return [file_output(f) for f in files]
