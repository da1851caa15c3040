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
from rich.cells import cell_len
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
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=PIPE_WIDTH)
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


LONG_TABLE = 200
"""Rows beyond which a result prints as plain aligned columns, written as they are: rich lays a
table out at about 0.8 s per 1,000 rows (measured), and even a plain text of 1,000 lines costs
it 0.1 s, time a 1,000-task stop would spend after its last task stopped."""


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    if len(text) > MAX_CELL:
        text = f"{text[:MAX_CELL]}... ({len(text)} characters)"
    return text


def _print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a result table on stdout: rich's, or plain aligned columns past :data:`LONG_TABLE`
    rows, each row one line (widths in terminal cells: CJK names line up too)."""
    cells = [[_text(v) for v in row] for row in rows]
    caption = f"{len(cells)} task(s)"
    if len(cells) > LONG_TABLE:
        widths = [
            max(map(cell_len, [c, *(row[i] for row in cells)])) for i, c in enumerate(columns)
        ]
        lines = [
            "  ".join(
                v + " " * (w - cell_len(v)) for v, w in zip(row, widths, strict=True)
            ).rstrip()
            for row in [columns, *cells]
        ]
        click.echo("\n".join([*([title] if title else []), *lines, caption]))
        return
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for n, column in enumerate(columns):
        table.add_column(column, no_wrap=n == 0)
    for row in cells:
        table.add_row(*(Text(v) for v in row))  # Text: a name such as "[red]x" stays as typed
    stdout_console().print(table)


# --- list ---------------------------------------------------------------------------------


def print_tasks(tasks: Sequence[MigrationTaskSummary], as_json: bool) -> None:
    """The ``list`` result: a table (id, name, status, type, created) or a JSON array."""
    if as_json:
        echo_json_array(t.model_dump(mode="json") for t in tasks)  # every field the API sent
        return
    rows = ((t.task_id, t.task_name, t.status, t.migration_type, t.created_at) for t in tasks)
    _print_table(None, ("id", "name", "status", "type", "created"), rows)


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
    table = Table(title=Text(_text(f"migration task {task.task_id}")), title_justify="left")
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    for key, value in flatten(data):
        table.add_row(Text(_text(key)), Text(_text(value)))
    stdout_console().print(table)


# --- stop / restart / delete ------------------------------------------------------------------


def print_outcomes(outcomes: Sequence[TaskOutcome], as_json: bool) -> None:
    """The ``stop`` result: one row per task, in the order given."""
    rows = [o.as_dict() for o in outcomes]
    if as_json:
        echo_json(rows)
        return
    columns = ("task_id", "name", "status", "outcome", "observed_at", "detail")
    _print_table("stop", columns, ([r[c] for c in columns] for r in rows))


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
    _print_table(title, columns, ([r.get(c) for c in columns] for r in rows))
