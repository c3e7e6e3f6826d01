//! Real client libraries and the session backends built on them, against a real sessiond:
//! Django's cache sessions on redis-py (`tests/clients/django_sessions.py`), express-session
//! with connect-redis on node-redis in RESP2 and RESP3, and ioredis
//! (`tests/clients/express_session.mjs`). Each script runs the command sequences its backend
//! sends to create, read, touch, regenerate, destroy, list and clear sessions, checks every
//! step, and exits non-zero at the first failure; this test fails with its output.
//!
//! The libraries are pinned in `tests/clients/requirements.txt` and
//! `tests/clients/package-lock.json`; `.ci/run` installs both.

mod common;

use common::Server;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long one script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs `program script` with `SESSIOND_PORT` set to the server's port and returns its
/// stdout; fails the test when it cannot start, fails, or runs over [`SCRIPT_TIMEOUT`].
fn run_script(server: &Server, program: &str, script: &str, install_hint: &str) -> String {
    let child = Command::new(program)
        .arg(clients_dir().join(script))
        .current_dir(clients_dir())
        .env("SESSIOND_PORT", server.addr().port().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); {install_hint}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(SCRIPT_TIMEOUT) {
        Ok(output) => output.expect("the script's output"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("{script} ran longer than {SCRIPT_TIMEOUT:?}");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}); {install_hint} if a module is missing\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server\n{}",
        output.status,
        server.output_tail()
    );
    stdout
}

/// Asserts the script reached its end and made at least `checks` checks.
fn assert_passed(stdout: &str, checks: usize) {
    assert!(stdout.ends_with("all checks passed\n"), "{stdout}");
    let made = stdout
        .lines()
        .filter(|line| line.starts_with("ok: "))
        .count();
    assert!(made >= checks, "only {made} checks ran:\n{stdout}");
}

#[test]
fn django_sessions_and_redis_py() {
    let server = Server::sessiond(&[]);
    let stdout = run_script(
        &server,
        "python3",
        "django_sessions.py",
        "install the libraries with `python3 -m pip install -r tests/clients/requirements.txt`",
    );
    assert_passed(&stdout, 59);
}

#[test]
fn express_session_with_node_redis_and_ioredis() {
    let server = Server::sessiond(&[]);
    let stdout = run_script(
        &server,
        "node",
        "express_session.mjs",
        "install the libraries with `npm ci --prefix tests/clients`",
    );
    assert_passed(&stdout, 38);
    for protocol in ["RESP2", "RESP3"] {
        assert!(
            stdout.contains(&format!("ok: {protocol}: clear() deletes every session")),
            "{stdout}"
        );
    }
}
