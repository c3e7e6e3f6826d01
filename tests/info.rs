//! INFO as the tools that read it expect (DESIGN §1, issue 6): Redis's text format, every
//! field a reference redis-server reports in the same sections (bar a commented allow-list),
//! values that follow what the test does, and `redis-cli --stat` reading it.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{RawClient, Server, encode_command, escape, frame};

/// How long a value that follows an asynchronous change (a closed connection) may take.
const SETTLE: Duration = Duration::from_secs(10);

/// Sections sessiond does not have at all, and why.
const MISSING_SECTIONS: &[(&str, &str)] = &[
    (
        "commandstats",
        "per-command calls and time: a clock and counter per command",
    ),
    (
        "latencystats",
        "per-command latency percentiles: a clock reading per command",
    ),
];

/// Fields of Redis's sections that sessiond cannot report, and why. A field listed here
/// must really be missing, so the list cannot go stale.
const MISSING_FIELDS: &[(&str, &str, &str)] = &[
    (
        "memory",
        "mem_clients_normal",
        "client buffer memory is not measured",
    ),
    (
        "persistence",
        "aof_rewrites_consecutive_failures",
        "the journal keeps only whether the last rewrite failed",
    ),
    (
        "persistence",
        "aof_pending_bio_fsync",
        "no fsync is queued: connections and the aof thread each run theirs",
    ),
    (
        "persistence",
        "aof_delayed_fsync",
        "the AOF thread does not count postponed fsyncs",
    ),
    (
        "stats",
        "reply_buffer_shrinks",
        "Redis's reply-buffer resizing has no counterpart",
    ),
    (
        "stats",
        "reply_buffer_expands",
        "Redis's reply-buffer resizing has no counterpart",
    ),
    (
        "cpu",
        "used_cpu_sys_main_thread",
        "no main thread runs commands: every worker does",
    ),
    (
        "cpu",
        "used_cpu_user_main_thread",
        "no main thread runs commands: every worker does",
    ),
];

/// Every section sessiond's INFO shows, in order.
const SECTIONS: [&str; 12] = [
    "Server",
    "Clients",
    "Memory",
    "Persistence",
    "Stats",
    "Replication",
    "CPU",
    "Modules",
    "Errorstats",
    "Cluster",
    "Keyspace",
    "Sessions",
];

/// INFO's text for `args` (`INFO` plus them).
fn info(client: &mut RawClient, args: &[&str]) -> String {
    let mut command = vec!["INFO"];
    command.extend_from_slice(args);
    let reply = frame(&client.call(&command));
    assert_eq!(reply.kind, b'$', "INFO {args:?}: {}", escape(&reply.raw));
    reply.text()
}

/// Sections (lower-case title) to their `name → value` fields, in order of appearance.
fn sections(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections = BTreeMap::new();
    let mut current = None;
    for line in text.split("\r\n") {
        if let Some(title) = line.strip_prefix("# ") {
            let title = title.to_ascii_lowercase();
            sections.insert(title.clone(), Vec::new());
            current = Some(title);
        } else if let (Some((name, value)), Some(title)) = (line.split_once(':'), &current) {
            let fields: &mut Vec<(String, String)> = sections.get_mut(title).expect("section");
            fields.push((name.to_string(), value.to_string()));
        }
    }
    sections
}

/// The value of `name` in INFO `section`.
fn field(client: &mut RawClient, section: &str, name: &str) -> String {
    let text = info(client, &[section]);
    text.split("\r\n")
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no {name} in INFO {section}:\n{text}"))
}

/// The integer value of `name` in INFO `section`.
fn number(client: &mut RawClient, section: &str, name: &str) -> u64 {
    let value = field(client, section, name);
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name}:{value} is not a number"))
}

/// Polls `read` until it returns `want`, for up to [`SETTLE`].
fn await_value(what: &str, want: u64, mut read: impl FnMut() -> u64) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let got = read();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what} stayed {got}, not {want}");
        thread::yield_now();
    }
}

/// Checks one line of INFO: a `# Title` or a `name:value` with a plain name.
fn assert_info_line(line: &str, text: &str) {
    if let Some(title) = line.strip_prefix("# ") {
        assert!(
            !title.is_empty() && title.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad section title {line:?} in:\n{text}"
        );
        return;
    }
    let (name, value) = line
        .split_once(':')
        .unwrap_or_else(|| panic!("line {line:?} is neither '# Section' nor 'name:value'"));
    assert!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "bad field name in {line:?}"
    );
    assert!(!value.contains(['\r', '\n']), "a bare CR or LF in {line:?}");
}

/// Checks the layout of a whole INFO text: CRLF after every line, a blank line before every
/// section but the first and nowhere else; returns the section titles in order.
fn assert_info_layout(text: &str) -> Vec<String> {
    assert!(
        text.ends_with("\r\n"),
        "INFO does not end in CRLF: {text:?}"
    );
    assert!(!text.ends_with("\r\n\r\n"), "INFO ends with a blank line");
    let lines: Vec<&str> = text[..text.len() - 2].split("\r\n").collect();
    assert!(
        lines[0].starts_with("# "),
        "INFO starts with {:?}",
        lines[0]
    );
    let mut titles = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            let next = lines.get(i + 1).copied().unwrap_or_default();
            assert!(next.starts_with("# "), "a blank line before {next:?}");
            assert!(!lines[i - 1].is_empty(), "two blank lines in a row");
            continue;
        }
        if let Some(title) = line.strip_prefix("# ") {
            assert!(
                i == 0 || lines[i - 1].is_empty(),
                "no blank line before {line}"
            );
            titles.push(title.to_string());
        }
        assert_info_line(line, text);
    }
    titles
}

#[test]
fn every_line_is_a_section_title_or_a_field_in_crlf() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    let _ = client.call(&["GET"]);
    for args in [&[][..], &["default"], &["all"], &["everything"], &["ALL"]] {
        let titles = assert_info_layout(&info(&mut client, args));
        assert_eq!(titles, SECTIONS, "the sections of INFO {args:?}");
    }
}

#[test]
fn named_sections_are_shown_alone_and_unknown_ones_add_nothing() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    for section in SECTIONS {
        let text = info(&mut client, &[&section.to_ascii_lowercase()]);
        assert_eq!(assert_info_layout(&text), [section], "INFO {section}");
    }
    let text = info(&mut client, &["CLIENTS", "server"]);
    assert_eq!(assert_info_layout(&text), ["Server", "Clients"]);
    assert_eq!(info(&mut client, &["nosuchsection"]), "");
}

/// Does the same to a server on each side: a key, and errors of two codes, so that
/// `keyspace` and `errorstats` have fields on both.
fn exercise(server: &Server) {
    let mut client = server.raw();
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert!(frame(&client.call(&["GET"])).is_error());
    assert!(frame(&client.call(&["AUTH", "nobody", "pw"])).is_error());
}

/// The fields of `reference`'s sections that `ours` lacks and the allow-lists do not name.
fn missing_fields(reference: &str, ours: &str) -> Vec<String> {
    let ours = sections(ours);
    let mut missing = Vec::new();
    for (section, fields) in sections(reference) {
        if MISSING_SECTIONS.iter().any(|(name, _)| *name == section) {
            continue;
        }
        let Some(our_fields) = ours.get(&section) else {
            missing.push(format!("section {section}"));
            continue;
        };
        for (name, _) in fields {
            let allowed = MISSING_FIELDS
                .iter()
                .any(|(s, f, _)| *s == section && *f == name);
            if !allowed && !our_fields.iter().any(|(ours, _)| *ours == name) {
                missing.push(format!("{section}/{name}"));
            }
        }
    }
    missing
}

/// Allow-listed fields and sections sessiond reports after all: the lists must shrink.
fn stale_allowances(ours: &str) -> Vec<String> {
    let ours = sections(ours);
    let sections = MISSING_SECTIONS
        .iter()
        .filter(|(section, _)| ours.contains_key(*section))
        .map(|(section, _)| format!("section {section}"));
    let fields = MISSING_FIELDS
        .iter()
        .filter(|(section, name, _)| {
            ours.get(*section)
                .is_some_and(|fields| fields.iter().any(|(ours, _)| ours == name))
        })
        .map(|(section, name, _)| format!("{section}/{name}"));
    sections.chain(fields).collect()
}

/// Checks that sessiond reports every field `redis` reports, both exercised alike.
fn assert_same_fields(sessiond: &Server, redis: &Server) {
    exercise(sessiond);
    exercise(redis);
    let theirs = info(&mut redis.raw(), &["everything"]);
    let ours = info(&mut sessiond.raw(), &["everything"]);
    let missing = missing_fields(&theirs, &ours);
    assert!(
        missing.is_empty(),
        "sessiond's INFO lacks fields redis-server reports: {missing:?}\n\
         (add them, or allow-list them in MISSING_FIELDS with the reason)"
    );
    let stale = stale_allowances(&ours);
    assert!(
        stale.is_empty(),
        "allow-listed but reported: {stale:?}; remove them from the allow-lists"
    );
}

#[test]
fn every_field_redis_reports_is_reported() {
    let sessiond = Server::sessiond(&[]);
    let redis = Server::redis(&[]);
    assert_same_fields(&sessiond, &redis);
}

#[test]
fn every_aof_field_redis_reports_is_reported_while_the_aof_is_on() {
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = |d: &tempfile::TempDir| d.path().to_str().expect("UTF-8 path").to_string();
    let (our_dir, their_dir) = (dir(&ours), dir(&theirs));
    let sessiond = Server::try_sessiond(&["--port", "0", "--appendonly", "yes", "--dir", &our_dir])
        .unwrap_or_else(|e| panic!("{e}"));
    let redis = Server::redis(&["--appendonly", "yes", "--dir", &their_dir]);
    assert_eq!(field(&mut redis.raw(), "persistence", "aof_enabled"), "1");
    assert_eq!(
        field(&mut sessiond.raw(), "persistence", "aof_enabled"),
        "1"
    );
    assert_same_fields(&sessiond, &redis);
}

#[test]
fn connection_counters_follow_connections() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let received = number(&mut client, "stats", "total_connections_received");
    assert_eq!(number(&mut client, "clients", "connected_clients"), 1);
    let others: Vec<RawClient> = (0..3).map(|_| server.raw()).collect();
    await_value("connected_clients", 4, || {
        number(&mut client, "clients", "connected_clients")
    });
    assert_eq!(
        number(&mut client, "stats", "total_connections_received"),
        received + 3
    );
    drop(others);
    await_value("connected_clients", 1, || {
        number(&mut client, "clients", "connected_clients")
    });
}

#[test]
fn traffic_counters_grow_by_what_was_sent_and_received() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let before = |client: &mut RawClient, name| number(client, "stats", name);
    let commands = before(&mut client, "total_commands_processed");
    let input = before(&mut client, "total_net_input_bytes");
    let output = before(&mut client, "total_net_output_bytes");
    let reads = before(&mut client, "total_reads_processed");
    let writes = before(&mut client, "total_writes_processed");
    let mut sent = 0;
    let mut received = 0;
    for i in 0..50 {
        let request = encode_command(&["SET", &format!("key:{i}"), "value"]);
        sent += request.len() as u64;
        client.send_raw(&request);
        received += client.read_reply().len() as u64;
    }
    let after = |client: &mut RawClient, name| number(client, "stats", name);
    assert!(after(&mut client, "total_commands_processed") >= commands + 50);
    assert!(after(&mut client, "total_net_input_bytes") >= input + sent);
    assert!(after(&mut client, "total_net_output_bytes") >= output + received);
    assert!(after(&mut client, "total_reads_processed") >= reads + 50);
    assert!(after(&mut client, "total_writes_processed") >= writes + 50);
}

#[test]
fn rates_show_recent_traffic() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let pings: Vec<u8> = (0..2000).flat_map(|_| encode_command(&["PING"])).collect();
    let deadline = Instant::now() + SETTLE;
    loop {
        client.send_raw(&pings);
        for _ in 0..2000 {
            assert_eq!(client.read_reply(), b"+PONG\r\n");
        }
        let ops = number(&mut client, "stats", "instantaneous_ops_per_sec");
        let kbps: f64 = field(&mut client, "stats", "instantaneous_input_kbps")
            .parse()
            .expect("instantaneous_input_kbps is a number");
        if ops > 0 && kbps > 0.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "rates stayed at {ops} ops/s, {kbps} kB/s"
        );
    }
}

#[test]
fn recent_buffer_peaks_cover_a_large_request_and_reply() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let value = "x".repeat(200_000);
    assert_eq!(client.call(&["SET", "big", &value]), b"+OK\r\n");
    let reply = format!("${}\r\n{value}\r\n", value.len());
    assert_eq!(client.call(&["GET", "big"]), reply.as_bytes());
    let input = number(&mut client, "clients", "client_recent_max_input_buffer");
    let output = number(&mut client, "clients", "client_recent_max_output_buffer");
    assert!(input >= 200_000, "client_recent_max_input_buffer:{input}");
    assert!(
        output >= 200_000,
        "client_recent_max_output_buffer:{output}"
    );
}

#[test]
fn keyspace_lines_count_the_keys_of_each_database() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    assert_eq!(info(&mut client, &["keyspace"]), "# Keyspace\r\n");
    for i in 0..5 {
        assert_eq!(client.call(&["SET", &format!("k{i}"), "v"]), b"+OK\r\n");
    }
    assert_eq!(client.call(&["SET", "t", "v", "EX", "1000"]), b"+OK\r\n");
    assert_eq!(client.call(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    let keyspace = sections(&info(&mut client, &["keyspace"]))["keyspace"].clone();
    let db = |name: &str| {
        keyspace
            .iter()
            .find(|(db, _)| db == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no {name} in {keyspace:?}"))
    };
    assert!(
        db("db0").starts_with("keys=6,expires=1,avg_ttl="),
        "{}",
        db("db0")
    );
    assert_eq!(db("db3"), "keys=1,expires=0,avg_ttl=0");
    assert_eq!(keyspace.len(), 2, "{keyspace:?}");
}

#[test]
fn expired_keys_counts_a_key_whose_deadline_passed() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let config = ["CONFIG", "SET", "notify-keyspace-events", "Ex"];
    assert_eq!(client.call(&config), b"+OK\r\n");
    let mut subscriber = server.raw();
    let _ = subscriber.call(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    let before = number(&mut client, "stats", "expired_keys");
    assert_eq!(client.call(&["SET", "soon", "v", "PX", "50"]), b"+OK\r\n");
    let message = frame(&subscriber.read_reply());
    assert_eq!(
        message.items.last().map(|key| key.text()),
        Some("soon".into())
    );
    assert_eq!(number(&mut client, "stats", "expired_keys"), before + 1);
    assert_eq!(field(&mut client, "stats", "expired_stale_perc"), "0.00");
}

#[test]
fn error_replies_are_counted_by_code() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    assert_eq!(client.call(&["SET", "k", "v"]), b"+OK\r\n");
    for _ in 0..2 {
        assert!(frame(&client.call(&["AUTH", "nobody", "pw"])).is_error());
    }
    assert!(frame(&client.call(&["NOSUCHCOMMAND"])).is_error());
    let errors = sections(&info(&mut client, &["errorstats"]))["errorstats"].clone();
    let expected = [
        ("errorstat_ERR", "count=1"),
        ("errorstat_WRONGPASS", "count=2"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    assert_eq!(errors, expected);
    assert_eq!(number(&mut client, "stats", "total_error_replies"), 3);
    assert_eq!(client.call(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(info(&mut client, &["errorstats"]), "# Errorstats\r\n");
    assert_eq!(number(&mut client, "stats", "total_error_replies"), 0);
}

#[test]
fn memory_cpu_and_server_fields_hold_real_readings() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    let used = number(&mut client, "memory", "used_memory");
    let peak = number(&mut client, "memory", "used_memory_peak");
    assert!(used > 0 && peak >= used, "used_memory {used}, peak {peak}");
    assert!(number(&mut client, "memory", "total_system_memory") > used);
    let startup = number(&mut client, "memory", "used_memory_startup");
    assert!(
        startup > 0 && startup <= peak,
        "used_memory_startup {startup}"
    );
    let cpu = sections(&info(&mut client, &["cpu"]))["cpu"].clone();
    assert_eq!(cpu.len(), 4, "{cpu:?}");
    for (name, value) in &cpu {
        assert!(value.parse::<f64>().is_ok(), "{name}:{value}");
    }
    assert_eq!(
        number(&mut client, "server", "process_id"),
        u64::from(server.pid())
    );
    assert_eq!(
        number(&mut client, "server", "tcp_port"),
        u64::from(server.addr().port())
    );
    assert!(number(&mut client, "server", "lru_clock") < 1 << 24);
    assert_eq!(field(&mut client, "replication", "role"), "master");
}

/// Reads lines of a child's stdout on a thread, so a test can wait for them with a deadline.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}

/// Starts `redis-cli --stat -i 0.1` against `server`, line-buffered through `stdbuf` (its
/// output is a pipe, which the C library would otherwise buffer by 4 kB).
fn redis_cli_stat(server: &Server) -> Child {
    let port = server.addr().port().to_string();
    Command::new("stdbuf")
        .args(["-oL", "redis-cli", "-h", "127.0.0.1", "-p", &port])
        .args(["--stat", "-i", "0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run stdbuf redis-cli (coreutils, redis-tools): {e}"))
}

/// Checks one data line of `redis-cli --stat`: keys, mem, clients, blocked, requests
/// `N (+D)`, connections.
fn assert_stat_line(line: &str, keys: u64) {
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns.len(), 7, "redis-cli --stat line {line:?}");
    let int = |i: usize| {
        columns[i]
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("column {i} of {line:?} is not a number"))
    };
    assert_eq!(int(0), keys, "keys in {line:?}");
    let mem = columns[1].trim_end_matches(['B', 'K', 'M', 'G']);
    assert!(mem.parse::<f64>().is_ok_and(|m| m > 0.0), "mem in {line:?}");
    assert!(int(2) >= 1, "clients in {line:?}");
    assert_eq!(int(3), 0, "blocked in {line:?}");
    assert!(int(4) > 0, "requests in {line:?}");
    let delta = columns[5].trim_start_matches("(+").trim_end_matches(')');
    assert!(delta.parse::<u64>().is_ok(), "request delta in {line:?}");
    assert!(int(6) >= 1, "connections in {line:?}");
}

#[test]
fn redis_cli_stat_prints_numeric_columns() {
    let server = Server::sessiond(&[]);
    let mut client = server.raw();
    for i in 0..3 {
        assert_eq!(client.call(&["SET", &format!("k{i}"), "v"]), b"+OK\r\n");
    }
    let mut child = redis_cli_stat(&server);
    let lines = stdout_lines(&mut child);
    let deadline = Instant::now() + SETTLE;
    let mut data = Vec::new();
    let mut header = Vec::new();
    while data.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            let _ = child.kill();
            panic!("redis-cli --stat printed {header:?} {data:?} and no more");
        };
        if line.starts_with('-') || line.starts_with("keys") {
            header.push(line);
        } else {
            data.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        header.iter().any(|line| line.contains("data")),
        "{header:?}"
    );
    assert!(
        header.iter().any(|line| line.starts_with("keys")),
        "{header:?}"
    );
    for line in &data {
        assert_stat_line(line, 3);
    }
}
