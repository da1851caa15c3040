"""What both Pulumi front ends do against the API, once: look, stop and wait, refresh, delete.

:mod:`.lifecycle` decides (pure functions); this module acts on those decisions with the client
and the engine, and reports through a :class:`Voice`: the front end's own channel for messages
and its own words for problems and outcomes. The dynamic resource and the provider plugin each
hold one :class:`Operations` for their provider process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import lifecycle
from .client import DcsClient
from .decisions import Outcome
from .engine import ProgressEvent, StopEngine, StopOptions, StopReport, TaskOutcome
from .errors import ConfigurationError, DcsApiError, DcsError, OperationFailed, Problem
from .lifecycle import Failure, Spell
from .models import batches
from .settings import SECRET_SETTINGS, ConnectionSettings, Layer, resolve

LOOK_TIMEOUT = 120.0
"""Seconds a look (preview, refresh, import) may take: a stalled API fails a preview in two
minutes, not after the half-hour a stop may wait."""

CREDENTIAL_SETTINGS = SECRET_SETTINGS | {"ca_bundle"}
"""Settings without which a look cannot be made (preview then fails naming them)."""


@dataclass(frozen=True)
class Voice:
    """How a front end speaks: where its messages go, and its words for what went wrong."""

    spell: Spell  # property names as its users write them
    say: Callable[[str], None]  # an informational message about the resource
    warn: Callable[[str], None]  # a warning about the resource
    progress: Callable[[ProgressEvent], None]  # while waiting
    advice: Mapping[Problem, str]  # its words for API problems (else the neutral hint)
    stop_advice: Mapping[Outcome, str]  # its words for tasks left not stopped

    def failure(self, exc: DcsError) -> OperationFailed:
        """``exc`` worded for this front end's users."""
        if isinstance(exc, DcsApiError):
            return OperationFailed(exc.describe(self.advice))
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

    def check(self, news: Mapping[str, Any], voice: Voice) -> tuple[dict[str, Any], list[Failure]]:
        """Check: the completed inputs and every failure, the warnings said; with credentials,
        every task is looked up too (see :meth:`preview_look`)."""
        checked = lifecycle.check(news, self.config, voice.spell)
        for warning in checked.warnings:
            voice.warn(warning)
        failures = list(checked.failures)
        if checked.task_ids is not None:
            failures += self.preview_look(checked.inputs, checked.task_ids, voice)
        return checked.inputs, failures

    def preview_look(
        self, inputs: Mapping[str, Any], ids: list[str], voice: Voice
    ) -> list[Failure]:
        """With credentials, read every task now: failures name missing tasks; the voice says
        which run. Without credentials, nothing is asked (create will say what is missing)."""
        try:
            settings = self.settings(inputs)
        except ConfigurationError as exc:
            return [Failure("task_ids", str(exc))] if exc.setting in CREDENTIAL_SETTINGS else []
        if not settings.credentials.present:
            return []
        try:
            with DcsClient.from_settings(settings) as client:
                looks = StopEngine(client, _look_options(inputs)).look(ids)
        except DcsError as exc:
            return [Failure("task_ids", f"could not look the tasks up: {voice.failure(exc)}")]
        self._seen[tuple(sorted(ids))] = {o.task_id: o.status for o in looks}
        missing = lifecycle.missing_tasks(looks, settings.project_id, voice.spell)
        if not missing:
            voice.say(lifecycle.running_line(looks))
            bound, sync = lifecycle.guard(inputs)
            waiting = lifecycle.lagging_line(looks, bound, sync) if bound is not None else None
            if waiting:
                voice.say(waiting)
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
        voice: Voice,
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StopReport:
        """Stop ``ids`` and wait; raises :class:`OperationFailed` unless every one is stopped."""
        seconds = timeout or float(
            inputs.get("timeout_seconds") or lifecycle.DEFAULT_TIMEOUT_SECONDS
        )
        bound, sync = lifecycle.guard(inputs)
        options = StopOptions(
            timeout=seconds,
            strict_finished=lifecycle.strict(inputs),
            max_offset=bound,
            sync_timeout=sync,
        )
        voice.say(f"stopping {len(ids)} task(s)")
        try:
            with DcsClient.from_settings(self.settings(inputs)) as client:
                engine = StopEngine(client, options, on_progress=voice.progress, cancel=cancel)
                report = engine.run(ids)
        except DcsError as exc:
            raise voice.failure(exc) from None
        for warning in lifecycle.finished_warnings(report, inputs):
            voice.warn(warning)
        if cancel is not None and cancel.is_set():
            unfinished = report.failures()
            raise OperationFailed(
                "cancelled: "
                + lifecycle.incomplete_message(unfinished, len(ids), {})
                + "\nStops already accepted keep going; run `pulumi up` again to wait for them."
            )
        failed = lifecycle.incomplete(report, inputs)
        if failed:
            raise OperationFailed(lifecycle.incomplete_message(failed, len(ids), voice.stop_advice))
        voice.say(lifecycle.summary_line(report))
        return report

    def look(self, inputs: Mapping[str, Any], ids: list[str], voice: Voice) -> list[TaskOutcome]:
        """Every task's status now (refresh, import); raises :class:`OperationFailed`."""
        try:
            with DcsClient.from_settings(self.settings(inputs)) as client:
                return StopEngine(client, _look_options(inputs)).look(ids)
        except DcsError as exc:
            raise voice.failure(exc) from None

    def refresh(self, state: Mapping[str, Any], voice: Voice) -> dict[str, Any]:
        """Refresh: the state with every task's real status now."""
        ids = list(dict.fromkeys(state.get("task_ids") or []))
        return lifecycle.after_read(state, self.look(state, ids, voice))

    def delete(self, state: Mapping[str, Any], voice: Voice) -> None:
        """Destroy: leave the tasks stopped, deleting their records only when asked to."""
        ids = list(dict.fromkeys(state.get("task_ids") or []))
        if not lifecycle.delete_records(state):
            voice.say(f"leaving {len(ids)} task(s) as they are (stopped); nothing is deleted")
            return
        try:
            with (
                DcsClient.from_settings(self.settings(state)) as client,
                client.deadline(time.monotonic() + LOOK_TIMEOUT),
            ):
                for batch in batches(ids):
                    client.delete_tasks(batch)
        except DcsError as exc:
            raise voice.failure(exc) from None
        voice.say(f"deleted the records of {len(ids)} task(s)")


def _look_options(inputs: Mapping[str, Any]) -> StopOptions:
    """A look's bound in time, and the guard (a guarded look reads each running task's lag)."""
    bound, _ = lifecycle.guard(inputs)
    return StopOptions(timeout=LOOK_TIMEOUT, max_offset=bound)
