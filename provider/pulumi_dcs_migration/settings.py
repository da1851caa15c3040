"""Where the region, project, endpoint, TLS options and credentials come from, in which order.

Precedence lives here and nowhere else. A front end hands :func:`resolve` its layers of explicit
values, most specific first (a resource input, then the stack or provider config; a command-line
option), each with the words its users set a value with (``dcs:projectId``, ``--project-id``).
The environment always comes last:

1. the layers given, in order;
2. the Huawei Cloud Terraform provider's variables: ``HW_ACCESS_KEY``, ``HW_SECRET_KEY``,
   ``HW_SECURITY_TOKEN``, ``HW_PROJECT_ID``, ``HW_REGION_NAME``, ``HW_AUTH_TOKEN``;
3. the Huawei Cloud SDK's variables: ``HUAWEICLOUD_SDK_AK``, ``HUAWEICLOUD_SDK_SK``,
   ``HUAWEICLOUD_SDK_SECURITY_TOKEN``, ``HUAWEICLOUD_SDK_PROJECT_ID``, ``HUAWEICLOUD_SDK_REGION``;
4. this project's own: ``HW_DCS_ENDPOINT``, ``HW_DCS_CA_BUNDLE``, ``HW_DCS_INSECURE_SKIP_VERIFY``,
   ``HW_DCS_MAX_REQUESTS_PER_SECOND`` (the ceiling of the rate limit of one project, shared
   by this user's processes on the machine, see :mod:`.ratelimit`; default
   :data:`DEFAULT_MAX_REQUESTS_PER_SECOND`).

Region and endpoint are one choice: the most specific layer that names either decides; where
one layer names both, the endpoint wins (and :attr:`Location.ignored_region` says so,
so that front ends can warn). A bad value raises :class:`~.errors.ConfigurationError` naming the
setting and where it came from.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .auth import AkSkAuth, TokenAuth
from .errors import ConfigurationError
from .redact import shown

REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z0-9]+)*-\d+")
PROJECT_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

DEFAULT_MAX_REQUESTS_PER_SECOND = 10.0
"""The ceiling when none is set (see the README: the per-user quota Huawei Cloud publishes for
its other open APIs is 10 requests per second; DCS publishes none)."""

MAX_REQUESTS_PER_SECOND = 1000.0
"""The highest ceiling accepted."""


def _read_from(*variables: str) -> Any:
    return Field(None, validation_alias=AliasChoices(*variables))


class EnvironmentSettings(BaseSettings):
    """The settings found in the environment (the last layer of every resolution)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=False)

    region: str | None = _read_from("HW_REGION_NAME", "HUAWEICLOUD_SDK_REGION")
    endpoint: str | None = _read_from("HW_DCS_ENDPOINT")
    project_id: str | None = _read_from("HW_PROJECT_ID", "HUAWEICLOUD_SDK_PROJECT_ID")
    access_key: SecretStr | None = _read_from("HW_ACCESS_KEY", "HUAWEICLOUD_SDK_AK")
    secret_key: SecretStr | None = _read_from("HW_SECRET_KEY", "HUAWEICLOUD_SDK_SK")
    security_token: SecretStr | None = _read_from(
        "HW_SECURITY_TOKEN", "HUAWEICLOUD_SDK_SECURITY_TOKEN"
    )
    auth_token: SecretStr | None = _read_from("HW_AUTH_TOKEN")
    ca_bundle: str | None = _read_from("HW_DCS_CA_BUNDLE")
    # Text, parsed by parse_bool like every other source's value (one parser, one message).
    insecure_skip_verify: str | None = _read_from("HW_DCS_INSECURE_SKIP_VERIFY")
    # Text, checked by resolve() like every other source's value (one message for all of them).
    max_requests_per_second: str | None = _read_from("HW_DCS_MAX_REQUESTS_PER_SECOND")


SETTING_NAMES = tuple(EnvironmentSettings.model_fields)
SECRET_SETTINGS = frozenset({"access_key", "secret_key", "security_token", "auth_token"})


def env_vars(setting: str) -> tuple[str, ...]:
    """The environment variables one setting is read from, in order (``HW_PROJECT_ID``, ...)."""
    alias = EnvironmentSettings.model_fields[setting].validation_alias
    return tuple(map(str, getattr(alias, "choices", ())))


def env_names(setting: str) -> str:
    """The environment variables of one setting, as a user reads them (``HW_PROJECT_ID or ...``)."""
    return " / ".join(env_vars(setting))


@dataclass(frozen=True)
class Source:
    """A resolved value and the words of the source it came from (for messages)."""

    value: Any
    where: str


@dataclass(frozen=True)
class Layer:
    """One source of settings: its values (``None`` = not set here) and how users set each one.

    ``spelling`` maps a setting name to the words of this source (``"dcs:projectId"``,
    ``"--project-id"``), or to ``None`` where this source cannot set that setting.
    """

    values: Mapping[str, Any]
    spelling: Callable[[str], str | None] = field(default=lambda name: name)
    source: str = "input"

    def found(self, name: str) -> Source | None:
        """The value of ``name`` here and its words, ``None`` when unset (as is ``""``)."""
        value = self.values.get(name)
        return None if value is None or value == "" else Source(value, self.spelling(name) or name)


def explicit(**values: Any) -> Layer:
    """A layer of keyword values spelled as Python arguments (``project_id``)."""
    return Layer(values, source="argument")


def _environment_layer() -> Layer:
    env = EnvironmentSettings()
    values = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in env}
    return Layer(values, env_names, "environment")


def _first(name: str, layers: tuple[Layer, ...]) -> Source | None:
    return next((found for layer in layers if (found := layer.found(name))), None)


def where_to_set(name: str, *layers: Layer) -> str:
    """Where a user sets ``name``: ``layers``' words for it, then the environment variables
    (``"the stack config dcs:region or HW_REGION_NAME / HUAWEICLOUD_SDK_REGION"``)."""
    places = [p for layer in layers if (p := layer.spelling(name))] + [env_names(name)]
    return ", ".join(places[:-1]) + (" or " if len(places) > 1 else "") + places[-1]


@dataclass(frozen=True)
class Location:
    """Which project, and where its API is: ``base_url`` from an endpoint or a region."""

    project_id: str
    base_url: str
    region: str | None = None
    endpoint: str | None = None
    ignored_region: Source | None = None  # a region that lost to an endpoint (front ends warn)


@dataclass(frozen=True, repr=False)
class Credentials:
    """AK/SK (optionally temporary, with a security token) or an IAM token."""

    access_key: str | None = None
    secret_key: SecretStr | None = None
    security_token: SecretStr | None = None
    auth_token: SecretStr | None = None
    how_to_set: str = "HW_ACCESS_KEY and HW_SECRET_KEY (or HW_AUTH_TOKEN)"

    def __repr__(self) -> str:
        kind = "token" if self.auth_token else "aksk" if self.access_key else "none"
        return f"Credentials(kind={kind!r})"

    @property
    def present(self) -> bool:
        """True when there is something to authenticate with (AK and SK, or a token)."""
        return bool(self.auth_token or (self.access_key and self.secret_key))

    def secrets(self) -> list[str]:
        """Every secret value, for scrubbing from server text and logs."""
        hidden = (self.secret_key, self.security_token, self.auth_token)
        return [v for v in (self.access_key, *(s.get_secret_value() for s in hidden if s)) if v]

    def auth(self, project_id: str | None) -> httpx.Auth:
        """The httpx auth flow for these credentials."""
        if self.auth_token is not None:
            return TokenAuth(self.auth_token)
        if self.access_key and self.secret_key:
            return AkSkAuth(
                self.access_key,
                self.secret_key,
                security_token=self.security_token,
                project_id=project_id,
            )
        raise ConfigurationError(f"no DCS credentials: set {self.how_to_set}", setting="access_key")


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to talk to one project's DCS API."""

    endpoint: str
    project_id: str
    credentials: Credentials
    verify: bool | str = True  # True, a CA bundle path, or False (only when asked for explicitly)
    location: Location | None = None
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND  # the rate limit's ceiling


def resolve_location(*layers: Layer) -> Location:
    """The project and API URL from ``layers`` then the environment; raises on a bad value."""
    return _location(layers, (*layers, _environment_layer()))


def _location(given: tuple[Layer, ...], every: tuple[Layer, ...]) -> Location:
    """The location from ``every`` layer (``given`` then the environment)."""
    project = _first("project_id", every)
    if project is None:
        raise ConfigurationError(
            f"no project id: set {where_to_set('project_id', *given)} (32 hex digits)",
            setting="project_id",
        )
    project_id = _checked(validate_project_id, project)
    # The most specific layer that names a region or an endpoint decides (the others are
    # overridden, like any setting); when it names both, the endpoint wins and the region is
    # reported as ignored.
    for layer in every:
        region, endpoint = layer.found("region"), layer.found("endpoint")
        if region or endpoint:
            break
    if endpoint is not None:
        base = _checked(validate_endpoint, endpoint)
        return Location(project_id, base, None, base, ignored_region=region)
    if region is not None:
        return Location(project_id, _checked(endpoint_for, region), str(region.value), None)
    raise ConfigurationError(
        f"no region or endpoint: set a region (e.g. cn-north-4: {where_to_set('region', *given)})"
        f" or an endpoint ({where_to_set('endpoint', *given)})",
        setting="region",
    )


def _checked(check: Callable[[str], str], found: Source) -> str:
    try:
        return check(found.value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{found.where}: {exc}", setting=exc.setting) from None


def resolve(*layers: Layer) -> ConnectionSettings:
    """Everything a client needs, from ``layers`` then the environment."""
    every = (*layers, _environment_layer())
    location = _location(layers, every)

    def secret(name: str) -> SecretStr | None:
        found = _first(name, every)
        if found is None:
            return None
        if _CONTROL.search(str(found.value)):  # a credential read from a CRLF file
            raise ConfigurationError(
                f"{found.where} contains a control character (a stray newline or carriage "
                "return?): set it again without one",
                setting=name,
            )
        return SecretStr(str(found.value))

    access = secret("access_key")
    credentials = Credentials(
        access_key=access.get_secret_value() if access else None,
        secret_key=secret("secret_key"),
        security_token=secret("security_token"),
        auth_token=secret("auth_token"),
        how_to_set=f"{where_to_set('access_key', *layers)} and "
        f"{where_to_set('secret_key', *layers)} (or HW_AUTH_TOKEN)",
    )
    rate = _first("max_requests_per_second", every)
    return ConnectionSettings(
        location.base_url,
        location.project_id,
        credentials,
        _verify(every),
        location,
        DEFAULT_MAX_REQUESTS_PER_SECOND
        if rate is None
        else requests_per_second(rate.value, rate.where),
    )


def requests_per_second(value: Any, where: str) -> float:
    """A rate in ``(0, MAX_REQUESTS_PER_SECOND]``, from a number or its text (config values are
    text)."""
    return checked_number(
        value,
        where,
        f"a number of requests per second in (0, {MAX_REQUESTS_PER_SECOND:g}]",
        maximum=MAX_REQUESTS_PER_SECOND,
        text=True,
        setting="max_requests_per_second",
    )


def _verify(layers: tuple[Layer, ...]) -> bool | str:
    """httpx's ``verify``: on by default, a CA bundle file if given, off only when asked.

    The first layer that says anything about TLS wins, so an explicit "verify" (a CLI option)
    overrides ``HW_DCS_INSECURE_SKIP_VERIFY=true`` from the environment.
    """
    for layer in layers:
        insecure, bundle = layer.found("insecure_skip_verify"), layer.found("ca_bundle")
        if insecure and parse_bool(insecure.value, insecure.where, "insecure_skip_verify"):
            return False
        if bundle is not None:
            return _ca_bundle(str(bundle.value), bundle.where)
        if insecure is not None:
            return True
    return True


def _ca_bundle(path: str, where: str) -> str:
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"{where}: CA bundle {path!r} is not a readable file", setting="ca_bundle"
        )
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError):
        raise ConfigurationError(
            f"{where}: {path!r} holds no PEM certificate a TLS client can use", setting="ca_bundle"
        ) from None
    return path


def parse_bool(value: Any, where: str, setting: str | None = None) -> bool:
    """``true``/``false`` (and 1/0, yes/no, on/off) from config strings; raises naming ``where``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ConfigurationError(
        f"{where} must be true or false, not {str(value)[:40]!r}", setting=setting or where
    )


def endpoint_for(region: str) -> str:
    """The public endpoint of a region: ``https://dcs.{region}.myhuaweicloud.com``."""
    return f"https://dcs.{validate_region(region)}.myhuaweicloud.com"


def validate_region(region: str) -> str:
    """Return ``region`` if it looks like a region id (``cn-north-4``), else raise ConfigurationError."""
    if not isinstance(region, str) or not REGION_PATTERN.fullmatch(region):
        raise ConfigurationError(
            f"invalid region {str(region)[:80]!r}: expected a region id like cn-north-4",
            setting="region",
        )
    return region


def validate_project_id(project_id: str) -> str:
    """Return ``project_id`` if it is 32 lower-case hex digits, else raise ConfigurationError."""
    if not isinstance(project_id, str) or not PROJECT_ID_PATTERN.fullmatch(project_id):
        raise ConfigurationError(
            f"invalid project id {str(project_id)[:80]!r}: expected 32 lower-case hex digits "
            "(console: My Credentials > API Credentials)",
            setting="project_id",
        )
    return project_id


def validate_endpoint(endpoint: str) -> str:
    """Check an endpoint URL and return it without a trailing slash."""
    quoted = repr(str(endpoint)[:120])
    try:
        url = httpx.URL(endpoint)
        host = url.host
    except (httpx.InvalidURL, TypeError, ValueError, UnicodeError) as exc:
        raise ConfigurationError(f"invalid endpoint {quoted}: {exc}", setting="endpoint") from None
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
            host.strip("[]")
        )
    except ValueError:
        ip = None
    # A host is an IP address or a DNS name of non-empty labels (``a..b`` and ``-x`` are not).
    labels = host.rstrip(".").split(".")
    if url.scheme not in ("https", "http") or not (ip or all(map(_HOST_LABEL.fullmatch, labels))):
        raise ConfigurationError(
            f"invalid endpoint {quoted}: expected https://host[:port]", setting="endpoint"
        )
    if url.scheme == "http" and not (host == "localhost" or (ip and ip.is_loopback)):
        raise ConfigurationError(
            f"refusing plain http endpoint {quoted}: credentials and signatures would cross "
            "the network unencrypted; use https (http is allowed only for a loopback simulator)",
            setting="endpoint",
        )
    if url.userinfo or url.query or url.fragment:
        raise ConfigurationError(
            f"invalid endpoint {quoted}: no user, query or fragment allowed", setting="endpoint"
        )
    return str(url).rstrip("/")


def positive_seconds(value: Any, where: str, *, maximum: float = 86_400) -> float:
    """A number of seconds in ``(0, maximum]`` (text refused: a Pulumi input has a type)."""
    return checked_number(value, where, f"a number of seconds in (0, {maximum:g}]", maximum=maximum)


def checked_number(
    value: Any,
    where: str,
    expected: str,
    *,
    maximum: float = math.inf,
    zero: bool = False,
    whole: bool = False,
    text: bool = False,
    setting: str | None = None,
) -> float:
    """The one number rule: a finite number in ``(0, maximum]`` (``[0, maximum]`` with
    ``zero``; a whole one with ``whole``; read from text with ``text``). Booleans, NaN and
    infinity are refused: :class:`~.errors.ConfigurationError` ``"{where} must be {expected},
    not {value}"``. A whole number comes back as given (an int stays an int)."""
    number: Any = value
    if text and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    # An int is compared as it is: float() of a huge one would overflow.
    valid = (
        isinstance(number, int | float)
        and not isinstance(number, bool)
        and (isinstance(number, int) or math.isfinite(number))
        and (number >= 0 if zero else number > 0)
        and number <= maximum
        and (not whole or isinstance(number, int) or number.is_integer())
    )
    if not valid:
        raise ConfigurationError(
            f"{where} must be {expected}, not {shown(value)}", setting=setting or where
        )
    return number if whole else float(number)
