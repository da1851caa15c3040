"""Server-side AK/SK verification, the way the API gateway checks a signature.

The canonicalisation is the product's own (:mod:`pulumi_dcs_migration.auth`), so a request the
client signs and the simulator verifies go through exactly the same code.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from pulumi_dcs_migration.auth import (
    MAX_CLOCK_SKEW,
    canonical_request,
    parse_sdk_date,
    payload_hash,
    signature,
    string_to_sign,
)

_AUTH_RE = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<sh>[^,\s]+),\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$"
)


@dataclass(frozen=True)
class Verdict:
    """Outcome of checking one request's signature."""

    ok: bool
    reason: str = ""
    access_key: str | None = None
    canonical_request: str = ""


def verify_request(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: dt.datetime | None = None,
    max_skew: dt.timedelta = MAX_CLOCK_SKEW,
) -> Verdict:
    """Check an ``SDK-HMAC-SHA256`` signature the way the API gateway does.

    ``raw_path``/``raw_query`` are as received on the wire; ``secret_for`` maps an access key to
    its secret key (``None`` when the key is unknown).
    """
    lookup = {name.lower(): value for name, value in headers}
    auth = lookup.get("authorization", "")
    match = _AUTH_RE.match(auth.strip())
    if not match:
        return Verdict(False, "missing or malformed Authorization header")
    access_key, signed, sig = match["ak"], match["sh"].split(";"), match["sig"].lower()
    secret = secret_for(access_key)
    if secret is None:
        return Verdict(False, "unknown access key", access_key)
    date = lookup.get("x-sdk-date")
    if date is None:
        return Verdict(False, "missing X-Sdk-Date", access_key)
    try:
        when = parse_sdk_date(date)
    except ValueError:
        return Verdict(False, "malformed X-Sdk-Date", access_key)
    if abs((now or dt.datetime.now(dt.UTC)) - when) > max_skew:
        return Verdict(False, "X-Sdk-Date is more than 15 minutes from server time", access_key)
    if "x-sdk-date" not in signed:
        return Verdict(False, "X-Sdk-Date is not signed", access_key)
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    canonical = canonical_request(
        method, raw_path, pairs, headers, signed, payload_hash(body, headers)
    )
    expected = signature(secret, string_to_sign(date.strip(), canonical))
    if not hmac.compare_digest(expected, sig):
        return Verdict(False, "signature mismatch", access_key, canonical)
    return Verdict(True, "", access_key, canonical)
