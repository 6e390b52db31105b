//! Placeholder until the data-directory migration lands (branch `migrate`).
use std::path::Path;

use crate::clock::{Clock, IdSource};
use crate::store::system::SystemDb;

pub struct DataDirOptions {
    pub dry_run: bool,
    pub legacy_api_key: Option<String>,
}

#[derive(Default)]
pub struct DataDirReport;
impl DataDirReport {
    pub fn lines(&self) -> Vec<String> {
        Vec::new()
    }
}

pub fn migrate_data_dir(
    _data_dir: &Path,
    system: &SystemDb,
    clock: &dyn Clock,
    _ids: &dyn IdSource,
    opts: &DataDirOptions,
) -> Result<DataDirReport, rusqlite::Error> {
    if let (Some(k), false) = (&opts.legacy_api_key, opts.dry_run) {
        if system.user_count()? == 0 {
            system.create_user("default", k, &crate::timestamp::format_iso(clock.now_ms()))?;
        }
    }
    Ok(DataDirReport)
}
