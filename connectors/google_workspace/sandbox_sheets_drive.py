"""The simulator's Sheets v4 and Drive v3 routes (shared/specs/google/sheets.v4.subset.json,
drive.v3.subset.json). Spreadsheets are Drive files too, as in Google: listing
spreadsheets is a Drive ``files.list`` with their ``mimeType``."""

from __future__ import annotations

import email
import email.policy
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from connectors.google_workspace import sandbox_channels
from connectors.google_workspace.sandbox import (
    AUTH,
    Account,
    GoogleError,
    api,
    body_json,
    invalid,
    new_id,
    page_size,
    paginate,
)

FOLDER = "application/vnd.google-apps.folder"
SPREADSHEET = "application/vnd.google-apps.spreadsheet"
READ_SHEETS = tuple(
    AUTH + s
    for s in ("drive", "drive.file", "drive.readonly", "spreadsheets", "spreadsheets.readonly")
)
WRITE_SHEETS = tuple(AUTH + s for s in ("drive", "drive.file", "spreadsheets"))
READ_DRIVE = tuple(
    AUTH + s
    for s in (
        "drive",
        "drive.appdata",
        "drive.file",
        "drive.meet.readonly",
        "drive.metadata",
        "drive.metadata.readonly",
        "drive.photos.readonly",
        "drive.readonly",
    )
)
WRITE_DRIVE = tuple(AUTH + s for s in ("drive", "drive.appdata", "drive.file"))

# -- Sheets ------------------------------------------------------------------------------------

A1 = re.compile(r"^(?P<c1>[A-Z]+)?(?P<r1>\d+)?(?::(?P<c2>[A-Z]+)?(?P<r2>\d+)?)?$")


def column_index(letters: str) -> int:
    """``A`` → 0, ``Z`` → 25, ``AA`` → 26."""
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _spreadsheet(acct: Account, spreadsheet_id: str) -> list[dict[str, Any]]:
    found = acct.sheets.get(spreadsheet_id)
    if found is None:
        raise GoogleError(404, "Requested entity was not found.", status="NOT_FOUND")
    return found


def parse_range(
    acct: Account, spreadsheet_id: str, text: str
) -> tuple[dict[str, Any], int, int, int | None, int | None]:
    """A1 notation → (sheet, first column, first row, last column, last row), 0-based,
    ``None`` for an open end. ``Sheet1``, ``'My sheet'!A2:C``, ``A1:B2`` (first sheet)."""
    sheets = _spreadsheet(acct, spreadsheet_id)
    title, _, cells = text.rpartition("!") if "!" in text else (None, "", text)
    if title is None:
        by_title = {s["title"]: s for s in sheets}
        if text in by_title or text.strip("'") in by_title:  # a bare sheet name
            title, cells = text, ""
    if title is not None:
        name = (
            title[1:-1].replace("''", "'")
            if title.startswith("'") and title.endswith("'")
            else title
        )
        sheet = next((s for s in sheets if s["title"] == name), None)
        if sheet is None:
            raise invalid(f"Unable to parse range: {text}")
    else:
        sheet = sheets[0]
    match = A1.match(cells)
    if match is None:
        raise invalid(f"Unable to parse range: {text}")
    c1, r1, c2, r2 = match["c1"], match["r1"], match["c2"], match["r2"]
    first_col = column_index(c1) if c1 else 0
    first_row = int(r1) - 1 if r1 else 0
    if ":" not in cells:  # a single cell (or a whole sheet when empty)
        last_col = first_col if c1 else None
        last_row = first_row if r1 else None
    else:
        last_col = column_index(c2) if c2 else None
        last_row = int(r2) - 1 if r2 else None
    return sheet, first_col, first_row, last_col, last_row


def _quoted(title: str) -> str:
    return title if re.fullmatch(r"[A-Za-z0-9_]+", title) else "'" + title.replace("'", "''") + "'"


def a1(title: str, col1: int, row1: int, col2: int, row2: int) -> str:
    return f"{_quoted(title)}!{column_letters(col1)}{row1 + 1}:{column_letters(col2)}{row2 + 1}"


def _trimmed(row: list[str]) -> list[str]:
    end = len(row)
    while end and row[end - 1] == "":
        end -= 1
    return row[:end]


def cell_text(value: Any) -> str:
    """How a written value reads back as FORMATTED_VALUE (numbers as typed, booleans upper-case)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


async def spreadsheets_get(request: Request, acct: Account) -> dict[str, Any]:
    """``sheets.spreadsheets.get`` (properties and sheet properties; no grid data)."""
    spreadsheet_id = request.path_params["spreadsheetId"]
    sheets = _spreadsheet(acct, spreadsheet_id)
    meta = acct.files[spreadsheet_id]
    return {
        "spreadsheetId": spreadsheet_id,
        "properties": {
            "title": meta["name"],
            "locale": "en_US",
            "timeZone": "Europe/London",
            "autoRecalc": "ON_CHANGE",
        },
        "sheets": [
            {
                "properties": {
                    "sheetId": s["sheetId"],
                    "title": s["title"],
                    "index": i,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": max(1000, len(s["rows"])), "columnCount": 26},
                }
            }
            for i, s in enumerate(sheets)
        ],
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit",
    }


async def values_get(request: Request, acct: Account) -> dict[str, Any]:
    """``sheets.spreadsheets.values.get`` (ROWS, formatted values; trailing blanks dropped)."""
    text = request.path_params["range"]
    sheet, c1, r1, c2, r2 = parse_range(acct, request.path_params["spreadsheetId"], text)
    rows = sheet["rows"][r1 : None if r2 is None else r2 + 1]
    values = [_trimmed(row[c1 : None if c2 is None else c2 + 1]) for row in rows]
    while values and not values[-1]:
        values.pop()
    width = max((len(v) for v in values), default=1)
    answer: dict[str, Any] = {
        "range": a1(
            sheet["title"],
            c1,
            r1,
            c2 if c2 is not None else c1 + max(width, 1) - 1,
            r2 if r2 is not None else r1 + max(len(values), 1) - 1,
        ),
        "majorDimension": "ROWS",
    }
    if values:
        answer["values"] = values
    return answer


def _value_input(request: Request) -> None:
    option = request.query_params.get("valueInputOption")
    if option not in ("RAW", "USER_ENTERED"):
        raise invalid(
            f"Invalid valueInputOption: {option or 'INPUT_VALUE_OPTION_UNSPECIFIED'}",
            "valueInputOption",
        )


def _write(sheet: dict[str, Any], col: int, row: int, values: list[list[Any]]) -> None:
    rows = sheet["rows"]
    for offset, line in enumerate(values):
        while len(rows) <= row + offset:
            rows.append([])
        target = rows[row + offset]
        while len(target) < col + len(line):
            target.append("")
        for i, value in enumerate(line):
            target[col + i] = cell_text(value)


def _values_body(data: dict[str, Any]) -> list[list[Any]]:
    values = data.get("values")
    if data.get("majorDimension", "ROWS") != "ROWS":
        raise invalid("Only majorDimension ROWS is simulated.")
    if not isinstance(values, list) or not all(isinstance(v, list) for v in values):
        raise invalid("Invalid value at 'data.values'", "values")
    return values


async def values_append(request: Request, acct: Account) -> dict[str, Any]:
    """``sheets.spreadsheets.values.append``: after the last row with data."""
    _value_input(request)
    spreadsheet_id = request.path_params["spreadsheetId"]
    sheet, c1, _, _, _ = parse_range(acct, spreadsheet_id, request.path_params["range"])
    values = _values_body(await body_json(request))
    used = len(sheet["rows"])
    while used and not any(sheet["rows"][used - 1]):
        used -= 1
    _write(sheet, c1, used, values)
    width = max((len(v) for v in values), default=0)
    return {
        "spreadsheetId": spreadsheet_id,
        "tableRange": a1(sheet["title"], c1, 0, c1 + max(width, 1) - 1, max(used, 1) - 1),
        "updates": {
            "spreadsheetId": spreadsheet_id,
            "updatedRange": a1(
                sheet["title"], c1, used, c1 + max(width, 1) - 1, used + len(values) - 1
            ),
            "updatedRows": len(values),
            "updatedColumns": width,
            "updatedCells": sum(len(v) for v in values),
        },
    }


async def values_update(request: Request, acct: Account) -> dict[str, Any]:
    """``sheets.spreadsheets.values.update``: the body's range must be the URL's."""
    _value_input(request)
    spreadsheet_id = request.path_params["spreadsheetId"]
    text = request.path_params["range"]
    data = await body_json(request)
    if data.get("range") not in (None, text):
        raise invalid(
            f"Requested writing within range [{text}], but tried writing to [{data.get('range')}]"
        )
    sheet, c1, r1, _, _ = parse_range(acct, spreadsheet_id, text)
    values = _values_body(data)
    _write(sheet, c1, r1, values)
    width = max((len(v) for v in values), default=0)
    return {
        "spreadsheetId": spreadsheet_id,
        "updatedRange": a1(
            sheet["title"], c1, r1, c1 + max(width, 1) - 1, r1 + max(len(values), 1) - 1
        ),
        "updatedRows": len(values),
        "updatedColumns": width,
        "updatedCells": sum(len(v) for v in values),
    }


# -- Drive -------------------------------------------------------------------------------------

DEFAULT_FILE_FIELDS = ("kind", "id", "name", "mimeType")
TERM = re.compile(
    r"^\s*(?:'(?P<parent>(?:[^'\\]|\\.)*)'\s+in\s+parents"
    r"|(?P<field>mimeType|name|trashed|createdTime|modifiedTime)\s*(?P<op>=|!=|>=|<=|>|<|contains)\s*"
    r"(?:'(?P<value>(?:[^'\\]|\\.)*)'|(?P<bool>true|false)))\s*$"
)


def _split_fields(spec: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in spec:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def select(obj: dict[str, Any], spec: str | None, default: tuple[str, ...]) -> dict[str, Any]:
    """Drive's partial responses (``fields=nextPageToken,files(id,name)``); ``*`` is everything."""
    if spec is None:
        return {k: obj[k] for k in default if k in obj}
    chosen: dict[str, Any] = {}
    for part in _split_fields(spec):
        name, _, inner = part.partition("(")
        name = name.strip()
        if name == "*":
            return dict(obj)
        if name not in obj:
            continue
        value = obj[name]
        if inner and isinstance(value, list):
            value = [select(v, inner.rstrip(")"), ()) for v in value]
        chosen[name] = value
    return chosen


def _matches(file: dict[str, Any], q: str) -> bool:
    for term in re.split(r"\s+and\s+", q.strip()) if q.strip() else []:
        found = TERM.match(term)
        if found is None:
            raise GoogleError(
                400, "Invalid Value", status="INVALID_ARGUMENT", reason="invalid", location="q"
            )
        if found["parent"] is not None:
            parent = found["parent"].replace("\\'", "'")
            if parent not in file.get("parents", []) and not (
                parent == "root" and file.get("parents") == ["root"]
            ):
                return False
            continue
        field, op = found["field"], found["op"]
        actual = file.get(field)
        wanted: Any = (
            found["bool"] == "true" if found["bool"] else (found["value"] or "").replace("\\'", "'")
        )
        ok = {
            "=": actual == wanted,
            "!=": actual != wanted,
            "contains": str(wanted).lower() in str(actual).lower(),
            ">": str(actual) > str(wanted),
            "<": str(actual) < str(wanted),
            ">=": str(actual) >= str(wanted),
            "<=": str(actual) <= str(wanted),
        }[op]
        if not ok:
            return False
    return True


async def files_list(request: Request, acct: Account) -> dict[str, Any]:
    """``drive.files.list`` with ``q`` (parents, mimeType, name, trashed, times), ``orderBy``."""
    q = request.query_params.get("q", "")
    found = [f for f in acct.files.values() if _matches(f, q)]
    order = request.query_params.get("orderBy", "")
    for key in reversed([k.strip() for k in order.split(",") if k.strip()]):
        field, _, direction = key.partition(" ")
        found.sort(key=lambda f: str(f.get(field, "")), reverse=direction.strip() == "desc")
    size = page_size(request, "pageSize", 100, 1000)
    page, token = paginate(acct, found, size, request.query_params.get("pageToken"))
    answer: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False, "files": page}
    if token:
        answer["nextPageToken"] = token
    fields = request.query_params.get("fields")
    if fields is None:
        answer["files"] = [select(f, None, DEFAULT_FILE_FIELDS) for f in page]
        return answer
    return select(answer, fields, ())


def new_file(
    acct: Account, name: str, mime_type: str, parents: list[str], size: int | None = None
) -> dict[str, Any]:
    for parent in parents:
        if parent != "root" and (
            parent not in acct.files or acct.files[parent]["mimeType"] != FOLDER
        ):
            raise GoogleError(
                404,
                f"File not found: {parent}.",
                status="NOT_FOUND",
                reason="notFound",
                location="fileId",
            )
    now = acct.now()
    file_id = new_id(33)
    view_path = "drive/folders" if mime_type == FOLDER else "file/d"
    file = {
        "kind": "drive#file",
        "id": file_id,
        "name": name,
        "mimeType": mime_type,
        "parents": parents or ["root"],
        "createdTime": now,
        "modifiedTime": now,
        "trashed": False,
        "webViewLink": f"https://drive.google.com/{view_path}/{file_id}/view",
    }
    if size is not None:
        file["size"] = str(size)
    acct.files[file_id] = file
    sandbox_channels.record_change(acct, file_id)
    return file


def _metadata(data: dict[str, Any]) -> tuple[str, str, list[str]]:
    parents = data.get("parents") or []
    if not isinstance(parents, list):
        raise invalid("Invalid value at 'parents'", "parents")
    return (
        str(data.get("name") or "Untitled"),
        str(data.get("mimeType") or "application/octet-stream"),
        [str(p) for p in parents],
    )


async def files_create(request: Request, acct: Account) -> dict[str, Any]:
    """``drive.files.create`` without media (folders, empty files)."""
    name, mime, parents = _metadata(await body_json(request))
    return select(
        new_file(acct, name, mime, parents), request.query_params.get("fields"), DEFAULT_FILE_FIELDS
    )


def _part_bytes(part: Any) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


async def files_upload(request: Request, acct: Account) -> dict[str, Any]:
    """``drive.files.create`` media upload (``/upload/drive/v3/files``),
    ``uploadType=multipart`` or ``media``."""
    kind = request.query_params.get("uploadType")
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    parents: list[str] = []
    if kind == "media":
        name, mime, content = "Untitled", content_type or "application/octet-stream", body
    elif kind == "multipart":
        if not content_type.startswith("multipart/related"):
            raise invalid("Bad content type. Please use multipart.")
        message = email.message_from_bytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
        )
        parts = list(message.iter_parts()) if message.is_multipart() else []
        if len(parts) != 2:
            raise invalid("Multipart uploads take two parts: metadata, then media.")
        meta = json.loads(_part_bytes(parts[0]) or b"{}")
        name, mime, parents = _metadata(meta)
        mime = str(meta.get("mimeType") or parts[1].get_content_type())
        content = _part_bytes(parts[1])
    else:
        raise invalid(f"Invalid upload type: {kind}", "uploadType")
    file = new_file(acct, name, mime, parents, size=len(content))
    file["_content"] = content
    shown = select(file, request.query_params.get("fields"), DEFAULT_FILE_FIELDS)
    shown.pop("_content", None)
    return shown


async def files_get(request: Request, acct: Account) -> dict[str, Any]:
    """``drive.files.get`` (metadata)."""
    file_id = request.path_params["fileId"]
    file = acct.files.get(file_id)
    if file is None:
        raise GoogleError(
            404,
            f"File not found: {file_id}.",
            status="NOT_FOUND",
            reason="notFound",
            location="fileId",
        )
    shown = select(file, request.query_params.get("fields"), DEFAULT_FILE_FIELDS)
    shown.pop("_content", None)
    return shown


ROUTES = [
    Route("/v4/spreadsheets/{spreadsheetId}", api(READ_SHEETS, spreadsheets_get), methods=["GET"]),
    Route(
        "/v4/spreadsheets/{spreadsheetId}/values/{range}:append",
        api(WRITE_SHEETS, values_append),
        methods=["POST"],
    ),
    Route(
        "/v4/spreadsheets/{spreadsheetId}/values/{range}",
        api(READ_SHEETS, values_get),
        methods=["GET"],
    ),
    Route(
        "/v4/spreadsheets/{spreadsheetId}/values/{range}",
        api(WRITE_SHEETS, values_update),
        methods=["PUT"],
    ),
    Route("/drive/v3/files", api(READ_DRIVE, files_list), methods=["GET"]),
    Route("/drive/v3/files", api(WRITE_DRIVE, files_create), methods=["POST"]),
    Route("/drive/v3/files/{fileId}", api(READ_DRIVE, files_get), methods=["GET"]),
    Route("/upload/drive/v3/files", api(WRITE_DRIVE, files_upload), methods=["POST"]),
]
