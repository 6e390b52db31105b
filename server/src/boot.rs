//! The start-up sequence (§2.5), fixed: data-directory migrations, schema
//! migration of every known profile, the one-time cleanup (D17) and a
//! first backup (D18). `dry_run` reports and changes nothing.

use crate::backup;
use crate::state::AppState;
use crate::store::datastore::Datastores;
use crate::store::error::{StoreError, StoreResult};
use crate::store::system::is_servable_user_id;
use crate::store::{dedup, schema};

/// What start-up should do.
#[derive(Debug, Clone, Default)]
pub struct BootOptions {
    /// Report what would change; write nothing.
    pub dry_run: bool,
    /// The legacy `API_KEY`: becomes user `default` when there are no users.
    pub legacy_api_key: Option<String>,
    /// Take a backup of everything before serving.
    pub backup_on_start: bool,
}

/// One line per action, in a stable order, for the log and `migrate`.
#[derive(Debug, Default, Clone)]
pub struct BootReport {
    pub actions: Vec<String>,
    /// What the operator must fix, though start-up went on (a user row
    /// with an invalid name): `serve` logs these as warnings.
    pub warnings: Vec<String>,
}

/// Runs the start-up sequence on an opened state.
pub fn prepare(state: &AppState, opts: &BootOptions) -> StoreResult<BootReport> {
    let mut report = BootReport::default();
    let dd = crate::migrate::data_dir::migrate_data_dir(
        &state.data_dir,
        &state.system,
        state.clock.as_ref(),
        state.ids.as_ref(),
        &crate::migrate::data_dir::DataDirOptions {
            dry_run: opts.dry_run,
            legacy_api_key: opts.legacy_api_key.clone(),
        },
    )
    .map_err(|e| StoreError::Unavailable(format!("data directory migration failed: {e}")))?;
    report.actions.extend(dd.lines());
    // A user row whose id no path may be built from (written before ids
    // were checked, or by hand) is named and left alone, rows and files:
    // its requests are refused, everyone else is served.
    for u in state.system.users()? {
        if !is_servable_user_id(&u.id) {
            let line = format!(
                "skipped user {:?}: not a valid user id, so it is not served or backed up (remove it with `peek-server user delete`)",
                u.id
            );
            report.warnings.push(line);
        }
    }
    for p in state.system.all_profiles()? {
        if !is_servable_user_id(&p.user_id) {
            continue;
        }
        let dir = Datastores::profile_dir(&state.data_dir, &p.user_id, &p.id)?;
        let file = dir.join("datastore.sqlite");
        if opts.dry_run {
            if file.exists() {
                report.actions.extend(inspect(&file, &p.user_id, &p.id)?);
            }
            continue;
        }
        if !file.exists() {
            continue; // created on first use, born clean
        }
        let db = state.profile_db(&p.user_id, &p.id)?;
        let now = state.now();
        let cleaned = db.write(move |tx| dedup::run(tx, now, false))?;
        if !cleaned.already_done {
            report.actions.push(format!(
                "dedup {}/{}: {} duplicate(s) turned into tombstones",
                p.user_id,
                p.id,
                cleaned.tombstoned.len()
            ));
        }
    }
    if opts.backup_on_start && !opts.dry_run {
        let n = backup::backup_all(state)?.len();
        report
            .actions
            .push(format!("backup: system.db and {n} user(s)"));
    }
    Ok(report)
}

/// Dry run of one profile: what opening it would change, read-only.
fn inspect(file: &std::path::Path, user: &str, profile: &str) -> StoreResult<Vec<String>> {
    let c =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut out = Vec::new();
    if !schema::has_column(&c, "items", "changeSeq")?
        || !schema::has_column(&c, "items", "createdAt")?
    {
        out.push(format!("would migrate schema of {user}/{profile}"));
    }
    if schema::table_exists(&c, "settings")? && !dedup::flag_set(&c)? {
        out.push(format!("would run the one-time dedup on {user}/{profile}"));
    }
    Ok(out)
}
