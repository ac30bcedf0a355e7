//! `Portal::open` on files that are not what they should be (issue 5, bad input): each is a
//! clear `Validation` or `Unavailable` naming the file, never a panic.

#![cfg(feature = "sqlite")]
#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use selfcare::core::ReasonCode;
use selfcare::storage::ports::SystemClock;
use selfcare::{Error, Portal, PortalConfig, Ports};

fn config() -> PortalConfig {
    common::test_config()
}

async fn open(path: &std::path::Path) -> Result<Portal, Error> {
    let (ports, _) = Ports::development_with(Arc::new(SystemClock));
    Portal::open(path.to_str().unwrap(), ports, config()).await
}

fn names_the_file(e: &Error, file: &std::path::Path) -> bool {
    let text = match e {
        Error::Validation { message, .. } => message.clone(),
        Error::Unavailable { reason } => reason.clone(),
        _ => return false,
    };
    text.contains(&file.display().to_string())
}

#[tokio::test]
async fn a_new_file_is_created_and_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portal.db");
    drop(open(&file).await.unwrap());
    assert!(file.exists());
    assert!(open(&file).await.is_ok());
}

#[tokio::test]
async fn another_applications_database_is_not_a_selfcare_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);")
        .unwrap();
    drop(conn);
    let err = open(&file).await.err().unwrap();
    assert_eq!(err.reason(), ReasonCode::NotASelfcareStore);
    assert!(names_the_file(&err, &file), "{err:?}");
}

#[tokio::test]
async fn a_file_of_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("future.db");
    drop(open(&file).await.unwrap());
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    drop(conn);
    let err = open(&file).await.err().unwrap();
    assert_eq!(err.reason(), ReasonCode::StoreSchemaTooNew);
    assert!(names_the_file(&err, &file), "{err:?}");
    let conn = rusqlite::Connection::open(&file).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99, "the newer file was changed");
}

#[tokio::test]
async fn a_text_file_is_unavailable_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(
        &file,
        "these are not the pages you are looking for\n".repeat(200),
    )
    .unwrap();
    let err = open(&file).await.err().unwrap();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(names_the_file(&err, &file), "{err:?}");
}

#[tokio::test]
async fn a_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("no/such/dir/portal.db");
    let err = open(&file).await.err().unwrap();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(names_the_file(&err, &file), "{err:?}");
}

#[cfg(not(feature = "postgres"))]
#[tokio::test]
async fn a_postgres_url_says_what_this_build_lacks() {
    let (ports, _) = Ports::development_with(Arc::new(SystemClock));
    let err = Portal::open("postgres://app@127.0.0.1/selfcare", ports, config())
        .await
        .err()
        .unwrap();
    match err {
        Error::Unavailable { reason } => assert!(reason.contains("PostgreSQL"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_file_locked_by_another_process_is_unavailable_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("busy.db");
    drop(open(&file).await.unwrap());
    // Another connection holds an exclusive lock for longer than the busy timeout.
    let holder = rusqlite::Connection::open(&file).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let err = open(&file).await.err().unwrap();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(names_the_file(&err, &file), "{err:?}");
    drop(holder);
}

/// Set in the child process that [`a_read_only_directory_is_unavailable_naming_the_file`]
/// starts without root's privileges: the directory to open the stores in.
const READ_ONLY_DIR: &str = "SELFCARE_TEST_READ_ONLY_DIR";

/// A directory the process may read but not write: the existing store cannot get its WAL
/// file, a new one cannot be created. Root writes anywhere, so under root (as in CI) the
/// check runs in a copy of this test started through `setpriv` as `nobody`.
#[tokio::test]
async fn a_read_only_directory_is_unavailable_naming_the_file() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    if let Some(dir) = std::env::var_os(READ_ONLY_DIR) {
        let dir = std::path::PathBuf::from(dir);
        for name in ["portal.db", "new.db"] {
            let file = dir.join(name);
            let err = open(&file).await.err().unwrap();
            assert!(matches!(err, Error::Unavailable { .. }), "{name}: {err:?}");
            assert!(names_the_file(&err, &file), "{name}: {err:?}");
        }
        assert!(!dir.join("new.db").exists(), "a file appeared");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portal.db");
    drop(open(&file).await.unwrap());
    assert!(
        !dir.path().join("portal.db-wal").exists(),
        "the WAL outlived the store"
    );
    let root = std::fs::metadata(&file).unwrap().uid() == 0;
    let mut child = if root {
        // `nobody` owns the file (it may write it) but not the directory (read-only to it).
        let (nobody, nogroup) = (65534, 65534);
        std::os::unix::fs::chown(&file, Some(nobody), Some(nogroup)).unwrap();
        for d in [dir.path(), dir.path().parent().unwrap()] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode();
            // The test's directory and its parent must let `nobody` in.
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o555)).unwrap();
        }
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        command.arg(std::env::current_exe().unwrap());
        command
    } else {
        std::process::Command::new(std::env::current_exe().unwrap())
    };
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let status = child
        .args([
            "--exact",
            "a_read_only_directory_is_unavailable_naming_the_file",
            "--nocapture",
        ])
        .env(READ_ONLY_DIR, dir.path())
        .status()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(status.success(), "the check without write access failed");
    // The store itself is untouched and opens where the directory is writable again.
    assert!(open(&file).await.is_ok());
}
