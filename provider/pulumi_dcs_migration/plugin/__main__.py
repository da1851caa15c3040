"""``python -m pulumi_dcs_migration.plugin ENGINE_ADDRESS``: the plugin, as the engine runs it.

``python -m pulumi_dcs_migration.plugin --schema`` prints the package schema instead.
"""

from __future__ import annotations

import sys

from . import main
from .schema import schema_json

if __name__ == "__main__":
    if sys.argv[1:] == ["--schema"]:
        sys.stdout.write(schema_json())
    else:
        main()
