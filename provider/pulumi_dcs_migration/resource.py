"""``MigrationTasksStopped``: a Pulumi resource that declares "these DCS migration tasks are stopped".

The dynamic provider below is a thin adapter over the shared lifecycle rules
(:mod:`.lifecycle`): it turns the dynamic provider's dicts into plain values, prints what the
rules decide, and words its errors for a Python program's author (stack config ``dcs:*``,
``timeout_seconds``). In Terraform's terms:

* **check** validates and completes the inputs (region/project/endpoint from stack config or the
  environment), drops repeated ids with a warning, and with credentials looks every task up: a
  preview fails on an id that does not exist and says which tasks run now;
* **diff** treats ``task_ids`` as a set; a declared task found running now (by that look, or by
  the last refresh) is a change, so ``preview``/``up`` converge without a refresh;
* **create/update** stop and wait for exactly the new tasks and the ones found running;
* **read** (refresh) records the real status of every task;
* **delete** leaves the tasks stopped (and deletes their records only if asked to).

Credentials never become attributes of the pickled provider: they reach the provider process
through ``configure()`` (secret stack config ``dcs:accessKey`` / ``dcs:secretKey``) or the
environment, so the stack state never holds them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, overload

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from . import lifecycle
from .lifecycle import INPUT_NAMES, UNKNOWN, MigrationTasksStoppedArgs, camel
from .operations import Operations, Reporter
from .policy import show_retries
from .settings import SETTING_NAMES, Layer, where_to_set

CONFIG_NAMESPACE = "dcs"
_new_unknown: Callable[[], Any] = Unknown  # untyped in the SDK
_CONFIG_SETTINGS = tuple(s for s in SETTING_NAMES if s != "auth_token")


def _config_spelling(setting: str) -> str | None:
    if setting not in _CONFIG_SETTINGS:
        return None
    return f"the stack config {CONFIG_NAMESPACE}:{camel(setting)}"


# --- translation between the dynamic provider's dicts and the rules' plain values -------------


def _plain(value: Any, *, back: bool = False) -> Any:
    """The engine's preview unknowns become :data:`lifecycle.UNKNOWN`, recursively, without the
    ``__provider`` key; ``back``: :data:`lifecycle.UNKNOWN` becomes an unknown the engine
    understands."""
    if not back and isinstance(value, Unknown):
        return UNKNOWN
    if back and value is UNKNOWN:
        return _new_unknown()
    if isinstance(value, list):
        return [_plain(v, back=back) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, back=back) for k, v in value.items() if k != "__provider"}
    return value


# --- the provider ---------------------------------------------------------------------------


class MigrationTasksStoppedProvider(ResourceProvider):
    """Dynamic provider of :class:`MigrationTasksStopped`.

    Pickled into the state with only its ``label`` (the resource's name, which prefixes its
    messages) and ``key`` (project, stack and name: what makes the resource's ID its own, as
    the URN does for the plugin); everything else is created in the provider process.
    """

    def __init__(self, label: str = "dcs", key: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.key = key or label

    def configure(self, req: ConfigureRequest) -> None:
        """Keep the stack config this provider reads (``dcs:*``) for later calls."""
        # Runs in the provider process after unpickling; this object is never pickled again, so
        # keeping the stack's config (secrets included) here never reaches the state.
        show_retries(lambda line: print(line, file=sys.stderr, flush=True))
        values = {s: req.config.get(f"{CONFIG_NAMESPACE}:{camel(s)}") for s in _CONFIG_SETTINGS}
        self._ops = Operations(Layer(values, _config_spelling, "stack config"))

    @property
    def ops(self) -> Operations:
        """The API work of this provider process (over an empty config before ``configure``)."""
        if getattr(self, "_ops", None) is None:
            self._ops = Operations(Layer({}, _config_spelling, "stack config"))
        return self._ops

    @property
    def reporter(self) -> Reporter:
        """Messages as ``[name] ...`` lines on stderr: the engine forwards them to the CLI as
        info diagnostics, under the stack (see README)."""
        label = getattr(self, "label", "dcs")

        def say(message: str) -> None:
            print(f"[{label}] {message}", file=sys.stderr, flush=True)

        return Reporter(
            spelling=lifecycle.PULUMI,
            where=lambda setting: where_to_set(setting, self.ops.config),
            say=say,
            warn=lambda message: say(f"warning: {message}"),
            progress=lambda event: say(event.line()),
        )

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and complete the inputs; with credentials, also look every task up."""
        inputs, failures = self.ops.check(_plain(news), self.reporter)
        return CheckResult(
            _plain(inputs, back=True), [CheckFailure(f.property, f.message) for f in failures]
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Task ids as a set; what runs now is a change; a new project/region/endpoint replaces."""
        plan = self.ops.plan(_plain(olds), _plain(news))
        for line in plan.drift():
            self.reporter.say(line)
        return DiffResult(
            changes=plan.changes, replaces=list(plan.replaces), delete_before_replace=False
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Stop every task and wait; raises (nothing goes to state) unless all are stopped."""
        inputs = _plain(props)
        report = self.ops.stop(inputs, inputs["task_ids"], self.reporter)
        outs = lifecycle.outputs(inputs, [lifecycle.entry(o) for o in report.outcomes])
        key = str(getattr(self, "key", None) or self.label)  # a provider unpickled from old state
        return CreateResult(
            lifecycle.resource_id(inputs["project_id"], key, inputs["task_ids"]), outs
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Stop the new ids and the ones running now; removals and option changes cost no call."""
        olds_, news_ = _plain(olds), _plain(news)
        plan = self.ops.plan(olds_, news_)
        report = self.ops.stop(news_, list(plan.to_stop), self.reporter) if plan.to_stop else None
        if report is None:
            self.reporter.say("no task to stop (only removals or option changes)")
        return UpdateResult(lifecycle.after_update(olds_, news_, report))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: record every task's real status, and return the inputs too (no false drift)."""
        state = _plain(props)
        return ReadResult(id_, self.ops.refresh(state, self.reporter), lifecycle.inputs_of(state))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Leave the tasks stopped; delete their records only if ``delete_records_on_destroy``."""
        self.ops.delete(_plain(props), self.reporter)


# --- the resource ---------------------------------------------------------------------------


def resource_args(
    resource_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[MigrationTasksStoppedArgs, pulumi.ResourceOptions | None]:
    """The args object and options from either call form, as generated Pulumi SDKs accept them.

    ``(name, MigrationTasksStoppedArgs(...), opts)``, ``(name, args=..., opts=...)`` or
    ``(name, opts, task_ids=..., ...)``. Unknown keywords are a :class:`TypeError` naming the
    known inputs.
    """
    positional = list(args)
    given_args = kwargs.pop("args", None)
    opts = kwargs.pop("opts", None)
    if positional and isinstance(positional[0], MigrationTasksStoppedArgs):
        given_args = positional.pop(0)
    if positional and (positional[0] is None or isinstance(positional[0], pulumi.ResourceOptions)):
        opts = positional.pop(0)
    if positional:
        raise TypeError(
            f"MigrationTasksStopped({resource_name!r}, ...): unexpected positional argument "
            f"{positional[0]!r}; pass MigrationTasksStoppedArgs(...) or keyword inputs"
        )
    unknown = sorted(set(kwargs) - set(INPUT_NAMES))
    if unknown:
        raise TypeError(
            f"MigrationTasksStopped({resource_name!r}, ...) got unexpected keyword argument(s) "
            f"{', '.join(unknown)}; known inputs: {', '.join(INPUT_NAMES)} (and args, opts)"
        )
    if given_args is not None and kwargs:
        raise TypeError(
            f"MigrationTasksStopped({resource_name!r}, ...): give either args or keyword inputs "
            f"({', '.join(sorted(kwargs))}), not both"
        )
    if given_args is None:
        if "task_ids" not in kwargs:
            raise TypeError(
                f"MigrationTasksStopped({resource_name!r}, ...) needs task_ids (or args=...)"
            )
        given_args = MigrationTasksStoppedArgs(**kwargs)
    if not isinstance(given_args, MigrationTasksStoppedArgs):
        raise TypeError(
            f"args must be a MigrationTasksStoppedArgs, not {type(given_args).__name__}"
        )
    if opts is not None and not isinstance(opts, pulumi.ResourceOptions):
        raise TypeError(f"opts must be a pulumi.ResourceOptions, not {type(opts).__name__}")
    return given_args, opts


class MigrationTasksStopped(Resource, module="dcs", name="MigrationTasksStopped"):
    """Declares that a set of DCS migration tasks is stopped (status ``TERMINATED``).

    ``pulumi up`` batch-stops the tasks that run and waits for them; a task that runs again is
    stopped again by the next ``up``, with or without a refresh; ``pulumi destroy`` leaves the
    tasks stopped. Both call forms of generated Pulumi SDKs work::

        MigrationTasksStopped("cutover", task_ids=[...], region="cn-north-4")
        MigrationTasksStopped("cutover", MigrationTasksStoppedArgs(task_ids=[...]), opts)

    The inputs are the fields of :class:`MigrationTasksStoppedArgs` (given as keyword arguments
    or as one args object). Outputs: ``tasks`` (per task: ``task_id``, ``name``, ``status``, ``outcome`` — ``stopped``,
    ``already_terminated`` or ``finished_before_stop`` — and ``observed_at``) and
    ``terminated_ids``.
    """

    tasks: pulumi.Output[list[dict[str, Any]]]
    terminated_ids: pulumi.Output[list[str]]

    @overload
    def __init__(
        self,
        resource_name: str,
        args: MigrationTasksStoppedArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **inputs: Any
    ) -> None: ...

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        """Declare the tasks stopped; see the class docstring for the two call forms."""
        given, opts = resource_args(resource_name, args, kwargs)
        props: dict[str, Any] = {name: getattr(given, name) for name in INPUT_NAMES}
        props.update(tasks=None, terminated_ids=None)
        key = f"{pulumi.get_project()}/{pulumi.get_stack()}/{resource_name}"
        provider = MigrationTasksStoppedProvider(resource_name, key)
        super().__init__(provider, resource_name, props, opts)


__all__ = [
    "MigrationTasksStopped",
    "MigrationTasksStoppedArgs",
    "MigrationTasksStoppedProvider",
]
