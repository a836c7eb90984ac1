"""Maintenance: the monthly kill-switch drill, backup and restore of the ledger and the audit log.

The nightly archive and weekly rotation of the audit log are scheduled jobs (:mod:`ops.scheduler`).
"""

from ops.maintenance.backup import BackupResult, MaintenanceError, backup_home, check_files, read_manifest
from ops.maintenance.drill import DrillCheck, DrillReport, run_drill
from ops.maintenance.restore import RestoreResult, restore_home, verify_restore
from ops.maintenance.settings import MaintenanceSettings

__all__ = [
    "BackupResult",
    "DrillCheck",
    "DrillReport",
    "MaintenanceError",
    "MaintenanceSettings",
    "RestoreResult",
    "backup_home",
    "check_files",
    "read_manifest",
    "restore_home",
    "run_drill",
    "verify_restore",
]
