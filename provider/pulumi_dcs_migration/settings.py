"""Where the region, project, endpoint and credentials come from, and in which order.

Precedence, first found wins, per setting:

1. an explicit argument (a resource input, a stack config key, a CLI option);
2. the Huawei Cloud Terraform provider's variables: ``HW_ACCESS_KEY``, ``HW_SECRET_KEY``,
   ``HW_SECURITY_TOKEN``, ``HW_PROJECT_ID``, ``HW_REGION_NAME``, ``HW_AUTH_TOKEN``;
3. the Huawei Cloud SDK's variables: ``HUAWEICLOUD_SDK_AK``, ``HUAWEICLOUD_SDK_SK``,
   ``HUAWEICLOUD_SDK_SECURITY_TOKEN``, ``HUAWEICLOUD_SDK_PROJECT_ID``, ``HUAWEICLOUD_SDK_REGION``.

``HW_DCS_ENDPOINT`` (this project's own) overrides the region's endpoint, e.g. for the simulator.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

import httpx
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .auth import AkSkAuth, TokenAuth
from .errors import ConfigurationError

REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z0-9]+)*-\d+")
PROJECT_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


class EnvironmentSettings(BaseSettings):
    """Settings read from the environment only (explicit values are layered on top)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=False)

    access_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("HW_ACCESS_KEY", "HUAWEICLOUD_SDK_AK")
    )
    secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("HW_SECRET_KEY", "HUAWEICLOUD_SDK_SK")
    )
    security_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("HW_SECURITY_TOKEN", "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
    )
    auth_token: SecretStr | None = Field(None, validation_alias=AliasChoices("HW_AUTH_TOKEN"))
    project_id: str | None = Field(
        None, validation_alias=AliasChoices("HW_PROJECT_ID", "HUAWEICLOUD_SDK_PROJECT_ID")
    )
    region: str | None = Field(
        None, validation_alias=AliasChoices("HW_REGION_NAME", "HUAWEICLOUD_SDK_REGION")
    )
    endpoint: str | None = Field(None, validation_alias=AliasChoices("HW_DCS_ENDPOINT"))
    ca_bundle: str | None = Field(None, validation_alias=AliasChoices("HW_DCS_CA_BUNDLE"))
    insecure_skip_verify: bool = Field(
        False, validation_alias=AliasChoices("HW_DCS_INSECURE_SKIP_VERIFY")
    )


@dataclass(frozen=True, repr=False)
class Credentials:
    """AK/SK (optionally temporary, with a security token) or an IAM token."""

    access_key: str | None = None
    secret_key: SecretStr | None = None
    security_token: SecretStr | None = None
    auth_token: SecretStr | None = None

    def __repr__(self) -> str:
        kind = "token" if self.auth_token else "aksk" if self.access_key else "none"
        return f"Credentials(kind={kind!r})"

    @property
    def present(self) -> bool:
        """True when there is something to authenticate with (AK and SK, or a token)."""
        return bool(self.auth_token or (self.access_key and self.secret_key))

    def secrets(self) -> list[str]:
        """Every secret value, for scrubbing from server text and logs."""
        values = [self.access_key]
        values += [
            s.get_secret_value()
            for s in (self.secret_key, self.security_token, self.auth_token)
            if s
        ]
        return [v for v in values if v]

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
        raise ConfigurationError(
            "no DCS credentials: set HW_ACCESS_KEY and HW_SECRET_KEY (or HW_AUTH_TOKEN), "
            "or the stack's secret config dcs:accessKey / dcs:secretKey"
        )


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to talk to one project's DCS API."""

    endpoint: str
    project_id: str
    credentials: Credentials
    verify: bool | str = True  # True, a CA bundle path, or False (only when asked for explicitly)


def endpoint_for(region: str | None = None, endpoint: str | None = None) -> str:
    """The API base URL: an explicit endpoint if given, else the region's public endpoint.

    Plain ``http://`` is refused unless the host is loopback (the simulator).
    """
    if endpoint:
        return validate_endpoint(endpoint)
    if region:
        return f"https://dcs.{validate_region(region)}.myhuaweicloud.com"
    raise ConfigurationError(
        "no region or endpoint: set region (e.g. cn-north-4; HW_REGION_NAME or dcs:region) "
        "or endpoint (HW_DCS_ENDPOINT or dcs:endpoint)"
    )


def validate_region(region: str) -> str:
    """Return ``region`` if it looks like a region id (``cn-north-4``), else raise ConfigurationError."""
    if not isinstance(region, str) or not REGION_PATTERN.fullmatch(region):
        raise ConfigurationError(f"invalid region {region!r}: expected a region id like cn-north-4")
    return region


def validate_project_id(project_id: str) -> str:
    """Return ``project_id`` if it is 32 lower-case hex digits, else raise ConfigurationError."""
    if not isinstance(project_id, str) or not PROJECT_ID_PATTERN.fullmatch(project_id):
        raise ConfigurationError(
            f"invalid project id {project_id!r}: expected 32 lower-case hex digits "
            "(console: My Credentials > API Credentials)"
        )
    return project_id


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (where plain http is allowed)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_endpoint(endpoint: str) -> str:
    """Check an endpoint URL and return it without a trailing slash."""
    try:
        url = httpx.URL(endpoint)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"invalid endpoint {endpoint!r}: {exc}") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(f"invalid endpoint {endpoint!r}: expected https://host[:port]")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigurationError(
            f"refusing plain http endpoint {endpoint!r}: credentials and signatures would cross "
            "the network unencrypted; use https (http is allowed only for a loopback simulator)"
        )
    if url.userinfo or url.query or url.fragment:
        raise ConfigurationError(
            f"invalid endpoint {endpoint!r}: no user, query or fragment allowed"
        )
    return str(url).rstrip("/")


def resolve(
    *,
    region: str | None = None,
    endpoint: str | None = None,
    project_id: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    security_token: str | None = None,
    auth_token: str | None = None,
    ca_bundle: str | None = None,
    insecure_skip_verify: bool | None = None,
    environ: dict[str, str] | None = None,
) -> ConnectionSettings:
    """Combine explicit values with the environment into :class:`ConnectionSettings`."""
    env = _read_env(environ)
    project = project_id or env.project_id
    if not project:
        raise ConfigurationError(
            "no project id: set project_id (HW_PROJECT_ID or dcs:projectId), 32 hex digits"
        )
    base = endpoint_for(region or env.region, endpoint or env.endpoint)
    creds = Credentials(
        access_key=access_key or (env.access_key.get_secret_value() if env.access_key else None),
        secret_key=SecretStr(secret_key) if secret_key else env.secret_key,
        security_token=SecretStr(security_token) if security_token else env.security_token,
        auth_token=SecretStr(auth_token) if auth_token else env.auth_token,
    )
    return ConnectionSettings(
        base,
        validate_project_id(project),
        creds,
        tls_verify(ca_bundle or env.ca_bundle, insecure_skip_verify or env.insecure_skip_verify),
    )


def tls_verify(ca_bundle: str | None, insecure_skip_verify: bool) -> bool | str:
    """httpx's ``verify``: on by default, a CA bundle file if given, off only when asked."""
    if insecure_skip_verify:
        return False
    if ca_bundle:
        if not os.path.isfile(ca_bundle):
            raise ConfigurationError(f"CA bundle {ca_bundle!r} is not a readable file")
        return ca_bundle
    return True


def _read_env(environ: dict[str, str] | None) -> EnvironmentSettings:
    if environ is None:
        return EnvironmentSettings()
    # pydantic-settings reads os.environ; an explicit mapping (tests, the provider) goes in as
    # init values keyed by alias, keeping the same precedence.
    fields = EnvironmentSettings.model_fields
    values: dict[str, str] = {}
    for field in fields.values():
        choices = (
            field.validation_alias.choices
            if isinstance(field.validation_alias, AliasChoices)
            else []
        )
        for alias in choices:
            if isinstance(alias, str) and environ.get(alias):
                values[alias] = environ[alias]
                break
    return EnvironmentSettings.model_validate(values)
