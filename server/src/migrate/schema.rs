//! Placeholder until the legacy schema migration lands.
use rusqlite::Connection;

/// Brings a legacy per-profile database to the canonical schema of §2.3.
pub fn migrate_legacy_schema(_conn: &Connection) -> rusqlite::Result<()> {
    Ok(())
}
