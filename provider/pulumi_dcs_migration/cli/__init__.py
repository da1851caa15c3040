"""``dcs-migration``: the operator command line (list, show, stop, restart, delete tasks).

The console script ``dcs-migration`` calls :func:`main`. Commands share the client and the
stop-and-wait engine with the Pulumi resource; settings come from options or the environment
(:func:`pulumi_dcs_migration.settings.resolve`), credentials from the environment only.

Modules: :mod:`.app` (the click commands and exit codes), :mod:`.output` (tables, JSON,
password masking), :mod:`.progress` (live progress on a terminal, plain lines otherwise).
Importing this package has no side effects and prints nothing.
"""

from __future__ import annotations

from .app import ExitCode, cli, main

__all__ = ["ExitCode", "cli", "main"]
