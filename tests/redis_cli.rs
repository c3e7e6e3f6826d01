//! `redis-cli` against sessiond prints what it prints against a real redis-server for the
//! same commands (raw, `--no-raw` and `-3` output), and `--scan --pattern` lists exactly the
//! matching keys.

mod common;

use common::{REDIS_INSTALL_HINT, Server, frame};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Runs `redis-cli -h 127.0.0.1 -p PORT ARGS...` with `input` on stdin; fails the test when
/// it is missing, fails or takes more than 30 s.
fn redis_cli(server: &Server, args: &[&str], input: &str) -> String {
    let port = server.addr().port().to_string();
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run redis-cli ({e}); install it with `{REDIS_INSTALL_HINT}`")
        });
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_string();
    let writer = thread::spawn(move || stdin.write_all(input.as_bytes()));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output: Output = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(output) => output.expect("redis-cli output"),
        Err(_) => {
            // Only the redis-cli this test started, by its id.
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("redis-cli {args:?} did not finish within 30 s");
        }
    };
    writer
        .join()
        .expect("stdin writer")
        .expect("write redis-cli's stdin");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "redis-cli {args:?} exited with {}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Replaces the digits after every `avg_ttl=` with `*`: Redis reports a sampled estimate.
fn mask_avg_ttl(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("avg_ttl=") {
        let (before, after) = rest.split_at(at + "avg_ttl=".len());
        out.push_str(before);
        out.push('*');
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// One command per line, as typed into redis-cli.
const SCRIPT: &str = r#"SET user:1 alice
GET user:1
GET missing
INCR counter
INCRBY counter 41
DECR counter
INCR user:1
SET k "hello world" EX 100
GET k
TTL k
TTL user:1
TTL missing
MGET user:1 missing k
SET n 10
APPEND n 5
INCRBYFLOAT n 0.5
DEL counter
EXISTS counter user:1
GET
ECHO "line1\nline2"
CONFIG GET maxmemory
UNKNOWNCMD a b
INFO keyspace
"#;

#[test]
fn redis_cli_prints_the_same_as_against_redis() {
    let sessiond = Server::sessiond(&[]);
    let redis = Server::redis(&[]);
    for mode in [&[][..], &["--no-raw"], &["-3"]] {
        // Fresh data for every mode, on both servers.
        for server in [&sessiond, &redis] {
            assert_eq!(server.raw().call(&["FLUSHALL"]), b"+OK\r\n");
        }
        let ours = redis_cli(&sessiond, mode, SCRIPT);
        let theirs = redis_cli(&redis, mode, SCRIPT);
        assert_eq!(
            mask_avg_ttl(&ours),
            mask_avg_ttl(&theirs),
            "redis-cli {mode:?} output differs (left sessiond, right redis-server)"
        );
        assert!(ours.contains("hello world"), "the script ran: {ours}");
        // KEYS lists in hash order, which differs between servers: compare sorted.
        let sorted = |text: String| text.lines().map(String::from).collect::<BTreeSet<_>>();
        let ours = sorted(redis_cli(&sessiond, mode, "KEYS *\n"));
        let theirs = sorted(redis_cli(&redis, mode, "KEYS *\n"));
        if mode.is_empty() {
            assert_eq!(
                ours,
                ["k", "n", "user:1"].iter().map(|s| s.to_string()).collect(),
                "KEYS * through redis-cli"
            );
        }
        // Numbered lines (`1) "k"`) depend on the order: compare the keys only.
        let strip = |lines: BTreeSet<String>| -> BTreeSet<String> {
            lines
                .into_iter()
                .map(|line| match line.split_once(") ") {
                    Some((_, key)) => key.to_string(),
                    None => line,
                })
                .collect()
        };
        assert_eq!(strip(ours), strip(theirs), "redis-cli {mode:?} KEYS *");
    }
}

#[test]
fn info_keyspace_reports_the_average_ttl() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    for i in 0..100 {
        assert_eq!(
            client.call(&["SET", &format!("k{i}"), "v", "EX", "100"]),
            b"+OK\r\n"
        );
    }
    let info = frame(&client.call(&["INFO", "keyspace"])).text();
    let avg_ttl: u64 = info
        .split("avg_ttl=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no avg_ttl in:\n{info}"));
    assert!(
        (90_000..=100_000).contains(&avg_ttl),
        "avg_ttl={avg_ttl} with 100 keys expiring in 100 s"
    );
}

#[test]
fn redis_cli_scan_lists_exactly_the_matching_keys() {
    let server = Server::sessiond(&[]);
    let mut con = server.connection();
    let mut expected = BTreeSet::new();
    let mut all = Vec::new();
    for i in 0..5000 {
        let key = match i % 4 {
            0 | 1 => format!("user:{i}"),
            2 => format!("session:{i}"),
            _ => format!("users:{i}"),
        };
        if key.starts_with("user:") {
            expected.insert(key.clone());
        }
        all.push(key);
    }
    // Edge cases of the glob: an empty suffix, and look-alikes that must not match.
    for key in ["user:", "xuser:1", "User:1", "user"] {
        if key == "user:" {
            expected.insert(key.to_string());
        }
        all.push(key.to_string());
    }
    for chunk in all.chunks(500) {
        let mut mset = redis::cmd("MSET");
        for key in chunk {
            mset.arg(key).arg("v");
        }
        let () = mset.query(&mut con).expect("MSET");
    }
    let size: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(size, all.len());

    let output = redis_cli(&server, &["--scan", "--pattern", "user:*"], "");
    let listed: Vec<&str> = output.lines().collect();
    let unique: BTreeSet<String> = listed.iter().map(|s| s.to_string()).collect();
    let unexpected: Vec<&String> = unique.difference(&expected).take(5).collect();
    let missing: Vec<&String> = expected.difference(&unique).take(5).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "--scan --pattern 'user:*': unexpected {unexpected:?}, missing {missing:?} \
         ({} listed, {} expected)",
        unique.len(),
        expected.len()
    );
    // The keyspace does not change during the scan, so no key may come twice.
    assert_eq!(listed.len(), unique.len(), "keys listed more than once");
}
