"""Team scale: shared state on PostgreSQL, locking, and many stacks run by the fleet program."""
