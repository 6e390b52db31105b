//! `system.db`: users (API key hashes) and profiles (§2.2), in the Node
//! server's exact schema so that a data directory moves between the two.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::names::is_safe_component;

/// SHA-256 of an API key, lower-case hex: what `users.api_key_hash` holds.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Slug derivation of `S:users.js:184`: lower-case, whitespace runs to `-`,
/// drop everything outside `[a-z0-9-]`.
pub fn slugify(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut in_ws = false;
    for ch in lower.chars() {
        if ch.is_whitespace() {
            if !in_ws {
                out.push('-');
            }
            in_ws = true;
            continue;
        }
        in_ws = false;
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' {
            out.push(ch);
        }
    }
    out
}

/// Names of the data directory's own entries: a user by one of these names
/// would share a folder with them (`backups/`, `system.db`, the Node-era
/// `peek.db`), so no new user may take one. Compared without case, for
/// case-insensitive file systems.
const RESERVED_USER_IDS: &[&str] = &["backups", "system.db", "peek.db"];

/// Whether a user id can be served: the rule every path built from a user
/// id is held to ([`is_safe_component`]). A row that breaks it (written
/// before ids were checked, or by hand) is skipped at start-up and by
/// backups, and its requests are refused; the other users are served.
pub fn is_servable_user_id(id: &str) -> bool {
    is_safe_component(id)
}

/// The rule for a new user id: servable ([`is_servable_user_id`]: 1 to 128
/// of `A-Z a-z 0-9 - _ . @`), starting with a letter or digit (so never
/// hidden, never an option, never `..`), and none of the data directory's
/// own names. `Err` says which part failed, in words for the operator.
pub fn check_new_user_id(id: &str) -> Result<(), String> {
    const RULE: &str =
        "1 to 128 characters of A-Z a-z 0-9 - _ . @, starting with a letter or digit";
    if !is_servable_user_id(id) || !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("a user name is {RULE}"));
    }
    if RESERVED_USER_IDS.iter().any(|r| r.eq_ignore_ascii_case(id)) {
        return Err(format!(
            "'{id}' is a name the data directory uses for itself; choose another"
        ));
    }
    Ok(())
}

/// Why a user could not be created; the words go to the operator as they are.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("invalid user name {id:?}: {why}")]
    Invalid { id: String, why: String },
    #[error("user {0} already exists (to give it a new key: peek-server user rotate-key {0})")]
    Exists(String),
    /// Two users whose names differ only in case would share a folder on
    /// a case-insensitive file system.
    #[error("user {existing} already exists, and {id} differs from it only in case: choose another name")]
    CaseTwin { id: String, existing: String },
    #[error("that API key already belongs to another user")]
    KeyInUse,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// What [`SystemDb::delete_user`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedUser {
    /// The user's profiles as they were (their rows are gone; their
    /// folders are the caller's to keep or remove).
    pub profiles: Vec<Profile>,
}

/// A profile row, with the snake_case keys `GET /profiles` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub id: String,
    pub user_id: String,
    pub slug: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub created_at: String,
}

/// Why a profile could not be created; both are 400s in §1.4.
#[derive(Debug, thiserror::Error)]
pub enum CreateProfileError {
    #[error("name is required")]
    NameRequired,
    #[error("Profile '{slug}' already exists for user '{user}'")]
    Exists { slug: String, user: String },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Handle on `system.db`. One connection behind a mutex: every statement on
/// it is a single indexed lookup or a tiny write.
pub struct SystemDb {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  api_key_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_users_hash ON users(api_key_hash);
CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  UNIQUE(user_id, slug),
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_profiles_user ON profiles(user_id);
";

fn profile_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        id: r.get(0)?,
        user_id: r.get(1)?,
        slug: r.get(2)?,
        name: r.get(3)?,
        created_at: r.get(4)?,
        last_used_at: r.get(5)?,
    })
}

/// One indexed read: the key's hash in `users` (UNIQUE, so at most one).
fn user_of(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT id FROM users WHERE api_key_hash = ?1")?
        .query_row([hash_key(key)], |r| r.get(0))
        .optional()
}

const PROFILE_COLS: &str = "id, user_id, slug, name, created_at, last_used_at";

impl SystemDb {
    /// Opens (creating if needed) `system.db` in WAL mode.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the raw connection (backups, tests).
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        f(&self.conn())
    }

    /// The user owning `key`, if any.
    pub fn user_for_key(&self, key: &str) -> rusqlite::Result<Option<String>> {
        user_of(&self.conn(), key)
    }

    /// [`SystemDb::user_for_key`] if the connection is free right now;
    /// `None` (nothing done) if another request holds it, so that a caller
    /// on an async worker never waits for the lock.
    pub fn try_user_for_key(&self, key: &str) -> Option<rusqlite::Result<Option<String>>> {
        let conn = match self.conn.try_lock() {
            Ok(c) => c,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(user_of(&conn, key))
    }

    pub fn user_count(&self) -> rusqlite::Result<i64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
    }

    pub fn users(&self) -> rusqlite::Result<Vec<User>> {
        let c = self.conn();
        let mut st = c.prepare("SELECT id, created_at FROM users ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(User {
                id: r.get(0)?,
                created_at: r.get(1)?,
            })
        })?;
        rows.collect()
    }

    pub fn user_exists(&self, id: &str) -> rusqlite::Result<bool> {
        self.conn()
            .query_row("SELECT 1 FROM users WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
    }

    /// Inserts a user with the hash of `key`, if `id` passes
    /// [`check_new_user_id`] and neither the id (in any case) nor the key
    /// is taken. Every way of making a user goes through here, so no
    /// unservable row is ever written.
    pub fn create_user(
        &self,
        id: &str,
        key: &str,
        created_at_iso: &str,
    ) -> Result<(), CreateUserError> {
        check_new_user_id(id).map_err(|why| CreateUserError::Invalid {
            id: id.to_string(),
            why,
        })?;
        let c = self.conn();
        let twin: Option<String> = c
            .query_row(
                "SELECT id FROM users WHERE id = ?1 COLLATE NOCASE ORDER BY id = ?1 DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        match twin {
            Some(t) if t == id => return Err(CreateUserError::Exists(t)),
            Some(existing) => {
                return Err(CreateUserError::CaseTwin {
                    id: id.to_string(),
                    existing,
                })
            }
            None => {}
        }
        let hash = hash_key(key);
        let key_taken = c
            .query_row(
                "SELECT 1 FROM users WHERE api_key_hash = ?1",
                [&hash],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if key_taken {
            return Err(CreateUserError::KeyInUse);
        }
        c.execute(
            "INSERT INTO users (id, api_key_hash, created_at) VALUES (?1, ?2, ?3)",
            params![id, hash, created_at_iso],
        )?;
        Ok(())
    }

    /// Removes a user's row (and so its key) and its profiles' rows, in one
    /// transaction; `None` for an unknown user. Files are not touched: the
    /// caller decides what happens to the user's folder and backups.
    pub fn delete_user(&self, id: &str) -> rusqlite::Result<Option<DeletedUser>> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let profiles = {
            let mut st = tx.prepare(&format!(
                "SELECT {PROFILE_COLS} FROM profiles WHERE user_id = ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([id], profile_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.execute("DELETE FROM profiles WHERE user_id = ?1", [id])?;
        let n = tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
        if n == 0 {
            return Ok(None); // dropping `tx` rolls back (there was nothing)
        }
        tx.commit()?;
        Ok(Some(DeletedUser { profiles }))
    }

    /// Replaces a user's key; returns false for an unknown user.
    pub fn set_key(&self, id: &str, key: &str) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "UPDATE users SET api_key_hash = ?2 WHERE id = ?1",
            params![id, hash_key(key)],
        )?;
        Ok(n == 1)
    }

    /// A user's profiles, newest `last_used_at` first (as `GET /profiles`).
    pub fn profiles(&self, user: &str) -> rusqlite::Result<Vec<Profile>> {
        let c = self.conn();
        let mut st = c.prepare_cached(&format!(
            "SELECT {PROFILE_COLS} FROM profiles WHERE user_id = ?1 ORDER BY last_used_at DESC, id"
        ))?;
        let rows = st.query_map([user], profile_from_row)?;
        rows.collect()
    }

    /// Every profile of every user, ordered for deterministic iteration.
    pub fn all_profiles(&self) -> rusqlite::Result<Vec<Profile>> {
        let c = self.conn();
        let mut st = c.prepare(&format!(
            "SELECT {PROFILE_COLS} FROM profiles ORDER BY user_id, id"
        ))?;
        let rows = st.query_map([], profile_from_row)?;
        rows.collect()
    }

    /// Exact lookup by id. Callers lower-case UUIDs first (D16).
    pub fn profile(&self, user: &str, id: &str) -> rusqlite::Result<Option<Profile>> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {PROFILE_COLS} FROM profiles WHERE user_id = ?1 AND id = ?2"
            ))?
            .query_row([user, id], profile_from_row)
            .optional()
    }

    pub fn profile_by_slug(&self, user: &str, slug: &str) -> rusqlite::Result<Option<Profile>> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {PROFILE_COLS} FROM profiles WHERE user_id = ?1 AND slug = ?2"
            ))?
            .query_row([user, slug], profile_from_row)
            .optional()
    }

    /// Creates a profile named `name` with id `id` (slug derived from the
    /// name, as the Node server does; a client-sent slug is ignored).
    pub fn create_profile(
        &self,
        user: &str,
        id: &str,
        name: &str,
        now_iso: &str,
    ) -> Result<Profile, CreateProfileError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(CreateProfileError::NameRequired);
        }
        let slug = slugify(name);
        let c = self.conn();
        let n = c.execute(
            "INSERT OR IGNORE INTO profiles (id, user_id, slug, name, created_at, last_used_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![id, user, slug, name, now_iso],
        )?;
        if n == 0 {
            return Err(CreateProfileError::Exists {
                slug,
                user: user.to_string(),
            });
        }
        Ok(Profile {
            id: id.to_string(),
            user_id: user.to_string(),
            slug,
            name: name.to_string(),
            created_at: now_iso.to_string(),
            last_used_at: now_iso.to_string(),
        })
    }

    /// The user's `default`-slug profile, created ("Default") if missing:
    /// the fallback of §1.2.
    pub fn default_profile(
        &self,
        user: &str,
        new_id: impl FnOnce() -> String,
        now_iso: &str,
    ) -> rusqlite::Result<Profile> {
        if let Some(p) = self.profile_by_slug(user, "default")? {
            return Ok(p);
        }
        match self.create_profile(user, &new_id(), "Default", now_iso) {
            Ok(p) => Ok(p),
            Err(CreateProfileError::Sqlite(e)) => Err(e),
            // Lost a race with another request creating it: read theirs.
            Err(_) => self
                .profile_by_slug(user, "default")?
                .ok_or(rusqlite::Error::QueryReturnedNoRows),
        }
    }

    /// Renames a profile; its slug follows the name (as on creation).
    /// False for an unknown profile. An operator's edit of `system.db`:
    /// no endpoint renames (the Node server has none).
    pub fn rename_profile(&self, user: &str, id: &str, name: &str) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "UPDATE profiles SET name = ?3, slug = ?4 WHERE user_id = ?1 AND id = ?2",
            params![user, id, name, slugify(name)],
        )?;
        Ok(n == 1)
    }

    /// Deletes the `system.db` row only; the data folder stays (§1.4).
    pub fn delete_profile(&self, user: &str, id: &str) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "DELETE FROM profiles WHERE user_id = ?1 AND id = ?2",
            params![user, id],
        )?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_match_the_node_server() {
        assert_eq!(slugify("My Work!"), "my-work");
        assert_eq!(slugify("  Two   Spaces "), "-two-spaces-");
        assert_eq!(slugify("Default"), "default");
        assert_eq!(slugify("Ünïcode Name"), "ncode-name");
    }

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn new_user_names_follow_the_documented_rule() {
        for good in [
            "alice",
            "Alice",
            "a",
            "bob.smith@example.org",
            "u_1-2",
            "0day",
        ] {
            assert_eq!(check_new_user_id(good), Ok(()), "{good}");
        }
        let long = "a".repeat(129);
        for bad in [
            "",
            "Alice Smith",
            "a/b",
            "../evil",
            "..",
            ".",
            ".hidden",
            "-rf",
            "_system",
            "@home",
            "tab\there",
            "ünï",
            "a\\b",
            long.as_str(),
            "backups",
            "Backups",
            "system.db",
            "peek.db",
        ] {
            assert!(check_new_user_id(bad).is_err(), "{bad:?} should be refused");
        }
        // Whatever creation accepts, the paths accept: no new row can be
        // one that start-up would have to skip.
        assert!(is_servable_user_id(&"a".repeat(128)));
        assert!(!is_servable_user_id("Alice Smith"));
    }

    #[test]
    fn creating_a_user_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let db = SystemDb::open(&dir.path().join("system.db")).unwrap();
        db.create_user("alice", "k1", "t").unwrap();
        let msg = |r: Result<(), CreateUserError>| r.unwrap_err().to_string();
        assert_eq!(
            msg(db.create_user("alice", "k2", "t")),
            "user alice already exists (to give it a new key: peek-server user rotate-key alice)"
        );
        assert!(msg(db.create_user("ALICE", "k2", "t")).contains("differs from it only in case"));
        assert_eq!(
            msg(db.create_user("bob", "k1", "t")),
            "that API key already belongs to another user"
        );
        assert!(msg(db.create_user("a/b", "k3", "t")).starts_with("invalid user name \"a/b\""));
        assert_eq!(db.user_count().unwrap(), 1);
    }

    #[test]
    fn deleting_a_user_removes_its_rows_and_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = SystemDb::open(&dir.path().join("system.db")).unwrap();
        db.create_user("u", "k", "t").unwrap();
        db.create_user("v", "kv", "t").unwrap();
        db.create_profile("u", "p1", "Work", "t").unwrap();
        db.create_profile("v", "p2", "Work", "t").unwrap();
        let gone = db.delete_user("u").unwrap().expect("existed");
        assert_eq!(gone.profiles.len(), 1);
        assert_eq!(gone.profiles[0].id, "p1");
        assert_eq!(db.user_for_key("k").unwrap(), None);
        assert!(db.profiles("u").unwrap().is_empty());
        assert_eq!(db.profiles("v").unwrap().len(), 1);
        assert_eq!(db.delete_user("u").unwrap(), None);
        // The name is free again.
        db.create_user("u", "k", "t").unwrap();
    }

    #[test]
    fn profiles_are_unique_by_slug_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let db = SystemDb::open(&dir.path().join("system.db")).unwrap();
        db.create_user("u", "k", "t").unwrap();
        db.create_profile("u", "p1", "Work", "t").unwrap();
        let err = db.create_profile("u", "p2", "work", "t").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Profile 'work' already exists for user 'u'"
        );
        db.create_user("v", "k2", "t").unwrap();
        db.create_profile("v", "p3", "Work", "t").unwrap();
        assert_eq!(db.profiles("u").unwrap().len(), 1);
        let d1 = db.default_profile("u", || "d1".into(), "t").unwrap();
        let d2 = db.default_profile("u", || "d2".into(), "t").unwrap();
        assert_eq!(d1, d2);
        assert_eq!(db.user_for_key("k").unwrap().as_deref(), Some("u"));
        assert_eq!(db.user_for_key("K").unwrap(), None);
    }
}
