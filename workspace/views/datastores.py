"""Data stores: the user's named tables of keyed records (the Data store app's), to
look at and edit by hand: create and delete stores, list a store's records, add, edit
and delete a record, download everything as JSON.

``DataStoresState`` holds what the page shows and calls ``svc.data_stores`` (never the
store); ``DataStoresPage`` renders it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from connectors.sdk import InvalidInputError
from workspace.views.widgets import SHRINK_CSS, Banner, attempt, handler, html, when

PAGE_SIZE = 100


def records_text(count: int) -> str:
    """``1 record``, ``2,000 records``."""
    return f"{count:,} record{'' if count == 1 else 's'}"


def value_text(value: Any) -> str:
    """A value as the editor shows it: JSON, indented when it is a list or an object."""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def parse_value(text: str) -> Any:
    """The editor's text as a JSON value; text that is no JSON is refused with an example."""
    text = text.strip()
    if not text:
        raise InvalidInputError(
            'value: type a JSON value, e.g. "ord_1001" (text in quotes), 42, true or '
            '{"status": "paid"}.',
            errors=[{"field": "value", "message": "empty"}],
        )
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(
            f"value: this is not JSON ({exc.msg}, line {exc.lineno}). Put text in quotes: "
            '"ord_1001".',
            errors=[{"field": "value", "message": "not JSON"}],
        ) from None


class DataStoresState(param.Parameterized):
    """The user's stores, the open one and a page of its records."""

    stores = param.List(default=[], doc="``{id, name, records, created_at}`` by name.")
    selected = param.String(default="", doc="The open store's id ('' when none).")
    records = param.List(
        default=[], doc="``{key, value, created_at, updated_at}`` of the open store."
    )
    total = param.Integer(default=0, doc="How many records match the prefix.")
    prefix = param.String(default="")

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.refresh()

    @property
    def stores_service(self) -> Any:
        return self.svc.data_stores

    def refresh(self) -> None:
        self.stores = [s.to_dict() for s in self.stores_service.for_user(self.user.id)]
        if self.selected and self.selected not in {s["id"] for s in self.stores}:
            self.selected = ""
        self._load_records()

    def _load_records(self) -> None:
        if not self.selected:
            self.param.update(records=[], total=0)
            return
        found = self.stores_service.records(
            self.user.id, self.selected, prefix=self.prefix or None, limit=PAGE_SIZE
        )
        total = self.stores_service.count(self.user.id, self.selected, prefix=self.prefix or None)
        # one update: the page renders once, with the records and their count together
        self.param.update(records=[r.to_dict() for r in found], total=total)

    def open(self, store_id: str, prefix: str = "") -> None:
        self.stores_service.get(self.user.id, store_id)  # NotFound for another user's
        self.param.update(selected=store_id, prefix=prefix.strip())
        self._load_records()

    def store_name(self) -> str:
        return next((s["name"] for s in self.stores if s["id"] == self.selected), "")

    def create(self, name: str) -> dict[str, Any]:
        created = self.stores_service.create(self.user.id, name)
        self.selected = created.id
        self.refresh()
        return dict(created.to_dict())

    def delete(self, store_id: str) -> None:
        self.stores_service.delete(self.user.id, store_id)
        self.refresh()

    def save_record(self, key: str, text: str) -> dict[str, Any]:
        if not self.selected:
            raise InvalidInputError(
                "Open a data store first.", errors=[{"field": "store", "message": "none open"}]
            )
        record = self.stores_service.put_record(self.user.id, self.selected, key, parse_value(text))
        self.refresh()
        return dict(record.to_dict())

    def delete_record(self, key: str) -> None:
        self.stores_service.delete_record(self.user.id, self.selected, key)
        self.refresh()

    def export_json(self) -> str:
        """Every store with its records, as the API's export gives them."""
        return json.dumps(self.stores_service.export(self.user.id), indent=2, ensure_ascii=False)


class DataStoresPage(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.state = DataStoresState(svc, user)
        self.banner = Banner()
        self._confirm_delete = ""
        limits = svc.settings
        self.new_name = pn.widgets.TextInput(
            name="Name of a new data store",
            placeholder="e.g. orders",
            width=260,
            css_classes=["store-name"],
        )
        create = pn.widgets.Button(
            name="Create data store",
            button_type="primary",
            align="end",
            css_classes=["store-create"],
        )
        create.on_click(self._create)
        download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.state.export_json()),
            filename="data-stores.json",
            label="Download all (JSON)",
            button_type="light",
            align="end",
            css_classes=["stores-export"],
        )
        self.stores_box = pn.Column(
            sizing_mode="stretch_width", margin=0, css_classes=["store-list"]
        )
        # the open store
        self.heading = html("", css_classes=["store-heading"])
        self.prefix = pn.widgets.TextInput(
            name="Keys starting with",
            placeholder="e.g. customer:",
            width=220,
            css_classes=["record-prefix"],
        )
        show = pn.widgets.Button(
            name="Show", align="end", button_type="light", css_classes=["record-filter"]
        )
        show.on_click(self._filter)
        self.records_box = pn.Column(
            sizing_mode="stretch_width", margin=0, css_classes=["record-list"]
        )
        self.key = pn.widgets.TextInput(
            name="Key", placeholder="e.g. last_order_id", width=260, css_classes=["record-key"]
        )
        self.value = pn.widgets.TextAreaInput(
            name='Value (JSON: "text in quotes", 42, true, [..], {..})',
            placeholder='"ord_1001"',
            height=120,
            sizing_mode="stretch_width",
            css_classes=["record-value"],
            stylesheets=[SHRINK_CSS],
        )
        save = pn.widgets.Button(
            name="Save record", button_type="primary", css_classes=["record-save"]
        )
        save.on_click(self._save)
        self.editor = pn.Column(
            self.heading,
            pn.FlexBox(self.prefix, show, align_items="flex-end"),
            self.records_box,
            html("<h3 style='font-size:16px'>Add or change a record</h3>"),
            self.key,
            self.value,
            save,
            sizing_mode="stretch_width",
            css_classes=["store-editor"],
        )
        self.state.param.watch(
            lambda *events: self._render(), ["stores", "records", "total", "selected"]
        )
        self._render()
        self._layout = pn.Column(
            html("<h1>Data stores</h1>"),
            html(
                "<p>Tables of keyed records your scenarios remember between runs (the "
                "<strong>Data store</strong> app's cells read and write them). "
                f"Limits: {limits.data_store_max_stores} stores, "
                f"{limits.data_store_max_records:,} records per store, "
                f"{limits.data_store_max_value_bytes:,} bytes per value.</p>"
            ),
            self.banner,
            pn.FlexBox(self.new_name, create, download, align_items="flex-end"),
            self.stores_box,
            self.editor,
            sizing_mode="stretch_width",
        )

    # -- rendering ------------------------------------------------------------------------

    def _render(self) -> None:
        rows: list[Any] = []
        for store in self.state.stores:
            is_open = store["id"] == self.state.selected
            label = html(
                f"<strong>{escape(store['name'])}</strong> "
                f"<span class='cw-muted'>· {records_text(store['records'])} · "
                f"created {when(store['created_at'])}{' · open' if is_open else ''}</span>",
                align="center",
            )
            open_button = pn.widgets.Button(
                name=f"Open {store['name']}",
                button_type="light",
                align="center",
                css_classes=["store-open"],
            )
            open_button.on_click(handler(self._open, store["id"]))
            confirming = self._confirm_delete == store["id"]
            remove = pn.widgets.Button(
                name=f"Really delete {store['name']}?" if confirming else f"Delete {store['name']}",
                button_type="danger" if confirming else "light",
                align="center",
                css_classes=["store-delete"],
            )
            remove.on_click(handler(self._delete_store, store["id"]))
            rows.append(
                pn.Row(
                    label,
                    open_button,
                    remove,
                    sizing_mode="stretch_width",
                    css_classes=["store-row"],
                )
            )
        self.stores_box[:] = rows or [
            html(
                '<p class="cw-muted">No data stores yet. Create one here, or let a scenario '
                "create it: a Data store cell that sets a record creates its store.</p>"
            )
        ]
        self.editor.visible = bool(self.state.selected)
        if not self.state.selected:
            self.records_box[:] = [html('<p class="cw-muted">Open a store to see its records.</p>')]
            return
        shown = len(self.state.records)
        more = f" (the first {shown} of {self.state.total:,})" if self.state.total > shown else ""
        self.heading.object = (
            f"<h2>{escape(self.state.store_name())}</h2>"
            f"<p class='cw-muted'>{records_text(self.state.total)}{more}</p>"
        )
        record_rows: list[Any] = []
        for record in self.state.records:
            text = value_text(record["value"])
            short = text if len(text) <= 160 else text[:159] + "…"
            label = html(
                f"<code class='record-key-text'>{escape(record['key'])}</code> = "
                f"<code>{escape(short)}</code> "
                f"<span class='cw-muted'>· {when(record['updated_at'])}</span>",
                align="center",
            )
            edit = pn.widgets.Button(
                name=f"Edit {record['key']}",
                button_type="light",
                align="center",
                css_classes=["record-edit"],
            )
            edit.on_click(handler(self._edit, record))
            remove = pn.widgets.Button(
                name=f"Delete {record['key']}",
                button_type="light",
                align="center",
                css_classes=["record-delete"],
            )
            remove.on_click(handler(self._delete_record, record["key"]))
            record_rows.append(
                pn.Row(label, edit, remove, sizing_mode="stretch_width", css_classes=["record-row"])
            )
        self.records_box[:] = record_rows or [html('<p class="cw-muted">No records.</p>')]

    # -- actions --------------------------------------------------------------------------

    async def _create(self, _: Any) -> None:
        name = self.new_name.value
        done = await attempt(
            self.banner,
            lambda: self.state.create(name),
            success=f"Data store '{name.strip()}' created.",
        )
        if done is not None:
            self.new_name.value = ""

    async def _open(self, store_id: str) -> None:
        self._confirm_delete = ""
        self.prefix.value = ""
        await attempt(self.banner, lambda: self.state.open(store_id))

    async def _filter(self, _: Any) -> None:
        await attempt(self.banner, lambda: self.state.open(self.state.selected, self.prefix.value))

    async def _delete_store(self, store_id: str) -> None:
        if self._confirm_delete != store_id:  # the first click asks
            self._confirm_delete = store_id
            self.banner.show(
                "Click the red button again to delete the store with all its records.", "warn"
            )
            self._render()
            return
        self._confirm_delete = ""
        await attempt(
            self.banner, lambda: self.state.delete(store_id), success="Data store deleted."
        )
        self._render()

    def _edit(self, record: dict[str, Any]) -> None:
        self.key.value = record["key"]
        self.value.value = value_text(record["value"])

    async def _save(self, _: Any) -> None:
        key = self.key.value
        saved = await attempt(
            self.banner,
            lambda: self.state.save_record(key, self.value.value),
            success=f"Record '{key.strip()}' saved.",
        )
        if saved is not None:
            self.key.value = self.value.value = ""

    async def _delete_record(self, key: str) -> None:
        await attempt(
            self.banner, lambda: self.state.delete_record(key), success=f"Record '{key}' deleted."
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["DataStoresPage", "DataStoresState", "parse_value", "value_text"]
