"""What text may be shown: secrets masked, control characters made visible, echoes bounded.

One mask for the whole package. :class:`Scrubber` removes known secrets from any text that could
reach a person or a log, in every form they take on the way (raw, escaped by ``repr`` or JSON,
percent-encoded), and always *before* a text is cut to length, so no part of a long secret
survives a truncation. :func:`one_line` makes server text safe for a terminal and a log; the
client applies it to everything the server sends, where it enters the product.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

MASK = "********"
"""What a secret value is replaced with, everywhere."""

_SECRET_FIELD = re.compile(r"pass(word|wd)?|secret|token|credential", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n]")
MIN_SECRET_LENGTH = 4  # shorter "secrets" would mask ordinary words


def secret_forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` a message may carry: raw, ``repr``, JSON and URL escaped."""
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        secret.encode("unicode_escape").decode("ascii"),
        repr(secret.encode())[2:-1],  # as bytes show it (httpx's "Illegal header value b'...'")
        json.dumps(secret).replace("/", "\\/")[1:-1],  # JSON may escape "/" as "\/"
    }
    # The printable parts of a secret with control characters (httpx's "Illegal header value"
    # shows b'...\r' or the text around the offending character).
    forms.update(part for part in re.split(r"[\x00-\x1f\x7f]", secret) if len(part) >= 8)
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Scrubber:
    """Masks a fixed set of secrets in any text; longest forms first so none leaves a tail."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms = set[str]().union(*(secret_forms(s) for s in secrets if s))
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every form of every secret replaced by :data:`MASK`."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def found_in(self, text: str) -> bool:
        """True when some form of some secret occurs in ``text``."""
        return any(form in text for form in self._forms)

    def __bool__(self) -> bool:
        return bool(self._forms)


def needs_escaping(text: str) -> bool:
    """True when :func:`one_line` would change ``text``."""
    return _CONTROL.search(text) is not None or _LINE_BREAKS.search(text) is not None


def visible(text: str) -> str:
    """Control characters (escape codes, bidi overrides) shown as ``\\x1b``-style escapes."""
    return _CONTROL.sub(_escaped, text)


def one_line(text: str) -> str:
    """:func:`visible`, and newlines and tabs escaped too: server text that must stay one line.

    For a table cell or a message part that a server controls, so that it can neither move the
    cursor nor fake a line of its own (``\\nstopped: OK``).
    """
    return _LINE_BREAKS.sub(_escaped, visible(text))


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was when cut."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def shown(value: object, limit: int = 80) -> str:
    """A value as it appears inside a message: ``repr``'d, made visible, and bounded.

    A value longer than ``limit`` characters shows its first ``limit`` and its whole length
    (a 10 MB id on stdin is echoed as 80 characters, not 10 MB).
    """
    text = value if isinstance(value, str) else str(value)
    cut = f"... ({len(text)} characters)" if len(text) > limit else ""
    return visible(repr(text[:limit])) + cut


def mask_secrets(value: Any) -> Any:
    """A copy of JSON-like ``value`` where every non-empty secret-looking field is masked.

    The details call echoes Redis passwords back; this keeps them out of every output.
    """
    if isinstance(value, Mapping):
        return {
            key: MASK
            if _SECRET_FIELD.search(str(key)) and item not in (None, "")
            else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    return value
