"""Progress of a stop-and-wait: a live rich display on a terminal, plain lines otherwise.

The engine calls back with a :class:`~pulumi_dcs_migration.engine.ProgressEvent` when something
changes (and every few seconds). On a terminal, :class:`LiveView` keeps the latest event and a
ticking clock, and rich redraws it a few times a second; elsewhere (CI logs, pipes) each event is
one :meth:`ProgressEvent.line` on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..engine import ProgressEvent

ProgressCallback = Callable[[ProgressEvent], None]
"""What the engine's ``on_progress`` receives."""

PENDING_SHOWN = 5
"""How many of the slowest pending tasks the live display lists."""


def render_progress(
    event: ProgressEvent | None,
    total: int,
    elapsed: float,
    *,
    limit: int = PENDING_SHOWN,
) -> RenderableType:
    """The live display: a bar with ``stopped/total`` and elapsed time, then the slowest tasks."""
    stopped = event.terminated if event else 0
    header = Table.grid(padding=(0, 1))
    header.add_row(
        Text("stopping", style="bold"),
        ProgressBar(total=max(total, 1), completed=stopped, width=30),
        Text(event.counts if event else f"0/{total} stopped"),
        Text(f"{elapsed:.0f}s elapsed", style="dim"),
    )
    if event is None:
        return Group(header, Text("sending stop requests...", style="dim"))
    if not event.pending:
        return header
    more = len(event.pending) - limit
    table = Table(
        box=None,
        padding=(0, 2),
        header_style="dim",
        caption=f"and {more} more" if more > 0 else None,
        caption_justify="left",
    )
    table.add_column("waiting for", no_wrap=True)
    table.add_column("status")
    for task_id, status in event.pending[:limit]:
        # Ids and statuses were made safe where they entered (the client).
        table.add_row(Text(task_id), Text(status or "?"))
    return Group(header, table)


class LiveView:
    """A rich renderable of the latest event; the elapsed time ticks between events."""

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.event: ProgressEvent | None = None
        self._clock = clock
        self._started = clock()

    def update(self, event: ProgressEvent) -> None:
        """Take a new event from the engine."""
        self.event = event

    def __rich__(self) -> RenderableType:
        """Rendered by rich on every refresh."""
        return render_progress(self.event, self.total, self._clock() - self._started)


def plain_line(event: ProgressEvent) -> None:
    """Write one progress line on stderr (for logs and pipes)."""
    click.echo(event.line(), err=True)


@contextmanager
def progress_reporter(total: int, console: Console | None = None) -> Iterator[ProgressCallback]:
    """Yield the engine's progress callback: live on a terminal (stderr), plain lines otherwise."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield plain_line
        return
    view = LiveView(total)
    with Live(view, console=console, refresh_per_second=4, transient=False):
        yield view.update
