//! The Prometheus endpoint, read the way operators read it: a real Prometheus server
//! (Debian's `prometheus`) scrapes sessiond, and its HTTP query API must return the counts
//! of what the test did. Also the endpoint's text itself, and a taken metrics port.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, StartError, free_port};
use serde_json::Value;

/// How long Prometheus may take to start and scrape what the test expects.
const SCRAPE_DEADLINE: Duration = Duration::from_secs(60);
/// Pause between two questions to Prometheus while waiting for a scrape.
const POLL: Duration = Duration::from_millis(200);

/// Starts sessiond serving `/metrics` on a free port; retries when another process took it
/// between the look and the bind.
fn sessiond_with_metrics(extra: &[&str]) -> (Server, SocketAddr) {
    for _ in 0..5 {
        let port = free_port().to_string();
        let mut args = vec!["--metrics-port", &port];
        args.extend_from_slice(extra);
        match Server::try_sessiond(&[&["--port", "0", "--appendonly", "no"], &args[..]].concat()) {
            Ok(server) => {
                let addr = SocketAddr::from(([127, 0, 0, 1], port.parse().unwrap()));
                return (server, addr);
            }
            Err(StartError::Exited { output, .. }) if output.contains("cannot serve metrics") => {}
            Err(error) => panic!("{error}"),
        }
    }
    panic!("no free metrics port in 5 tries");
}

/// `GET path` over HTTP/1.0 (so the body is not chunked); the status line and the body.
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

/// Percent-encodes a query-string value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A Prometheus server on loopback scraping one target every second; killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn scraping(target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: sessiond\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start prometheus ({e}); install it: apt-get install -y prometheus")
            });
        Prometheus {
            child,
            addr,
            _dir: dir,
        }
    }

    /// The value of each series an instant query returns, keyed by its labels (as JSON);
    /// None while Prometheus is not answering yet.
    fn query(&self, expr: &str) -> Option<Vec<(Value, f64)>> {
        TcpStream::connect(self.addr).ok()?;
        let (status, body) = http_get(self.addr, &format!("/api/v1/query?query={}", encode(expr)));
        if !status.contains(" 200 ") {
            return None;
        }
        let answer: Value = serde_json::from_str(&body).ok()?;
        let series = answer["data"]["result"].as_array()?;
        Some(
            series
                .iter()
                .map(|s| {
                    let value = s["value"][1]
                        .as_str()
                        .unwrap_or("NaN")
                        .parse()
                        .unwrap_or(f64::NAN);
                    (s["metric"].clone(), value)
                })
                .collect(),
        )
    }

    /// Asks `expr` until its single series equals `expected`; panics with the last answer
    /// after [`SCRAPE_DEADLINE`].
    fn wait_for(&mut self, expr: &str, expected: f64) {
        let deadline = Instant::now() + SCRAPE_DEADLINE;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited: {status}");
            }
            if let Some(answer) = self.query(expr) {
                if let [(_, value)] = answer.as_slice()
                    && *value == expected
                {
                    return;
                }
                last = Some(answer);
            }
            std::thread::sleep(POLL);
        }
        panic!("{expr}: wanted {expected}, Prometheus last answered {last:?}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_reads_back_what_the_test_did() {
    let (server, metrics) = sessiond_with_metrics(&[]);
    let mut con = server.connection();
    for i in 0..37 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    for i in 0..11 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut con)
            .unwrap();
    }
    // One pipelined batch of 100, longer than a connection's tally, with runs of commands.
    let mut pipe = redis::pipe();
    for i in 0..100 {
        let command = if (50..70).contains(&i) { "GET" } else { "SET" };
        pipe.cmd(command).arg("piped");
        if command == "SET" {
            pipe.arg(i);
        }
        pipe.ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    for _ in 0..3 {
        let error = redis::cmd("NOSUCHCOMMAND")
            .query::<()>(&mut con)
            .unwrap_err();
        assert_eq!(error.code(), Some("ERR"));
    }
    let error = redis::cmd("INCR")
        .arg("k1")
        .arg("extra")
        .query::<()>(&mut con);
    assert!(error.is_err());
    let ids: Vec<String> = (0..5)
        .map(|_| {
            redis::cmd("SESSION.CREATE")
                .arg("alice")
                .query(&mut con)
                .unwrap()
        })
        .collect();
    for id in &ids[..2] {
        let ended: i64 = redis::cmd("SESSION.END").arg(id).query(&mut con).unwrap();
        assert_eq!(ended, 1);
    }
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("watcher")
        .query(&mut con)
        .unwrap();

    let mut prometheus = Prometheus::scraping(metrics);
    prometheus.wait_for(r#"up{job="sessiond"}"#, 1.0);
    prometheus.wait_for(r#"sessiond_commands_total{command="set"}"#, 117.0);
    prometheus.wait_for(r#"sessiond_commands_total{command="get"}"#, 31.0);
    prometheus.wait_for(r#"sessiond_commands_total{command="client|setname"}"#, 1.0);
    prometheus.wait_for(
        r#"sessiond_command_duration_seconds_count{command="session.create"}"#,
        5.0,
    );
    prometheus.wait_for(
        r#"sum(sessiond_command_duration_seconds_bucket{command="get",le="+Inf"})"#,
        31.0,
    );
    prometheus.wait_for(r#"sessiond_errors_total{kind="ERR"}"#, 4.0);
    prometheus.wait_for(r#"sessiond_keys{namespace="default",db="0"}"#, 38.0);
    prometheus.wait_for(r#"sessiond_sessions_active{namespace="default"}"#, 3.0);
    prometheus.wait_for(
        r#"sessiond_sessions_created_total{namespace="default"}"#,
        5.0,
    );
    prometheus.wait_for(
        r#"sessiond_sessions_ended_total{namespace="default",reason="ended"}"#,
        2.0,
    );
    prometheus.wait_for(
        r#"sessiond_session_duration_seconds_count{namespace="default"}"#,
        2.0,
    );
    prometheus.wait_for("sessiond_connected_clients", 1.0);

    // A change after the first scrapes shows in a later one.
    let _: () = redis::cmd("SET")
        .arg("late")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut con)
        .unwrap();
    prometheus.wait_for(r#"sessiond_commands_total{command="set"}"#, 118.0);
    prometheus.wait_for("sessiond_expired_keys_total", 1.0);
    prometheus.wait_for(r#"sessiond_expiry_lateness_seconds_count{kind="key"}"#, 1.0);
    prometheus.wait_for(r#"sessiond_keys{namespace="default",db="0"}"#, 38.0);
}

#[test]
fn the_endpoint_serves_histograms_with_explicit_buckets() {
    let (server, metrics) = sessiond_with_metrics(&[]);
    let mut con = server.connection();
    let _: String = redis::cmd("PING").query(&mut con).unwrap();
    // Executions reach the endpoint within a second (a thread hands its tally over when it
    // fills, and the sampler every second).
    let ping_bucket = r#"sessiond_command_duration_seconds_bucket{command="ping",le="0.001"}"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = http_get(metrics, "/metrics");
        assert!(status.contains(" 200 "), "{status}");
        if body.contains(ping_bucket) || Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(POLL);
    };
    assert!(body.contains(ping_bucket), "{body}");
    assert!(
        body.contains("# TYPE sessiond_command_duration_seconds histogram"),
        "{body}"
    );
    assert!(
        !body.contains("quantile="),
        "summaries instead of buckets:\n{body}"
    );
    assert!(
        body.contains("# HELP sessiond_commands_total Commands executed, by command"),
        "{body}"
    );
    assert!(
        !body.contains(r#"command="get""#),
        "a command that never ran is not listed:\n{body}"
    );
}

#[test]
fn a_taken_metrics_port_stops_start_up_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let error =
        Server::try_sessiond(&["--port", "0", "--appendonly", "no", "--metrics-port", &port])
            .expect_err("the metrics port is taken");
    let StartError::Exited { output, .. } = error else {
        panic!("{error}");
    };
    assert!(
        output.contains(&format!("cannot serve metrics on 127.0.0.1:{port}")),
        "{output}"
    );
}

#[test]
fn metrics_port_0_turns_the_endpoint_off() {
    let server = Server::sessiond(&[]);
    let mut con = server.connection();
    let port: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("metrics-port")
        .query(&mut con)
        .unwrap();
    assert_eq!(port, ["metrics-port", "0"]);
    let log = server.output_tail();
    assert!(log.contains("metrics off"), "{log}");
}
