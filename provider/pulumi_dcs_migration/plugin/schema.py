"""The Pulumi package schema of ``dcs-migration``, built from the lifecycle's property list.

One source of truth: the inputs and outputs of ``MigrationTasksStopped`` (names, types,
documentation, what replaces) are :data:`~..lifecycle.INPUTS` / :data:`~..lifecycle.OUTPUTS`,
written here in the schema's camelCase. ``sdk/schema.json`` is this schema as a file, and the
TypeScript SDK in ``sdk/nodejs`` is generated from it (``make sdk``).
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__, lifecycle
from ..lifecycle import Property, camel
from ..settings import SECRET_SETTINGS

PACKAGE = "dcs-migration"
RESOURCE_TOKEN = f"{PACKAGE}:index:MigrationTasksStopped"
TASK_TYPE_TOKEN = f"{PACKAGE}:index:TaskResult"
# The plugin's Python SDK: its own distribution and import name, never the product's.
SDK_PYTHON_PACKAGE = "pulumi_dcs_migration_sdk"
# The Go SDK: module github.com/pulumi-dcs-migration/pulumi-dcs-migration/sdk/go (its go.mod).
SDK_GO_IMPORT_PATH = "github.com/pulumi-dcs-migration/pulumi-dcs-migration/sdk/go/dcsmigration"

CONFIG: tuple[Property, ...] = (
    Property("region", "string", "Default region, e.g. cn-north-4 (else HW_REGION_NAME)."),
    Property("project_id", "string", "Default IAM project id, 32 hex digits (else HW_PROJECT_ID)."),
    Property(
        "endpoint",
        "string",
        "Default API URL instead of the region's (else HW_DCS_ENDPOINT); plain http only on "
        "loopback.",
    ),
    Property("access_key", "string", "Access key (else HW_ACCESS_KEY)."),
    Property("secret_key", "string", "Secret key (else HW_SECRET_KEY)."),
    Property(
        "security_token",
        "string",
        "Security token of temporary credentials (else HW_SECURITY_TOKEN).",
    ),
    Property(
        "ca_bundle",
        "string",
        "PEM file of CAs to verify the API's certificate with (else HW_DCS_CA_BUNDLE).",
    ),
    Property(
        "insecure_skip_verify",
        "boolean",
        "Turn TLS verification off (else HW_DCS_INSECURE_SKIP_VERIFY). Diagnosis only.",
    ),
    Property(
        "max_requests_per_second",
        "number",
        "Ceiling of the requests per second to one project's API from this machine, shared "
        "by every dcs-migration process of the user (a fleet's stacks stay under it "
        "together); else HW_DCS_MAX_REQUESTS_PER_SECOND, else 10. Below it the rate adapts "
        "to throttling (HTTP 429), and stops go before status looks.",
    ),
)
"""The provider config; the credentials among it (:data:`~..settings.SECRET_SETTINGS`) are
secret."""
CONFIG_NAMES: tuple[str, ...] = tuple(p.name for p in CONFIG)

DESCRIPTION = (
    "Declares that a set of Huawei Cloud DCS data-migration tasks is stopped (status "
    "TERMINATED). `up` batch-stops the tasks that run and waits for them (bounded by "
    "customTimeouts, else timeoutSeconds); a task found running again is stopped again by the "
    "next `up`, with or without a refresh; `destroy` leaves the tasks stopped.\n\n"
    "## Import\n\n"
    "`pulumi import dcs-migration:index:MigrationTasksStopped NAME <task-id>[,<task-id>...]` "
    "adopts a set of tasks of the project the provider config (or the environment) names. "
    "The resource ID is `<project id>/<12 hex digits>`, a digest of the resource's URN and the "
    "task ids it was created or imported with; it stays the same for the resource's life."
)


def _property(prop: Property) -> dict[str, Any]:
    spec: dict[str, Any] = {"description": prop.doc}
    if prop.name == "task_ids" or prop.name == "terminated_ids":
        spec.update(type="array", items={"type": "string"})
    elif prop.name == "tasks":
        spec.update(type="array", items={"$ref": f"#/types/{TASK_TYPE_TOKEN}"})
    else:
        spec["type"] = prop.type
    if prop.default is not None:
        spec["default"] = prop.default
    if prop.name in SECRET_SETTINGS:
        spec["secret"] = True
    return spec


def schema() -> dict[str, Any]:
    """The package schema as a JSON-ready dict."""
    inputs = {camel(p.name): _property(p) for p in lifecycle.INPUTS}
    outputs = {**inputs, **{camel(p.name): _property(p) for p in lifecycle.OUTPUTS}}
    config = {camel(p.name): _property(p) for p in CONFIG}
    return {
        "name": PACKAGE,
        "displayName": "DCS migration tasks",
        "version": __version__,
        "description": "Stop Huawei Cloud DCS (managed Redis) data-migration tasks as part of a "
        "deployment.",
        "keywords": ["huaweicloud", "dcs", "redis", "migration", "category/database"],
        "license": "Apache-2.0",
        "publisher": "pulumi-dcs-migration",
        "config": {"variables": config},
        "provider": {
            "description": "The dcs-migration provider: where the API is and how to sign.",
            "inputProperties": config,
        },
        "resources": {
            RESOURCE_TOKEN: {
                "description": DESCRIPTION,
                "inputProperties": inputs,
                "requiredInputs": ["taskIds"],
                "properties": outputs,
                "required": [
                    "taskIds",
                    "projectId",
                    "timeoutSeconds",
                    "onFinished",
                    "deleteRecordsOnDestroy",
                    "tasks",
                    "terminatedIds",
                ],
            }
        },
        "types": {
            TASK_TYPE_TOKEN: {
                "type": "object",
                "description": "What was seen of one declared task, and what happened to it.",
                "properties": {camel(p.name): _property(p) for p in lifecycle.TASK_FIELDS},
                "required": ["taskId"],
            }
        },
        # The SDKs' names (make sdk; docs/development.md). Python: the product itself is
        # `pulumi_dcs_migration`, so the plugin's SDK is `pulumi_dcs_migration_sdk`. Go: the module
        # at sdk/go. Every SDK carries this package's version.
        "meta": {"supportPack": True},
        "language": {
            "nodejs": {
                "packageName": "@dcs-migration/pulumi",
                "packageDescription": "Stop Huawei Cloud DCS data-migration tasks from Pulumi.",
                "dependencies": {"@pulumi/pulumi": "^3.142.0"},
                "respectSchemaVersion": True,
            },
            "python": {
                "packageName": SDK_PYTHON_PACKAGE,
                "requires": {"pulumi": ">=3.142.0,<4.0.0"},
                "pyproject": {"enabled": True},
                "respectSchemaVersion": True,
            },
            "go": {
                "importBasePath": SDK_GO_IMPORT_PATH,
                "generateResourceContainerTypes": True,
                "respectSchemaVersion": True,
            },
        },
    }


def schema_json() -> str:
    """The schema as the text ``GetSchema`` returns and ``sdk/schema.json`` holds."""
    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"
