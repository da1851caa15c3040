"""What the command line prints: rich tables for people, JSON for scripts, never a password.

Every value that reaches a table or JSON goes through :func:`mask_secrets` (the details call
echoes Redis passwords). Table cells are :class:`rich.text.Text`, so a task name such as
``[red]x`` is shown as typed, never interpreted as markup; what the server wrote is one line
with its control characters visible already (the client made it so where it entered), so it
cannot clear the screen, retitle the window or fake a row in a table or a JSON string. A cell
longer than :data:`MAX_CELL` characters is cut; JSON has every value whole.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..engine import TaskOutcome
from ..models import BatchItemResult, MigrationTask, MigrationTaskSummary
from ..redact import mask_secrets

PIPE_WIDTH = 200
"""Table width when stdout is not a terminal (and ``COLUMNS`` is unset): ids are never cut."""


def stdout_console() -> Console:
    """The console for results: wide when piped, so long ids stay whole."""
    console = Console(soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(soft_wrap=False, width=PIPE_WIDTH)
    return console


def echo_json(data: Any) -> None:
    """Print ``data`` (masked) as indented JSON on stdout."""
    click.echo(json.dumps(mask_secrets(data), indent=2, ensure_ascii=False))


def echo_json_array(items: Iterable[Any]) -> None:
    """Print ``items`` (masked) as an indented JSON array, one item at a time.

    The same text as :func:`echo_json` of the whole list, without ever holding the whole list's
    JSON (or every item's dict) at once: a long listing costs its models, not three copies.
    """
    opening = "["
    for item in items:
        text = json.dumps(mask_secrets(item), indent=2, ensure_ascii=False)
        click.echo(f"{opening}\n{textwrap.indent(text, '  ')}", nl=False)
        opening = ","
    click.echo("[]" if opening == "[" else "\n]")


MAX_CELL = 1000
"""Characters of one table cell: a longer value is cut, saying its length (``--json`` has it all)."""


def _cell(value: Any) -> Text:
    text = "" if value is None else str(value)
    if len(text) > MAX_CELL:
        text = f"{text[:MAX_CELL]}... ({len(text)} characters)"
    return Text(text)


def _table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for n, column in enumerate(columns):
        table.add_column(column, no_wrap=n == 0)
    count = 0
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
        count += 1
    table.caption = f"{count} task(s)"
    table.caption_justify = "left"
    return table


# --- list ---------------------------------------------------------------------------------


def print_tasks(tasks: Sequence[MigrationTaskSummary], as_json: bool) -> None:
    """The ``list`` result: a table (id, name, status, type, created) or a JSON array."""
    if as_json:
        echo_json_array(t.model_dump(mode="json") for t in tasks)  # every field the API sent
        return
    rows = ((t.task_id, t.task_name, t.status, t.migration_type, t.created_at) for t in tasks)
    stdout_console().print(_table(None, ("id", "name", "status", "type", "created"), rows))


# --- show ---------------------------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted.key, value)`` pairs of nested JSON, skipping nulls, for a two-column table."""
    if isinstance(data, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in data.items():
            pairs += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(data, list):
        if all(not isinstance(v, Mapping | list) for v in data):
            return [(prefix, ", ".join(str(v) for v in data))] if data else []
        return [pair for n, item in enumerate(data) for pair in flatten(item, f"{prefix}[{n}]")]
    return [] if data is None else [(prefix, str(data))]


def print_task(task: MigrationTask, as_json: bool) -> None:
    """The ``show`` result: a field/value table or a JSON object."""
    data = mask_secrets(task.model_dump(mode="json"))
    if as_json:
        echo_json(data)
        return
    table = Table(title=_cell(f"migration task {task.task_id}"), title_justify="left")
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    for key, value in flatten(data):
        table.add_row(_cell(key), _cell(value))
    stdout_console().print(table)


# --- stop / restart / delete ------------------------------------------------------------------


def print_outcomes(outcomes: Sequence[TaskOutcome], as_json: bool) -> None:
    """The ``stop`` result: one row per task, in the order given."""
    rows = [o.as_dict() for o in outcomes]
    if as_json:
        echo_json(rows)
        return
    columns = ("task_id", "name", "status", "outcome", "observed_at", "detail")
    table = _table("stop", columns, ([r[c] for c in columns] for r in rows))
    stdout_console().print(table)


def batch_json(task_id: str, item: BatchItemResult | None) -> dict[str, Any]:
    """One restart result; an id missing from the API's answer counts as failed."""
    if item is None:
        return {
            "task_id": task_id,
            "result": "failed",
            "error_code": None,
            "error_msg": "missing from the answer",
        }
    return {
        "task_id": task_id,
        "result": "success" if item.succeeded else item.result or "failed",
        "error_code": item.error_code,
        "error_msg": item.error_msg,
    }


def print_rows(title: str, rows: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    """A list of flat result dicts (restart, delete) as a table or JSON."""
    if as_json:
        echo_json(list(rows))
        return
    columns = list(rows[0]) if rows else ["task_id", "result"]
    table = _table(title, columns, ([r.get(c) for c in columns] for r in rows))
    stdout_console().print(table)
