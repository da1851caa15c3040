"""The cutover program: the migration tasks listed in the stack's config are stopped.

Stack config (``stacks/Pulumi.<stack>.yaml``):

* ``dcs-migration:taskIds`` (required): the ids of the migration tasks to stop;
* ``dcs-migration:timeoutSeconds``, ``dcs-migration:onFinished`` (``warn``/``fail``) and
  ``dcs-migration:deleteRecordsOnDestroy`` (optional);
* ``dcs-migration:maxOffset`` and ``dcs-migration:syncTimeoutSeconds`` (optional): the cutover
  guard, stopping each task only once its lag is at most ``maxOffset``;
* ``dcs-migration:maxKeyDifference`` (optional, with ``maxOffset``): the guard counts keys too,
  stopping a task only once its target holds at most this many keys fewer than its source;
* ``dcs:region`` or ``dcs:endpoint``, ``dcs:projectId``, and the secrets ``dcs:accessKey`` /
  ``dcs:secretKey`` (or the ``HW_*`` environment variables; see the README): the resource's
  provider reads these itself, so the program does not pass them.
"""

import pulumi

from pulumi_dcs_migration import MigrationTasksStopped

config = pulumi.Config()

cutover = MigrationTasksStopped(
    "cutover",
    task_ids=config.require_object("taskIds"),
    timeout_seconds=config.get_float("timeoutSeconds"),
    on_finished=config.get("onFinished"),
    delete_records_on_destroy=config.get_bool("deleteRecordsOnDestroy"),
    max_offset=config.get_int("maxOffset"),
    sync_timeout_seconds=config.get_float("syncTimeoutSeconds"),
    max_key_difference=config.get_int("maxKeyDifference"),
)

pulumi.export("terminated_ids", cutover.terminated_ids)
pulumi.export("tasks", cutover.tasks)
