//! Data-directory migrations of §2.5 steps 2–4: legacy API key, peek.db,
//! slug folders, dry run (D17), backups, symlinks, rollback.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use rusqlite::Connection;
use server::clock::{IdSource, ManualClock, SeededIds};
use server::migrate::data_dir::{migrate_data_dir, Action, DataDirOptions, MigrateError};
use server::migrate::schema::ensure;
use server::store::system::{hash_key, SystemDb};

use crate::helpers::*;

// ---------------------------------------------------- data dir, §2.5 steps 2-4

/// Every file and folder under `root` with its bytes' hash (symlinks by
/// their target): the "changes no byte" check of a dry run.
fn tree(root: &Path) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut ents: Vec<_> = fs::read_dir(dir).unwrap().map(Result::unwrap).collect();
        ents.sort_by_key(|e| e.file_name());
        for e in ents {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(rel, format!("link {:?}", fs::read_link(&p).unwrap()));
            } else if ft.is_dir() {
                out.insert(rel.clone(), "dir".into());
                walk(root, &p, out);
            } else {
                out.insert(rel, hex::encode(Sha256::digest(fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A legacy `peek.db` in the production shape (b), written with raw SQL.
fn write_legacy_db(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT, metadata TEXT,
           created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT);
         CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
           frequency INTEGER DEFAULT 1, last_used TEXT, frecency_score REAL DEFAULT 0,
           created_at TEXT, updated_at TEXT);
         CREATE TABLE item_tags (item_id TEXT NOT NULL, tag_id INTEGER NOT NULL, created_at TEXT,
           PRIMARY KEY (item_id, tag_id));
         INSERT INTO items VALUES ('legacy-1', 'url', 'https://old', NULL,
           '2026-01-27T10:00:00.789Z', '2026-01-27T10:00:00.789Z', NULL);
         INSERT INTO tags (name, last_used) VALUES ('old', '2026-01-27T10:00:00Z');
         INSERT INTO item_tags VALUES ('legacy-1', 1, '2026-01-27T10:00:00Z');",
    )
    .unwrap();
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    system: SystemDb,
    clock: ManualClock,
    ids: SeededIds,
}

/// A data dir where system.db lives outside the tree that is hashed.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    fs::create_dir(&root).unwrap();
    let system = SystemDb::open(&tmp.path().join("system.db")).unwrap();
    Fixture {
        root,
        system,
        clock: ManualClock::new(BASE),
        ids: SeededIds::new(42),
        _tmp: tmp,
    }
}

fn run(f: &Fixture, dry_run: bool, key: Option<&str>) -> server::migrate::data_dir::DataDirReport {
    let opts = DataDirOptions {
        dry_run,
        legacy_api_key: key.map(str::to_string),
    };
    migrate_data_dir(&f.root, &f.system, &f.clock, &f.ids, &opts).unwrap()
}

/// `alice` has a legacy `peek.db` + `images/`; `bob` has slug folders;
/// `backups/` and a stray file must be ignored.
fn legacy_layout(f: &Fixture) {
    f.system.create_user("alice", "ka", "t").unwrap();
    f.system.create_user("bob", "kb", "t").unwrap();
    let alice = f.root.join("alice");
    fs::create_dir_all(alice.join("images/sub")).unwrap();
    write_legacy_db(&alice.join("peek.db"));
    fs::write(alice.join("images/abc.png"), b"png-bytes").unwrap();
    fs::write(alice.join("images/sub/d.jpg"), b"jpg").unwrap();
    let bob = f.root.join("bob/profiles");
    fs::create_dir_all(bob.join("work")).unwrap();
    fs::create_dir_all(bob.join("default")).unwrap();
    fs::write(bob.join("work/datastore.sqlite"), b"work-db").unwrap();
    fs::write(bob.join("default/datastore.sqlite"), b"default-db").unwrap();
    f.system
        .create_profile("bob", "bob-work-uuid", "Work", "t")
        .unwrap();
    fs::create_dir_all(f.root.join("backups/alice")).unwrap();
    fs::write(f.root.join("backups/alice/peek.db"), b"not a user").unwrap();
    fs::write(f.root.join("README"), b"stray").unwrap();
}

#[test]
fn legacy_peek_db_moves_to_a_default_profile_folder() {
    let f = fixture();
    legacy_layout(&f);
    let original_db = fs::read(f.root.join("alice/peek.db")).unwrap();
    let report = run(&f, false, None);

    let p = f
        .system
        .profile_by_slug("alice", "default")
        .unwrap()
        .unwrap();
    assert_eq!(p.name, "Default");
    assert_eq!(
        p.created_at, "2026-01-27T10:00:00.000Z",
        "from the injected clock"
    );
    let prof = f.root.join("alice/profiles").join(&p.id);
    assert!(!f.root.join("alice/peek.db").exists());
    assert!(!f.root.join("alice/images").exists());
    assert_eq!(fs::read(prof.join("images/abc.png")).unwrap(), b"png-bytes");
    assert_eq!(fs::read(prof.join("images/sub/d.jpg")).unwrap(), b"jpg");
    // Backups (§2.5 step 3).
    assert_eq!(
        fs::read(f.root.join("alice/peek.db.pre-migration-backup")).unwrap(),
        original_db
    );
    assert_eq!(
        fs::read(f.root.join("alice/images.pre-migration-backup/sub/d.jpg")).unwrap(),
        b"jpg"
    );
    // The moved database opens and migrates with its data.
    let c = Connection::open(prof.join("datastore.sqlite")).unwrap();
    ensure(&c).unwrap();
    assert_eq!(
        int(&c, "SELECT createdAt FROM items WHERE id = 'legacy-1'"),
        BASE + 789
    );
    assert_eq!(tags_of(&c, "legacy-1"), ["old"]);

    // bob: default record created for the stray folder, slug folders renamed.
    let bd = f.system.profile_by_slug("bob", "default").unwrap().unwrap();
    let bob = f.root.join("bob/profiles");
    assert_eq!(
        fs::read(bob.join("bob-work-uuid/datastore.sqlite")).unwrap(),
        b"work-db"
    );
    assert_eq!(
        fs::read(bob.join(&bd.id).join("datastore.sqlite")).unwrap(),
        b"default-db"
    );
    assert!(!bob.join("work").exists() && !bob.join("default").exists());
    // Ignored: backups/ and the stray file.
    assert!(f.root.join("backups/alice/peek.db").exists());
    assert!(f.system.profiles("backups").unwrap().is_empty());

    let kinds: Vec<&str> = report
        .actions
        .iter()
        .map(|a| match a {
            Action::CreateLegacyUser { .. } => "user",
            Action::BackupDatabase { .. } => "backup-db",
            Action::BackupImages { .. } => "backup-images",
            Action::CreateDefaultProfile { .. } => "profile",
            Action::MoveDatabase { .. } => "move-db",
            Action::MoveImages { .. } => "move-images",
            Action::RenameSlugFolder { .. } => "rename",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "backup-db",
            "backup-images",
            "profile",
            "move-db",
            "move-images",
            "profile",
            "rename",
            "rename"
        ]
    );
    assert!(report.lines()[3].starts_with("move alice/peek.db to alice/profiles/"));

    // Idempotent: nothing left to do, nothing changes.
    let before = tree(&f.root);
    let again = run(&f, false, None);
    assert!(again.is_empty(), "{:?}", again.lines());
    assert_eq!(tree(&f.root), before);
}

#[test]
fn dry_run_changes_no_byte_and_reports_what_a_real_run_does() {
    let f = fixture();
    legacy_layout(&f);
    let before = tree(&f.root);
    let sys_before = f.system.with_conn(dump_system);
    let dry = run(&f, true, Some("legacy-key"));
    assert_eq!(tree(&f.root), before, "dry run touched the data dir");
    assert_eq!(
        f.system.with_conn(dump_system),
        sys_before,
        "dry run touched system.db"
    );
    assert!(dry
        .lines()
        .iter()
        .all(|l| l.starts_with("[dry run] would ") || l.starts_with("note:")));

    // A real run with the same ids does the same things (D17: the dry run
    // plans later steps against the state earlier steps would leave).
    let real_ids = SeededIds::new(42);
    let real = migrate_data_dir(
        &f.root,
        &f.system,
        &f.clock,
        &real_ids,
        &DataDirOptions {
            dry_run: false,
            legacy_api_key: Some("legacy-key".into()),
        },
    )
    .unwrap();
    assert_eq!(dry.actions, real.actions);
    // Users exist, so the legacy key was not used.
    assert!(!dry
        .actions
        .iter()
        .any(|a| matches!(a, Action::CreateLegacyUser { .. })));
}

fn dump_system(c: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id || api_key_hash || created_at FROM users ORDER BY id",
        "SELECT id || user_id || slug || name FROM profiles ORDER BY id",
    ] {
        let mut st = c.prepare(sql).unwrap();
        out.extend(
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    out
}

#[test]
fn legacy_api_key_creates_default_user_only_without_users() {
    let f = fixture();
    // Dry run: reported, not done.
    let r = run(&f, true, Some("secret"));
    assert_eq!(
        r.lines(),
        ["[dry run] would create user 'default' from the legacy API_KEY"]
    );
    assert_eq!(f.system.user_count().unwrap(), 0);
    let r = run(&f, false, Some("secret"));
    assert_eq!(
        r.actions,
        [Action::CreateLegacyUser {
            user: "default".into()
        }]
    );
    assert_eq!(
        f.system.user_for_key("secret").unwrap().as_deref(),
        Some("default")
    );
    f.system.with_conn(|c| {
        assert_eq!(
            text(c, "SELECT api_key_hash FROM users"),
            hash_key("secret")
        );
    });
    // Now there is a user: a different key is ignored.
    let r = run(&f, false, Some("other"));
    assert!(r.is_empty());
    assert_eq!(f.system.user_for_key("other").unwrap(), None);
    // Empty key: ignored even without users.
    let g = fixture();
    assert!(run(&g, false, Some("")).is_empty());
    assert_eq!(g.system.user_count().unwrap(), 0);
}

#[test]
fn existing_backup_is_not_overwritten_and_existing_default_profile_is_used() {
    let f = fixture();
    f.system.create_user("u", "k", "t").unwrap();
    f.system
        .create_profile("u", "existing-uuid", "Default", "t")
        .unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(&u).unwrap();
    write_legacy_db(&u.join("peek.db"));
    fs::write(u.join("peek.db.pre-migration-backup"), b"older backup").unwrap();
    let r = run(&f, false, None);
    assert_eq!(
        fs::read(u.join("peek.db.pre-migration-backup")).unwrap(),
        b"older backup"
    );
    assert!(u.join("profiles/existing-uuid/datastore.sqlite").is_file());
    assert_eq!(f.system.profiles("u").unwrap().len(), 1);
    assert!(matches!(
        r.actions.as_slice(),
        [Action::MoveDatabase { .. }]
    ));
}

#[test]
fn peek_db_is_left_when_the_profile_already_has_a_datastore() {
    let f = fixture();
    f.system.create_user("u", "k", "t").unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(u.join("profiles/default")).unwrap();
    fs::write(u.join("peek.db"), b"legacy").unwrap();
    fs::write(u.join("profiles/default/datastore.sqlite"), b"current").unwrap();
    let r = run(&f, false, None);
    assert_eq!(fs::read(u.join("peek.db")).unwrap(), b"legacy");
    assert!(!u.join("peek.db.pre-migration-backup").exists());
    // Step 4 still turns the slug folder into the UUID folder.
    let p = f.system.profile_by_slug("u", "default").unwrap().unwrap();
    assert_eq!(
        fs::read(u.join("profiles").join(&p.id).join("datastore.sqlite")).unwrap(),
        b"current"
    );
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(run(&f, false, None).is_empty());
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_followed_out_of_the_data_dir() {
    use std::os::unix::fs::symlink;
    let f = fixture();
    let outside = f._tmp.path().join("outside");
    fs::create_dir_all(outside.join("profiles/work")).unwrap();
    fs::write(outside.join("peek.db"), b"outside").unwrap();
    f.system.create_user("linked", "k", "t").unwrap();
    f.system.create_user("u", "k2", "t").unwrap();
    f.system
        .create_profile("u", "work-uuid", "Work", "t")
        .unwrap();
    symlink(&outside, f.root.join("linked")).unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(u.join("profiles")).unwrap();
    symlink(outside.join("profiles/work"), u.join("profiles/work")).unwrap();
    symlink(outside.join("peek.db"), u.join("peek.db")).unwrap();
    // An existing Default profile whose folder is a link out of the tree.
    f.system.create_user("w", "k3", "t").unwrap();
    f.system
        .create_profile("w", "w-uuid", "Default", "t")
        .unwrap();
    let w = f.root.join("w");
    fs::create_dir_all(w.join("profiles")).unwrap();
    fs::write(w.join("peek.db"), b"w legacy").unwrap();
    symlink(&outside, w.join("profiles/w-uuid")).unwrap();
    let outside_before = tree(&outside);
    let before = tree(&f.root);
    let r = run(&f, false, None);
    assert!(r.is_empty(), "{:?}", r.lines());
    assert_eq!(r.notes.len(), 4, "{:?}", r.notes);
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("w/profiles/w-uuid is not a folder")));
    assert_eq!(tree(&outside), outside_before);
    assert_eq!(tree(&f.root), before);
}

#[test]
fn failed_move_is_rolled_back() {
    let f = fixture();
    f.system.create_user("u", "k", "t").unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(u.join("images")).unwrap();
    fs::write(u.join("peek.db"), b"legacy").unwrap();
    fs::write(u.join("peek.db-wal"), b"wal").unwrap();
    fs::write(u.join("images/a.png"), b"a").unwrap();
    // The profile id the migration will draw: block the move of the WAL
    // (after the database itself has moved) with a non-empty folder.
    let id = SeededIds::new(42).uuid();
    let blocker = u.join("profiles").join(&id).join("datastore.sqlite-wal");
    fs::create_dir_all(&blocker).unwrap();
    fs::write(blocker.join("x"), b"x").unwrap();
    let opts = DataDirOptions::default();
    let err = migrate_data_dir(&f.root, &f.system, &f.clock, &f.ids, &opts).unwrap_err();
    assert!(
        matches!(err, MigrateError::RolledBack { restored: true, .. }),
        "{err}"
    );
    assert_eq!(fs::read(u.join("peek.db")).unwrap(), b"legacy");
    assert_eq!(fs::read(u.join("peek.db-wal")).unwrap(), b"wal");
    assert!(!u
        .join("profiles")
        .join(&id)
        .join("datastore.sqlite")
        .exists());
    assert_eq!(fs::read(u.join("images/a.png")).unwrap(), b"a");
    assert!(
        f.system.profile_by_slug("u", "default").unwrap().is_none(),
        "the profile record created for the move is removed again"
    );
    // The backup (with its WAL) is complete and stays.
    assert_eq!(
        fs::read(u.join("peek.db.pre-migration-backup")).unwrap(),
        b"legacy"
    );
    assert_eq!(
        fs::read(u.join("peek.db.pre-migration-backup-wal")).unwrap(),
        b"wal"
    );
}
