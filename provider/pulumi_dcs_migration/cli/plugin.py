"""``dcs-migration plugin``: install the ``dcs-migration`` provider plugin into Pulumi, or print
its schema.

``install`` puts a one-line launcher for this Python's plugin into Pulumi's plugin directory
(``$PULUMI_HOME/plugins``, by default ``~/.pulumi/plugins``) with ``pulumi plugin install
resource dcs-migration VERSION --file DIR``, so YAML, TypeScript and other programs find the
plugin with no ``plugins:`` entry and no warning. Run it again after moving or recreating the
virtualenv: the launcher names this interpreter by its absolute path.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from .. import __version__
from ..plugin.schema import PACKAGE, schema_json
from .app import CliError, ExitCode

LAUNCHER = f"pulumi-resource-{PACKAGE}"


def launcher_script(python: str = sys.executable) -> str:
    """The executable the engine starts: this interpreter running the plugin module."""
    return (
        "#!/bin/sh\n"
        f"# The {PACKAGE} provider plugin, installed by `dcs-migration plugin install`.\n"
        f'exec {shlex.quote(python)} -m pulumi_dcs_migration.plugin "$@"\n'
    )


def _pulumi(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.prefix) / "bin" / "pulumi"
    found = str(beside) if beside.exists() else shutil.which("pulumi")
    if not found:
        raise CliError(
            "no pulumi CLI found: pass --pulumi PATH (or put pulumi on PATH)", ExitCode.USAGE
        )
    return found


@click.group("plugin")
def plugin_group() -> None:
    """The dcs-migration provider plugin (for YAML, TypeScript and other Pulumi programs)."""


@plugin_group.command("install")
@click.option(
    "--pulumi",
    "pulumi_path",
    metavar="PATH",
    help="The pulumi CLI (default: beside this Python, else on PATH).",
)
def install_command(pulumi_path: str | None) -> None:
    """Install the plugin (version of this package) into Pulumi's plugin directory."""
    pulumi = _pulumi(pulumi_path)
    with tempfile.TemporaryDirectory(prefix="dcs-migration-plugin-") as folder:
        launcher = Path(folder) / LAUNCHER
        launcher.write_text(launcher_script())
        launcher.chmod(0o755)
        args = ["install", "resource", PACKAGE, __version__, "--file", folder, "--reinstall"]
        env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        done = subprocess.run(
            [pulumi, "plugin", *args], capture_output=True, text=True, env=env, check=False
        )
    if done.returncode != 0:
        raise CliError(f"pulumi plugin install failed: {(done.stderr or done.stdout).strip()}")
    click.echo(f"installed resource plugin {PACKAGE} v{__version__} (runs {sys.executable})")


@plugin_group.command("schema")
def schema_command() -> None:
    """Print the package schema (what `pulumi package get-schema` would print)."""
    click.echo(schema_json(), nl=False)
