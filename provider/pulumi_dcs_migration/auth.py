"""Request authentication for DCS: AK/SK signing (``SDK-HMAC-SHA256``) and IAM tokens.

The canonicalisation lives here once. :class:`AkSkAuth` uses it to sign outgoing requests exactly
as the official ``huaweicloudsdkcore`` signer does (reference section 6.2; the signing vectors in
``tests/data`` prove it byte for byte). The simulator (a separate distribution) imports the same
functions to verify the signatures it receives; nothing here knows about servers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Generator, Iterable, Sequence
from urllib.parse import quote, unquote

import httpx
from pydantic import SecretStr

from .redact import MASK

ALGORITHM = "SDK-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)

# Headers an intermediary may rewrite after signing (hop-by-hop, framing) are never signed:
# "never sign a header you might change afterwards". The SDK never sends them, so the vectors
# are unaffected; httpx adds Content-Length and Connection itself.
_UNSIGNABLE = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "expect",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def _rfc3986(value: str) -> str:
    """Percent-encode everything except ``A-Z a-z 0-9 - _ . ~`` (UTF-8 for non-ASCII)."""
    return quote(value, safe="-_.~")


def canonical_uri(path: str) -> str:
    """Decode the whole path, re-encode each segment, and end it with ``/``.

    An encoded ``%2F`` becomes a real separator, as in the SDK (a quirk kept on purpose).
    """
    encoded = "/".join(_rfc3986(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sort decoded pairs by key then value (code points) and encode both; ``k=`` when empty."""
    return "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(pairs))


def payload_hash(body: bytes, headers: Sequence[tuple[str, str]]) -> str:
    """SHA-256 of the body, or ``UNSIGNED-PAYLOAD`` when the SDK would not sign it."""
    for name, value in headers:
        if name.lower() == "x-sdk-content-sha256" and value.strip() == UNSIGNED_PAYLOAD:
            return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    path: str,
    query_pairs: Iterable[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    signed_names: Sequence[str],
    body_hash: str,
) -> str:
    """The SDK's canonical request: method, URI, query, headers block, signed list, hash."""
    values = {name.lower(): value.strip() for name, value in headers}
    block = "".join(f"{name}:{values.get(name, '')}\n" for name in signed_names)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query_pairs),
            block,
            ";".join(signed_names),
            body_hash,
        ]
    )


def string_to_sign(sdk_date: str, canonical: str) -> str:
    """The SDK's string to sign: algorithm, date and the canonical request's SHA-256."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of ``to_sign`` keyed with the secret key itself (no key derivation)."""
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sdk_date(now: dt.datetime | None = None) -> str:
    """``X-Sdk-Date`` for ``now`` (default: the current UTC time), ``YYYYMMDDTHHMMSSZ``."""
    return (now or dt.datetime.now(dt.UTC)).strftime(SDK_DATE_FORMAT)


def parse_sdk_date(value: str) -> dt.datetime:
    """Parse ``YYYYMMDDTHHMMSSZ``; raises ``ValueError`` on anything else."""
    return dt.datetime.strptime(value.strip(), SDK_DATE_FORMAT).replace(tzinfo=dt.UTC)


class AkSkAuth(httpx.Auth):
    """Sign every request with an access key / secret key pair, as the official SDK does.

    ``AkSkAuth(access_key, secret_key, *, security_token=None, project_id=None)``. A request that
    already carries ``X-Sdk-Date`` is signed with that date (this is how the test vectors pin the
    clock); otherwise the current UTC time is used. ``Host``, ``X-Project-Id`` and
    ``X-Security-Token`` are added before signing. The query string is rewritten to its canonical
    form so that what is signed is exactly what is sent. The secret key and token never appear in
    ``repr``.
    """

    requires_request_body = True

    def __init__(
        self,
        access_key: str,
        secret_key: str | SecretStr,
        *,
        security_token: str | SecretStr | None = None,
        project_id: str | None = None,
    ) -> None:
        if not access_key or not str(access_key).strip():
            raise ValueError("access_key is empty: set HW_ACCESS_KEY or pass access_key")
        self.access_key = access_key.strip()
        self._secret_key = (
            secret_key if isinstance(secret_key, SecretStr) else SecretStr(secret_key)
        )
        if not self._secret_key.get_secret_value():
            raise ValueError("secret_key is empty: set HW_SECRET_KEY or pass secret_key")
        if isinstance(security_token, str):
            security_token = SecretStr(security_token) if security_token else None
        self._security_token = security_token
        self.project_id = project_id

    def __repr__(self) -> str:
        token = f", security_token='{MASK}'" if self._security_token else ""
        return f"AkSkAuth(access_key={self.access_key!r}, secret_key='{MASK}'{token})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's hook: sign the request, then send it."""
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add the signing headers to ``request`` in place."""
        if "Authorization" in request.headers:
            return  # the SDK leaves a pre-signed request alone
        parse_sdk_date(request.headers.setdefault("X-Sdk-Date", sdk_date()))  # a pinned one too
        request.headers.setdefault("Host", request.url.netloc.decode("ascii"))
        if self._security_token is not None:
            request.headers["X-Security-Token"] = self._security_token.get_secret_value()
        if self.project_id:
            request.headers["X-Project-Id"] = self.project_id
        raw_ct = [v for k, v in request.headers.raw if k == b"Content-Type"]
        if raw_ct and not raw_ct[0].lstrip().startswith((b"application/json", b"application/bson")):
            request.headers["X-Sdk-Content-Sha256"] = UNSIGNED_PAYLOAD

        pairs = request.url.params.multi_items()
        query = canonical_query(pairs)
        request.url = request.url.copy_with(query=query.encode("ascii") if query else None)
        headers = [(k, v.strip()) for k, v in request.headers.multi_items()]
        # Lower-cased and sorted; hop-by-hop headers and names with "_" are not signed.
        names = sorted({k.lower() for k, _ in headers if "_" not in k} - _UNSIGNABLE)
        for name in names:  # the SDK sends the stripped values it signed
            request.headers[name] = request.headers[name].strip()
        canonical = canonical_request(
            request.method,
            request.url.path,
            pairs,
            headers,
            names,
            payload_hash(request.content, headers),
        )
        to_sign = string_to_sign(request.headers["X-Sdk-Date"], canonical)
        sig = signature(self._secret_key.get_secret_value(), to_sign)
        request.headers["Authorization"] = (
            f"{ALGORITHM} Access={self.access_key}, SignedHeaders={';'.join(names)}, Signature={sig}"
        )


class TokenAuth(httpx.Auth):
    """Authenticate with an IAM token in ``X-Auth-Token`` (no signature)."""

    def __init__(self, token: str | SecretStr) -> None:
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        if not self._token.get_secret_value():
            raise ValueError("token is empty")

    def __repr__(self) -> str:
        return f"TokenAuth(token='{MASK}')"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's hook: add ``X-Auth-Token``, then send the request."""
        request.headers["X-Auth-Token"] = self._token.get_secret_value()
        yield request
