"""``python -m pulumi_dcs_migration.cli``: the same as the ``dcs-migration`` console script."""

from __future__ import annotations

from .app import main

if __name__ == "__main__":
    main()
