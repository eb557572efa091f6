//! `kioskctl outbox`: the outbox as a file a technician keeps.

use super::*;

pub fn backup(config: &Path, json: bool, dest: &Path) -> Result<(), Failure> {
    let cfg = load(config)?;
    let outbox = Outbox::attach(&cfg.sync.outbox.path).map_err(|e| fail("outbox", e))?;
    let report = outbox
        .backup_to(dest)
        .map_err(|e| fail("backup-failed", e))?;
    print(json, json!({ "ok": true, "backup": report }), || {
        format!(
            "{} applications (schema {}) backed up to {}",
            report.applications,
            report.schema_version,
            report.path.display()
        )
    });
    Ok(())
}
