"""What both Pulumi front ends do against the API, once: look, stop and wait, refresh, delete.

:mod:`.lifecycle` decides (pure functions); this module acts on those decisions with the client
and the engine, and reports through a :class:`Reporter`: the front end's own channel for
messages, and its spelling of the inputs and settings that the one wording of advice names. The dynamic resource and the provider plugin each
hold one :class:`Operations` for their provider process.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import lifecycle
from .client import DcsClient
from .engine import ProgressEvent, StopEngine, StopReport, TaskOutcome
from .errors import ConfigurationError, DcsApiError, DcsError, OperationFailed, Where
from .lifecycle import Failure, Spell, Spelling
from .models import batches
from .settings import SECRET_SETTINGS, ConnectionSettings, Layer, resolve

LOOK_TIMEOUT = 120.0
"""Seconds a look (preview, refresh, import) may take: a stalled API fails a preview in two
minutes, not after the half-hour a stop may wait."""

CREDENTIAL_SETTINGS = SECRET_SETTINGS | {"ca_bundle"}
"""Settings without which a look cannot be made (preview then fails naming them)."""


@dataclass(frozen=True)
class Reporter:
    """Where a front end's messages go, and how its users write inputs and settings."""

    spelling: Spelling  # inputs, the wait limit, a rerun: for advice on tasks not stopped
    where: Where  # where a setting is set: for advice on API errors
    say: Callable[[str], None]  # an informational message about the resource
    warn: Callable[[str], None]  # a warning about the resource
    progress: Callable[[ProgressEvent], None]  # while waiting

    @property
    def spell(self) -> Spell:
        """Input names as this front end's users write them."""
        return self.spelling.input

    def failure(self, exc: DcsError) -> OperationFailed:
        """``exc`` worded for this front end's users."""
        if isinstance(exc, DcsApiError):
            return OperationFailed(exc.describe(self.where))
        return OperationFailed(str(exc))


class Operations:
    """One provider process's API work, over its config layer and the environment.

    It keeps the statuses the last preview look read, per set of ids: the engine calls check,
    then diff, then update in the same process, so the plan is made on what runs *now*.
    """

    def __init__(self, config: Layer) -> None:
        self.config = config
        self._seen: dict[tuple[str, ...], dict[str, str | None]] = {}

    def settings(self, inputs: Mapping[str, Any]) -> ConnectionSettings:
        """Client settings: the inputs' location, then the config layer, then the environment."""
        location = {k: inputs.get(k) for k in ("project_id", "region", "endpoint")}
        return resolve(Layer(location, lambda s: s, "input"), self.config)

    @contextlib.contextmanager
    def _client(self, inputs: Mapping[str, Any], reporter: Reporter) -> Iterator[DcsClient]:
        """A client for ``inputs``; an API error inside becomes :class:`OperationFailed`, worded
        for the reporter's users."""
        try:
            with DcsClient.from_settings(self.settings(inputs)) as client:
                yield client
        except DcsError as exc:
            raise reporter.failure(exc) from None

    def check(
        self, news: Mapping[str, Any], reporter: Reporter
    ) -> tuple[dict[str, Any], list[Failure]]:
        """Check: the completed inputs and every failure, the warnings said; with credentials,
        every task is looked up too (see :meth:`preview_read`)."""
        checked = lifecycle.check(news, self.config, reporter.spell)
        for warning in checked.warnings:
            reporter.warn(warning)
        failures = list(checked.failures)
        if checked.task_ids is not None:
            failures += self.preview_read(checked.inputs, checked.task_ids, reporter)
        return checked.inputs, failures

    def preview_read(
        self, inputs: Mapping[str, Any], ids: list[str], reporter: Reporter
    ) -> list[Failure]:
        """With credentials, read every task now: failures name missing tasks; the reporter says
        which run. Without credentials, nothing is asked (create will say what is missing)."""
        try:
            settings = self.settings(inputs)
        except ConfigurationError as exc:
            return [Failure("task_ids", str(exc))] if exc.setting in CREDENTIAL_SETTINGS else []
        if not settings.credentials.present:
            return []
        options = lifecycle.stop_options(inputs, timeout=LOOK_TIMEOUT)
        try:
            with DcsClient.from_settings(settings) as client:
                looks = StopEngine(client, options).read(ids)
        except DcsError as exc:
            return [Failure("task_ids", f"could not look the tasks up: {reporter.failure(exc)}")]
        self._seen[tuple(sorted(ids))] = {o.task_id: o.status for o in looks}
        missing = lifecycle.missing_tasks(looks, settings.project_id, reporter.spell)
        if not missing:
            for line in lifecycle.preview_lines(looks, options):
                reporter.say(line)
        return missing

    def seen(self, inputs: Mapping[str, Any]) -> dict[str, str | None] | None:
        """The statuses the preview look of these inputs' ids read, if it ran in this process."""
        ids = inputs.get("task_ids")
        if not isinstance(ids, list) or not lifecycle.is_known(ids):
            return None
        return self._seen.get(tuple(sorted(ids)))

    def plan(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> lifecycle.Plan:
        """The lifecycle's plan, on what runs now when the preview look saw it."""
        return lifecycle.plan(olds, news, self.seen(news))

    def stop(
        self,
        inputs: Mapping[str, Any],
        ids: Sequence[str],
        reporter: Reporter,
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StopReport:
        """Stop ``ids`` and wait; raises :class:`OperationFailed` unless every one is stopped."""
        options = lifecycle.stop_options(inputs, timeout=timeout)
        reporter.say(f"stopping {len(ids)} task(s)")
        with self._client(inputs, reporter) as client:
            engine = StopEngine(client, options, on_progress=reporter.progress, cancel=cancel)
            report = engine.run(ids)
        for warning in lifecycle.finished_warnings(report, inputs):
            reporter.warn(warning)
        if cancel is not None and cancel.is_set():
            unfinished = report.failures()
            raise OperationFailed(
                "cancelled: "
                + lifecycle.incomplete_message(unfinished, len(ids), reporter.spelling)
                + "\nStops already accepted keep going; run `pulumi up` again to wait for them."
            )
        failed = report.failures(strict_finished=options.strict_finished)
        if failed:
            raise OperationFailed(lifecycle.incomplete_message(failed, len(ids), reporter.spelling))
        reporter.say(lifecycle.summary_line(report))
        return report

    def read(
        self, inputs: Mapping[str, Any], ids: list[str], reporter: Reporter
    ) -> list[TaskOutcome]:
        """Every task's status now (refresh, import); raises :class:`OperationFailed`."""
        options = lifecycle.stop_options(inputs, timeout=LOOK_TIMEOUT)
        with self._client(inputs, reporter) as client:
            return StopEngine(client, options).read(ids)

    def refresh(self, state: Mapping[str, Any], reporter: Reporter) -> dict[str, Any]:
        """Refresh: the state with every task's real status now."""
        ids = list(dict.fromkeys(state.get("task_ids") or []))
        return lifecycle.after_read(state, self.read(state, ids, reporter))

    def delete(self, state: Mapping[str, Any], reporter: Reporter) -> None:
        """Destroy: leave the tasks stopped, deleting their records only when asked to."""
        ids = list(dict.fromkeys(state.get("task_ids") or []))
        if not lifecycle.delete_records(state):
            reporter.say(f"leaving {len(ids)} task(s) as they are (stopped); nothing is deleted")
            return
        with (
            self._client(state, reporter) as client,
            client.deadline(time.monotonic() + LOOK_TIMEOUT),
        ):
            for batch in batches(ids):
                client.delete_tasks(batch)
        reporter.say(f"deleted the records of {len(ids)} task(s)")
