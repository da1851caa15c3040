"""Between the plugin's ``PropertyValue`` maps (camelCase) and the lifecycle's plain values.

Inputs arrive as :class:`PropertyValue` maps keyed by schema names (``taskIds``); the lifecycle
rules work on plain Python values keyed by canonical names (``task_ids``), with
:data:`~..lifecycle.UNKNOWN` for what a preview does not know. Secret-ness is remembered per
top-level property so that what came in secret goes out secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.provider.experimental.property_value import PropertyValue, PropertyValueType

from ..lifecycle import TASK_FIELDS, UNKNOWN, camel

_TASK_FIELDS = tuple(p.name for p in TASK_FIELDS)


def snake_of(name: str) -> str:
    """``taskIds`` -> ``task_ids``."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def plain(value: PropertyValue) -> Any:
    """A plain Python value; computed (unknown) values become :data:`UNKNOWN`."""
    kind = value.type
    if kind is PropertyValueType.COMPUTED:
        return UNKNOWN
    if kind is PropertyValueType.ARRAY:
        assert isinstance(value.value, tuple | list)
        return [plain(v) for v in value.value]
    if kind is PropertyValueType.MAP:
        assert isinstance(value.value, Mapping)
        return {k: plain(v) for k, v in value.value.items()}
    return value.value


@dataclass(frozen=True)
class Props:
    """Plain properties under canonical names, and which of them arrived secret."""

    values: dict[str, Any]
    secret: frozenset[str] = frozenset()


def from_wire(props: Mapping[str, PropertyValue]) -> Props:
    """Schema-named ``PropertyValue``s -> canonical plain values (``tasks`` entries too)."""
    values = {snake_of(name): plain(value) for name, value in props.items()}
    secret = frozenset(snake_of(name) for name, value in props.items() if value.contains_secret())
    if isinstance(values.get("tasks"), list):
        values["tasks"] = [
            {snake_of(k): v for k, v in e.items()} if isinstance(e, dict) else e
            for e in values["tasks"]
        ]
    return Props(values, secret)


def wire(value: Any) -> PropertyValue:
    """A plain value -> ``PropertyValue`` (ints become floats: the wire has only numbers)."""
    if value is UNKNOWN:
        return PropertyValue.computed()
    if value is None or isinstance(value, bool | str):
        return PropertyValue(value)
    if isinstance(value, int | float):
        return PropertyValue(float(value))
    if isinstance(value, Mapping):
        return PropertyValue({k: wire(v) for k, v in value.items()})
    if isinstance(value, Iterable):
        return PropertyValue([wire(v) for v in value])
    raise TypeError(f"cannot send a {type(value).__name__} to the engine")


def to_wire(values: Mapping[str, Any], secret: Iterable[str] = ()) -> dict[str, PropertyValue]:
    """Canonical plain values -> schema-named ``PropertyValue``s; ``secret`` keys stay secret."""
    hidden = set(secret)
    out: dict[str, PropertyValue] = {}
    for key, value in values.items():
        if key == "tasks" and isinstance(value, list):
            value = [
                {camel(k): e.get(k) for k in _TASK_FIELDS} if isinstance(e, Mapping) else e
                for e in value
            ]
        out[camel(key)] = wire(value).with_secret(key in hidden)
    return out
