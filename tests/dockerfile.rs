//! The container image and the monitoring files, checked without a Docker engine.
//!
//! `docker build` and `docker run` are not executed (there is no engine here; `.ci/run`
//! lints the Dockerfile with hadolint). What can be checked for real is:
//!
//! * the build context: every `COPY` source exists and `.dockerignore` keeps it; the build
//!   stage's copies parse with `cargo --locked` and have the repository's library, binary
//!   and build-script targets; the Rust and Debian releases fit;
//! * the run stage's user, volume, work directory, ports and stop signal, against each
//!   other and `conf/sessiond.conf`;
//! * the final stage's ENTRYPOINT/CMD, its paths mapped onto the repository's config, the
//!   cargo-built binary and a temporary volume: it answers PING, keeps its AOF in the
//!   volume across a restart and refuses remote clients while no password is set; the
//!   HEALTHCHECK passes within its timeout against it and fails once it is gone;
//! * `conf/prometheus.yml` is valid for promtool and scrapes the default metrics port;
//!   the queries of `conf/grafana-dashboard.json` name only metrics and labels that
//!   `src/metrics.rs` defines, use them as their kind allows and parse as PromQL
//!   (promtool); README.md lists every metric.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{RawClient, Server};
use serde_json::Value;

/// The repository root.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

// --- The Dockerfile, parsed with plain string handling -----------------------------------

/// One instruction: its keyword (upper case), its arguments, the line it starts on.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
    line: usize,
}

/// One build stage: `FROM image [AS name]` and what follows it.
struct Stage {
    image: String,
    name: Option<String>,
    instructions: Vec<Instruction>,
}

impl Stage {
    fn all<'a, 'k>(
        &'a self,
        keyword: &'k str,
    ) -> impl Iterator<Item = &'a Instruction> + use<'a, 'k> {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
    }

    /// The stage's instruction `keyword`, if any; fails when there are several (a later one
    /// would silently win).
    fn at_most_one(&self, keyword: &str) -> Option<&Instruction> {
        let found: Vec<_> = self.all(keyword).collect();
        assert!(
            found.len() <= 1,
            "stage {:?} must have one {keyword} at most: {found:?}",
            self.image
        );
        found.first().copied()
    }

    fn one(&self, keyword: &str) -> &Instruction {
        self.at_most_one(keyword)
            .unwrap_or_else(|| panic!("stage {:?} has no {keyword}", self.image))
    }

    fn position(&self, instruction: &Instruction) -> usize {
        self.instructions
            .iter()
            .position(|i| i.line == instruction.line)
            .expect("instruction of this stage")
    }

    /// The WORKDIR in effect before instruction `index` (Docker's default is `/`).
    fn workdir_at(&self, index: usize) -> String {
        self.instructions[..index]
            .iter()
            .filter(|i| i.keyword == "WORKDIR")
            .fold("/".to_string(), |dir, i| {
                normalize(&if i.args.starts_with('/') {
                    i.args.clone()
                } else {
                    format!("{dir}/{}", i.args)
                })
            })
    }
}

/// Splits the Dockerfile into stages: comments (and parser directives) dropped, lines
/// ending in `\` joined with the next, as Docker reads them.
fn parse_dockerfile(text: &str) -> Vec<Stage> {
    let mut instructions = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_none()) {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        let (body, continues) = match trimmed.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (trimmed, false),
        };
        if !joined.is_empty() && !body.is_empty() {
            joined.push(' ');
        }
        joined.push_str(body);
        if continues {
            pending = Some((start, joined));
            continue;
        }
        if joined.is_empty() {
            continue;
        }
        let (keyword, args) = joined
            .split_once(char::is_whitespace)
            .unwrap_or((&joined, ""));
        instructions.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
            line: start,
        });
    }
    assert!(
        pending.is_none(),
        "the Dockerfile ends inside a continued line"
    );
    let mut stages: Vec<Stage> = Vec::new();
    for instruction in instructions {
        if instruction.keyword == "FROM" {
            let words: Vec<&str> = instruction
                .args
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let name = match words.as_slice() {
                [_] => None,
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                _ => panic!(
                    "line {}: cannot read FROM {}",
                    instruction.line, instruction.args
                ),
            };
            stages.push(Stage {
                image: words[0].to_string(),
                name,
                instructions: Vec::new(),
            });
        } else {
            let stage = stages.last_mut().unwrap_or_else(|| {
                panic!(
                    "line {}: {} before FROM",
                    instruction.line, instruction.keyword
                )
            });
            stage.instructions.push(instruction);
        }
    }
    assert!(!stages.is_empty(), "the Dockerfile has no FROM");
    stages
}

fn dockerfile() -> Vec<Stage> {
    parse_dockerfile(&read("Dockerfile"))
}

/// The exec (JSON array) form of CMD, ENTRYPOINT or HEALTHCHECK CMD. The shell form would
/// run through `/bin/sh -c` as PID 1, which does not pass SIGTERM on.
fn exec_form(instruction: &Instruction, args: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(args) {
        Ok(argv) if !argv.is_empty() => argv,
        other => panic!(
            "line {}: {} must use the exec form [\"prog\", \"arg\"...]: {other:?}",
            instruction.line, instruction.keyword
        ),
    }
}

/// A COPY: its `--from`, sources and destination, and the WORKDIR it copies in.
struct Copy {
    from: Option<String>,
    sources: Vec<String>,
    dest: String,
    workdir: String,
    line: usize,
}

impl Copy {
    /// Where `source` lands: a context directory's contents go into the destination; a
    /// file goes to `dest/NAME` when `dest` is a directory (ends in `/`, or several
    /// sources), else to `dest`.
    fn target(&self, source: &str) -> String {
        let dest = normalize(&if self.dest.starts_with('/') {
            self.dest.clone()
        } else {
            format!("{}/{}", self.workdir, self.dest)
        });
        let is_dir = self.from.is_none() && repo().join(source).is_dir();
        if !is_dir && (self.dest.ends_with('/') || self.sources.len() > 1) {
            let name = Path::new(source)
                .file_name()
                .expect("a source names a file");
            format!("{dest}/{}", name.to_string_lossy())
        } else {
            dest
        }
    }
}

fn copies(stage: &Stage) -> Vec<Copy> {
    let mut copies = Vec::new();
    for (index, instruction) in stage.instructions.iter().enumerate() {
        if instruction.keyword != "COPY" {
            continue;
        }
        assert!(
            !instruction.args.contains('['),
            "line {}: use the plain COPY form",
            instruction.line
        );
        let mut from = None;
        let mut rest = Vec::new();
        for word in instruction.args.split_whitespace() {
            if let Some(flag) = word.strip_prefix("--") {
                match flag.split_once('=') {
                    Some(("from", stage)) => from = Some(stage.to_string()),
                    Some(("chown" | "chmod", _)) => {}
                    None if flag == "link" => {}
                    _ => panic!("line {}: unknown COPY flag --{flag}", instruction.line),
                }
            } else {
                rest.push(word.to_string());
            }
        }
        let dest = rest
            .pop()
            .unwrap_or_else(|| panic!("line {}: COPY without destination", instruction.line));
        assert!(
            !rest.is_empty(),
            "line {}: COPY without source",
            instruction.line
        );
        copies.push(Copy {
            from,
            sources: rest,
            dest,
            workdir: stage.workdir_at(index),
            line: instruction.line,
        });
    }
    copies
}

/// `/a/./b//c/` → `/a/b/c`.
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// The stage's only VOLUME path (JSON or plain form).
fn volume(stage: &Stage) -> String {
    let instruction = stage.one("VOLUME");
    let paths = if instruction.args.starts_with('[') {
        exec_form(instruction, &instruction.args)
    } else {
        instruction
            .args
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(paths.len(), 1, "one VOLUME path, for the data: {paths:?}");
    normalize(&paths[0])
}

/// The value following `flag` in an argument vector (the last one: later flags win).
fn flag_value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    argv.windows(2)
        .rev()
        .find(|pair| pair[0] == flag)
        .map(|pair| pair[1].as_str())
}

// --- .dockerignore -----------------------------------------------------------------------

/// `.dockerignore` rules: patterns over `/`-separated segments with `*`, `?` and `**`,
/// `!` re-including; the last matching rule decides; a rule matching a directory covers
/// everything below it (Docker's semantics, minus character classes, which it does not use).
struct DockerIgnore {
    rules: Vec<(bool, Vec<String>)>,
}

impl DockerIgnore {
    fn load() -> DockerIgnore {
        let rules = read(".dockerignore")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| {
                assert!(
                    !line.contains('['),
                    "character classes are not handled: {line}"
                );
                let (include, pattern) = match line.strip_prefix('!') {
                    Some(p) => (true, p),
                    None => (false, line),
                };
                let segments = pattern
                    .trim_matches('/')
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(String::from)
                    .collect();
                (include, segments)
            })
            .collect();
        DockerIgnore { rules }
    }

    /// Whether `path` (relative to the context root) is left out of the context.
    fn excluded(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut excluded = false;
        for (include, pattern) in &self.rules {
            let matches = (1..=segments.len()).any(|n| match_segments(pattern, &segments[..n]));
            if matches {
                excluded = !include;
            }
        }
        excluded
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => glob(first, segment) && match_segments(rest, path_rest),
            None => false,
        },
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((b'?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Every file under `relative` (itself when it is a file), relative to the repository.
fn files_under(relative: &str) -> Vec<String> {
    let path = repo().join(relative);
    let meta = fs::metadata(&path)
        .unwrap_or_else(|e| panic!("COPY source {relative} does not exist in the repository: {e}"));
    if meta.is_file() {
        return vec![relative.to_string()];
    }
    let mut files = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    entries.sort();
    for name in entries {
        files.extend(files_under(&format!(
            "{}/{name}",
            relative.trim_end_matches('/')
        )));
    }
    files
}

// --- conf/sessiond.conf, src/config.rs, src/metrics.rs as text ---------------------------

/// The value of the first `directive` line of conf/sessiond.conf.
fn conf(directive: &str) -> String {
    read("conf/sessiond.conf")
        .lines()
        .find_map(|line| {
            let (name, value) = line.trim().split_once(char::is_whitespace)?;
            name.eq_ignore_ascii_case(directive)
                .then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| panic!("conf/sessiond.conf sets no {directive}"))
}

fn conf_port(directive: &str) -> u16 {
    conf(directive)
        .parse()
        .unwrap_or_else(|e| panic!("conf/sessiond.conf: {directive}: {e}"))
}

/// The number a `Config` default sets `field` to in src/config.rs (`field: 9121,`).
fn config_default(field: &str) -> u64 {
    let source = read("src/config.rs");
    let needle = format!("{field}: ");
    let values: BTreeSet<u64> = source
        .match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &source[at + needle.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty() && rest[digits.len()..].starts_with(','))
                .then(|| digits.parse().expect("digits"))
        })
        .collect();
    assert_eq!(
        values.len(),
        1,
        "src/config.rs should set {field} to one number by default: {values:?}"
    );
    values.into_iter().next().expect("one value")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// What src/metrics.rs defines: every `pub const X: &str = "sessiond_..."`, the kind its
/// `describe_*!` gives it, and every label name it attaches (`"label" => ...` and
/// `("label", ...)` pairs; which metric carries which label is not worked out from the
/// source, so a label used on the wrong metric passes here).
struct Metrics {
    kinds: BTreeMap<String, Option<Kind>>,
    labels: BTreeSet<String>,
}

impl Metrics {
    fn load() -> Metrics {
        let source = read("src/metrics.rs");
        let mut consts = BTreeMap::new();
        for line in source.lines() {
            let Some(rest) = line.trim().strip_prefix("pub const ") else {
                continue;
            };
            let Some((ident, value)) = rest.split_once(": &str = \"") else {
                continue;
            };
            let name = value
                .strip_suffix("\";")
                .expect("a one-line string constant");
            if name.starts_with("sessiond_") {
                consts.insert(ident.to_string(), name.to_string());
            }
        }
        assert!(
            consts.len() >= 10,
            "few metric names found in src/metrics.rs: {consts:?}"
        );
        let mut kinds: BTreeMap<String, Option<Kind>> =
            consts.values().map(|name| (name.clone(), None)).collect();
        for (macro_name, kind) in [
            ("describe_counter!(", Kind::Counter),
            ("describe_gauge!(", Kind::Gauge),
            ("describe_histogram!(", Kind::Histogram),
        ] {
            for (at, _) in source.match_indices(macro_name) {
                let rest = source[at + macro_name.len()..].trim_start();
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(name) = consts.get(&ident) {
                    kinds.insert(name.clone(), Some(kind));
                }
            }
        }
        let mut labels = BTreeSet::new();
        let literals = string_literals(&source);
        for (start, end, text) in &literals {
            let after = source[*end..].trim_start();
            let before = source[..*start].trim_end();
            let is_label =
                after.starts_with("=>") || (before.ends_with('(') && after.starts_with(','));
            if is_label
                && !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                labels.insert(text.clone());
            }
        }
        Metrics { kinds, labels }
    }

    /// The kind of a series name: a metric, or a histogram's `_bucket`, `_sum`, `_count`.
    fn series_kind(&self, series: &str) -> Result<SeriesKind, String> {
        if let Some(kind) = self.kinds.get(series) {
            return kind
                .map(SeriesKind::Metric)
                .ok_or_else(|| format!("{series} has no describe_* in src/metrics.rs"));
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = series.strip_suffix(suffix)
                && self.kinds.get(base) == Some(&Some(Kind::Histogram))
            {
                return Ok(SeriesKind::HistogramPart(suffix));
            }
        }
        Err(format!("{series} is not a metric of src/metrics.rs"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SeriesKind {
    Metric(Kind),
    HistogramPart(&'static str),
}

/// The `"..."` literals of Rust source: (start, end, text), escapes kept as written.
fn string_literals(source: &str) -> Vec<(usize, usize, String)> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal ('"' included) or a lifetime: skip what cannot open a string.
                if bytes.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else if bytes.get(i + 1) == Some(&b'\\') {
                    i += 4;
                } else {
                    i += 1;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                found.push((start, i, source[start + 1..i - 1].to_string()));
            }
            _ => i += 1,
        }
    }
    found
}

// --- The image's command lines, mapped onto the repository and run -----------------------

/// Debian's default PATH, which the run stage keeps.
const IMAGE_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The run stage mapped onto this machine: the files it copies (the config from the
/// repository, the binary from the build stage, which is the one cargo built for these
/// tests), its volume (a temporary directory, `data`) and its ENTRYPOINT + CMD.
struct Image {
    files: BTreeMap<String, PathBuf>,
    volume: String,
    data: tempfile::TempDir,
    command: Vec<String>,
}

impl Image {
    fn new(stages: &[Stage]) -> Image {
        let run = stages.last().expect("a final stage");
        let mut files = BTreeMap::new();
        for copy in copies(run) {
            for source in &copy.sources {
                let host = match &copy.from {
                    None => {
                        let host = repo().join(source);
                        assert!(host.is_file(), "line {}: {source} is not a file", copy.line);
                        host
                    }
                    Some(stage) => {
                        let built = built_binary(stages, stage, source);
                        assert_eq!(
                            built, "sessiond",
                            "line {}: only the sessiond binary comes from a build stage",
                            copy.line
                        );
                        PathBuf::from(env!("CARGO_BIN_EXE_sessiond"))
                    }
                };
                files.insert(copy.target(source), host);
            }
        }
        assert!(
            run.all("ENV").all(|env| !env.args.starts_with("PATH")),
            "the run stage sets PATH; teach this test to read it"
        );
        Image {
            files,
            volume: volume(run),
            data: tempfile::tempdir().expect("temp dir"),
            command: image_command(run),
        }
    }

    /// `argv` with the image's paths replaced by their counterparts here; the program is
    /// looked up on the image's PATH among the files the stage copies. Panics on an
    /// absolute path the image does not have.
    fn map(&self, argv: &[String]) -> Vec<String> {
        let program = &argv[0];
        let program_path = if program.starts_with('/') {
            program.clone()
        } else {
            IMAGE_PATH
                .iter()
                .map(|dir| format!("{dir}/{program}"))
                .find(|candidate| self.files.contains_key(candidate))
                .unwrap_or_else(|| panic!("{program} is on no PATH directory the image copies to"))
        };
        let mut mapped = vec![self.host(&program_path)];
        mapped.extend(argv[1..].iter().map(|arg| {
            if arg.starts_with('/') {
                self.host(arg)
            } else {
                arg.clone()
            }
        }));
        mapped
    }

    fn host(&self, image_path: &str) -> String {
        let image_path = normalize(image_path);
        if let Some(host) = self.files.get(&image_path) {
            return host.to_str().expect("UTF-8 path").to_string();
        }
        if let Some(rest) = image_path.strip_prefix(&self.volume)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return format!("{}{rest}", self.data_dir());
        }
        panic!("the image has no {image_path}: it is neither copied in nor in the volume")
    }

    fn data_dir(&self) -> &str {
        self.data.path().to_str().expect("UTF-8 path")
    }

    /// Runs the image's command, mapped, with `--port 0` and `extra` appended as `docker run
    /// IMAGE ARGS...` appends them (later arguments win): the config's port 6379 may belong
    /// to a local redis-server or a parallel test here. The harness adds `--metrics-port 0`.
    fn start(&self, extra: &[&str]) -> Server {
        let mapped = self.map(&self.command);
        let mut args: Vec<&str> = mapped[1..].iter().map(String::as_str).collect();
        args.extend(["--port", "0"]);
        args.extend(extra);
        Server::try_sessiond_at(&mapped[0], &args).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Checks that stage `stage` of `stages` builds `path` with `cargo build --release` and
/// returns the name of the binary it installs there.
fn built_binary(stages: &[Stage], stage: &str, path: &str) -> String {
    let build = stages
        .iter()
        .find(|s| s.name.as_deref() == Some(stage))
        .unwrap_or_else(|| panic!("COPY --from={stage}: there is no stage {stage}"));
    let run = build
        .all("RUN")
        .find(|run| run.args.contains(path))
        .unwrap_or_else(|| panic!("no RUN of stage {stage} makes {path}"));
    assert!(
        run.args.contains("cargo build --release --locked"),
        "line {}: the binary must come from `cargo build --release --locked`",
        run.line
    );
    let name = Path::new(path)
        .file_name()
        .expect("a file")
        .to_string_lossy();
    let built = format!("target/release/{name}");
    assert!(
        run.args.contains(&built),
        "line {}: {path} should be installed from {built}",
        run.line
    );
    name.into_owned()
}

/// The final stage's ENTRYPOINT followed by its CMD, as `docker run IMAGE` runs them.
fn image_command(run: &Stage) -> Vec<String> {
    let argv: Vec<String> = ["ENTRYPOINT", "CMD"]
        .into_iter()
        .filter_map(|keyword| run.at_most_one(keyword))
        .flat_map(|instruction| exec_form(instruction, &instruction.args))
        .collect();
    assert!(
        !argv.is_empty(),
        "the final stage has neither ENTRYPOINT nor CMD"
    );
    argv
}

/// The HEALTHCHECK's command line and its `--timeout`.
fn healthcheck(run: &Stage) -> (Vec<String>, Duration) {
    let instruction = run.one("HEALTHCHECK");
    let (options, command) = instruction
        .args
        .split_once("CMD")
        .unwrap_or_else(|| panic!("line {}: HEALTHCHECK without CMD", instruction.line));
    let mut timeout = Duration::from_secs(30); // Docker's default
    for option in options.split_whitespace() {
        let (name, value) = option
            .strip_prefix("--")
            .and_then(|o| o.split_once('='))
            .unwrap_or_else(|| panic!("line {}: bad option {option}", instruction.line));
        match name {
            "interval" | "timeout" | "start-period" | "start-interval" => {
                let duration = parse_duration(value)
                    .unwrap_or_else(|| panic!("line {}: bad duration {option}", instruction.line));
                if name == "timeout" {
                    timeout = duration;
                }
            }
            "retries" => {
                let retries: u32 = value.parse().expect("--retries is a number");
                assert!(retries > 0, "line {}: --retries=0", instruction.line);
            }
            _ => panic!(
                "line {}: unknown HEALTHCHECK option {option}",
                instruction.line
            ),
        }
    }
    (exec_form(instruction, command.trim()), timeout)
}

/// `10s`, `1m30s`, `500ms` as Docker writes durations.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        rest = &rest[unit.len()..];
        total += match unit.as_str() {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number * 60),
            "h" => Duration::from_secs(number * 3600),
            _ => return None,
        };
    }
    Some(total)
}

fn run(argv: &[String]) -> Output {
    Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {argv:?}: {e}"))
}

fn loopback(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.addr().port()))
}

/// A client address on this host that protected mode does not count as local.
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

#[test]
fn the_image_command_serves_from_the_volume_and_the_healthcheck_follows_the_server() {
    let stages = dockerfile();
    let image = Image::new(&stages);
    assert_eq!(
        image.map(&image.command).get(1).map(PathBuf::from),
        Some(repo().join("conf/sessiond.conf")),
        "the image's first argument should be the config it copies from conf/sessiond.conf"
    );

    let mut server = image.start(&[]);
    if let Some(bind) = flag_value(&image.command, "--bind") {
        assert_eq!(
            server.addr().ip().to_string(),
            bind,
            "the server should listen where the image's --bind says"
        );
    }
    let mut client = RawClient::connect(loopback(&server));
    assert_eq!(client.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(client.call(&["SET", "image:key", "kept"]), b"+OK\r\n");
    let dir = String::from_utf8_lossy(&client.call(&["CONFIG", "GET", "dir"])).into_owned();
    assert!(
        dir.contains(image.data_dir()),
        "CONFIG GET dir should be the volume: {dir}"
    );
    assert!(
        image.data.path().join("appendonly.aof.manifest").is_file(),
        "the AOF should be in the volume; it holds {:?}",
        fs::read_dir(image.data.path()).map(|d| d.count())
    );

    let (check, timeout) = healthcheck(stages.last().expect("a final stage"));
    // The health check pings the port it names, or `sessiond ping`'s default; either must
    // be the config's, which the image's command line does not override. The probe then
    // pings the server's ephemeral port instead.
    assert!(
        flag_value(&image.command, "--port").is_none(),
        "the image's command line sets the port; the health check must follow it"
    );
    let checked_port = match flag_value(&check, "--port") {
        Some(port) => port.to_string(),
        None => {
            let ping_help = run(&image.map(&[check[0].clone(), "ping".into(), "--help".into()]));
            let help = String::from_utf8_lossy(&ping_help.stdout).into_owned();
            help.lines()
                .find(|l| l.contains("--port"))
                .and_then(|l| l.split("[default: ").nth(1))
                .and_then(|d| d.split(']').next())
                .unwrap_or_else(|| panic!("no default port in `sessiond ping --help`:\n{help}"))
                .to_string()
        }
    };
    assert_eq!(
        checked_port.parse::<u16>().ok(),
        Some(conf_port("port")),
        "HEALTHCHECK pings port {checked_port}; the image serves on the config's port"
    );
    let mut probe = image.map(&check);
    let actual_port = server.addr().port().to_string();
    match probe.iter().position(|arg| arg == "--port") {
        Some(at) => probe[at + 1] = actual_port,
        None => probe.extend(["--port".into(), actual_port]),
    }
    let started = Instant::now();
    let healthy = run(&probe);
    assert!(healthy.status.success(), "health check failed: {healthy:?}");
    assert!(
        started.elapsed() < timeout,
        "health check took {:?}, over its timeout {timeout:?}",
        started.elapsed()
    );

    // `docker stop` sends the STOPSIGNAL (SIGTERM) and waits: a clean exit, data kept.
    let status = server.terminate();
    assert!(status.success(), "{status}: {}", server.output_tail());
    let unhealthy = run(&probe);
    assert!(
        !unhealthy.status.success(),
        "health check passed with no server: {unhealthy:?}"
    );
    assert!(
        !unhealthy.stderr.is_empty(),
        "a failed check should say why"
    );

    // A new container on the same volume sees the data.
    let server = image.start(&[]);
    let mut client = RawClient::connect(loopback(&server));
    assert_eq!(client.call(&["GET", "image:key"]), b"$4\r\nkept\r\n");
}

#[test]
fn the_image_command_lets_loopback_in_and_tells_remote_clients_why_they_are_refused() {
    let image = Image::new(&dockerfile());
    assert_eq!(conf("protected-mode"), "yes");
    let server = image.start(&[]);
    assert_eq!(
        RawClient::connect(loopback(&server)).call(&["PING"]),
        b"+PONG\r\n",
        "the sidecar's app, on loopback, is served"
    );
    // Anyone else, while no password is set, gets an error saying why, not a silent close.
    // The server may have closed already; what it wrote must still be readable.
    let mut outsider = RawClient::connect_from(ELSEWHERE, loopback(&server));
    let _ = outsider.try_send(&["PING"]);
    let refusal = String::from_utf8_lossy(&outsider.read_reply()).into_owned();
    assert!(
        refusal.starts_with("-DENIED") && refusal.contains("protected mode"),
        "{refusal}"
    );
    outsider.expect_closed();
    drop(server);

    // With a password (`docker run IMAGE --requirepass ...`), remote clients that AUTH are
    // served.
    let server = image.start(&["--requirepass", "s3cret"]);
    let mut outsider = RawClient::connect_from(ELSEWHERE, loopback(&server));
    assert_eq!(outsider.call(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(outsider.call(&["PING"]), b"+PONG\r\n");
}

// --- Static checks of the Dockerfile -----------------------------------------------------

#[test]
fn every_copy_source_exists_and_is_in_the_build_context() {
    let stages = dockerfile();
    let ignore = DockerIgnore::load();
    // The rules should keep the bulky and private parts out.
    for left_out in [
        "target/release/sessiond",
        ".git/HEAD",
        "appendonly.aof.1.incr.aof",
    ] {
        assert!(
            ignore.excluded(left_out),
            ".dockerignore should leave out {left_out}"
        );
    }
    let mut copied = 0;
    for (index, stage) in stages.iter().enumerate() {
        for copy in copies(stage) {
            if let Some(from) = &copy.from {
                assert!(
                    stages[..index]
                        .iter()
                        .any(|s| s.name.as_deref() == Some(from)),
                    "line {}: --from={from} names no earlier stage",
                    copy.line
                );
                continue;
            }
            for source in &copy.sources {
                assert!(!source.contains(['*', '?']), "line {}: no globs", copy.line);
                let files = files_under(source);
                assert!(!files.is_empty(), "line {}: {source} is empty", copy.line);
                for file in files {
                    assert!(
                        !ignore.excluded(&file),
                        "line {}: {file} is copied but .dockerignore leaves it out",
                        copy.line
                    );
                    copied += 1;
                }
            }
        }
    }
    assert!(copied > 10, "only {copied} files copied");
}

/// `cargo metadata --no-deps` of a manifest: (kind, name) of its lib, bin and build-script
/// targets.
fn cargo_targets(manifest: &Path) -> BTreeSet<(String, String)> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "cargo metadata: {output:?}");
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let mut targets = BTreeSet::new();
    for package in metadata["packages"].as_array().expect("packages") {
        for target in package["targets"].as_array().expect("targets") {
            let name = target["name"].as_str().expect("name");
            for kind in target["kind"].as_array().expect("kind") {
                let kind = kind.as_str().expect("kind is a string");
                if matches!(kind, "lib" | "bin" | "custom-build") {
                    targets.insert((kind.to_string(), name.to_string()));
                }
            }
        }
    }
    targets
}

/// Copies the files under `relative` that `.dockerignore` keeps to `to`.
fn copy_tree(to: &Path, relative: &str, ignore: &DockerIgnore) {
    for file in files_under(relative) {
        if ignore.excluded(&file) {
            continue;
        }
        let inside = file
            .strip_prefix(relative)
            .unwrap_or("")
            .trim_start_matches('/');
        let target = if inside.is_empty() {
            to.to_path_buf()
        } else {
            to.join(inside)
        };
        fs::create_dir_all(target.parent().expect("a parent")).expect("create directories");
        fs::copy(repo().join(&file), &target)
            .unwrap_or_else(|e| panic!("copy {file} to {}: {e}", target.display()));
    }
}

#[test]
fn the_build_stage_copies_enough_for_a_locked_cargo_build() {
    let stages = dockerfile();
    let (build, run) = stages
        .iter()
        .filter(|s| s.name.is_some())
        .find_map(|s| Some((s, s.all("RUN").find(|r| r.args.contains("cargo build"))?)))
        .expect("a named stage that runs cargo build");
    let ignore = DockerIgnore::load();

    // The build stage's file system, as far as its COPYs make it, under a temp root.
    let root = tempfile::tempdir().expect("temp dir");
    for copy in copies(build) {
        assert!(
            copy.from.is_none(),
            "line {}: the build stage copies from the context",
            copy.line
        );
        for source in &copy.sources {
            copy_tree(
                &root.path().join(&copy.target(source)[1..]),
                source,
                &ignore,
            );
        }
    }
    let workdir = build.workdir_at(build.position(run));
    let context = root.path().join(&workdir[1..]);
    let manifest = context.join("Cargo.toml");
    assert!(
        manifest.is_file(),
        "cargo build runs in {workdir}, which has no Cargo.toml"
    );

    // Parses the manifest as `cargo build` does (explicit targets such as the benches must
    // exist) and fails if Cargo.lock would have to change (`--locked`), without compiling.
    let fetch = Command::new(env!("CARGO"))
        .args(["fetch", "--locked", "--offline", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("run cargo fetch");
    assert!(
        fetch.status.success(),
        "the build stage's files do not make a package cargo can build:\n{}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    // A missing build.rs or src/main.rs would not stop the manifest from parsing, only the
    // build from producing the server: compare the targets with the repository's.
    let wanted = cargo_targets(&repo().join("Cargo.toml"));
    let copied = cargo_targets(&manifest);
    assert!(
        wanted.iter().any(|(kind, _)| kind == "custom-build"),
        "the repository's build script should be a target: {wanted:?}"
    );
    assert_eq!(
        copied, wanted,
        "targets of the build stage's copy vs the repository"
    );

    // Rust new enough for edition 2024 (1.85), and the run stage on the Debian release the
    // binary was linked on (its glibc).
    let (image, tag) = build
        .image
        .split_once(':')
        .expect("the build image has a tag");
    assert_eq!(image, "rust", "the official rust image");
    let version: Vec<u32> = tag
        .split('-')
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse().expect("a numeric Rust version in the tag"))
        .collect();
    assert!(version.len() >= 2, "pin a Rust version in the tag: {tag}");
    assert!(
        version[..2] >= [1, 85][..],
        "edition 2024 needs Rust 1.85: {tag}"
    );
    let build_release = tag.rsplit('-').next().expect("a Debian release in the tag");
    let final_image = &stages.last().expect("a final stage").image;
    let (base, base_tag) = final_image
        .split_once(':')
        .expect("the run image has a tag");
    assert_eq!(base, "debian");
    assert_eq!(
        base_tag.split('-').next(),
        Some(build_release),
        "build on {tag}, run on {final_image}: same Debian release"
    );
}

#[test]
fn the_run_stage_is_a_fixed_non_root_user_with_data_in_the_volume() {
    let stages = dockerfile();
    let run = stages.last().expect("a final stage");
    let user = run.one("USER");
    // Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    let (uid, gid) = user
        .args
        .split_once(':')
        .unwrap_or((&user.args, &user.args));
    let uid: u32 = uid.parse().expect("USER names a numeric uid");
    let gid: u32 = gid.parse().expect("USER names a numeric gid");
    assert!(uid != 0 && gid != 0, "the server must not run as root");
    let setup = run
        .all("RUN")
        .find(|r| r.args.contains("useradd"))
        .expect("a RUN that creates the user");
    assert!(
        setup.args.contains(&format!("--uid {uid}")),
        "useradd --uid {uid}"
    );
    assert!(
        setup.args.contains(&format!("--gid {gid}")),
        "groupadd --gid {gid}"
    );

    let data = volume(run);
    // Docker fills a new volume from the image's directory, ownership included, and
    // ignores changes made to it after the VOLUME line.
    assert!(
        run.position(setup) < run.position(run.one("VOLUME")),
        "the data directory is prepared before VOLUME"
    );
    assert!(
        setup.args.contains(&format!("mkdir -p {data}"))
            && (setup
                .args
                .contains(&format!("chown sessiond:sessiond {data}"))
                || setup.args.contains(&format!("chown {uid}:{gid} {data}"))),
        "{data} must be made and belong to the server's user"
    );
    assert_eq!(
        flag_value(&image_command(run), "--dir"),
        Some(data.as_str()),
        "--dir is the volume"
    );
    assert_eq!(
        run.workdir_at(run.instructions.len()),
        data,
        "the work directory is the volume, so relative paths land there too"
    );

    let exposed: BTreeSet<u16> = run
        .all("EXPOSE")
        .flat_map(|e| {
            e.args
                .split_whitespace()
                .map(|p| p.trim_end_matches("/tcp").parse().expect("a port"))
        })
        .collect();
    assert_eq!(
        exposed,
        BTreeSet::from([conf_port("port"), conf_port("metrics-port")])
    );
    for stop in run.all("STOPSIGNAL") {
        assert_eq!(
            stop.args, "SIGTERM",
            "sessiond shuts down cleanly on SIGTERM"
        );
    }
}

// --- Prometheus and Grafana --------------------------------------------------------------

fn promtool(args: &[&str], file: &Path) -> Output {
    Command::new("promtool")
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}); install Debian's prometheus package: apt-get install -y prometheus")
        })
}

#[test]
fn prometheus_config_is_valid_and_scrapes_the_default_metrics_port() {
    let checked = promtool(&["check", "config"], &repo().join("conf/prometheus.yml"));
    assert!(
        checked.status.success(),
        "promtool check config: {checked:?}"
    );

    let config = read("conf/prometheus.yml");
    let values = |key: &str| -> Vec<String> {
        config
            .lines()
            .map(|l| l.trim().trim_start_matches("- "))
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                l.strip_prefix(key)?
                    .strip_prefix(':')
                    .map(|v| v.trim().to_string())
            })
            .collect()
    };
    assert_eq!(values("job_name"), ["sessiond"]);
    assert_eq!(values("metrics_path"), ["/metrics"]);
    assert!(values("scrape_interval").iter().all(|v| v == "15s"));
    let targets = values("targets");
    assert_eq!(targets.len(), 1, "one static target: {targets:?}");
    let target = targets[0].trim_matches(|c| matches!(c, '[' | ']' | '"' | '\''));
    let (host, port) = target.rsplit_once(':').expect("host:port");
    assert_eq!(host, "localhost");
    let port: u64 = port.parse().expect("a port");
    assert_eq!(
        port,
        u64::from(conf_port("metrics-port")),
        "conf/sessiond.conf metrics-port"
    );
    assert_eq!(
        port,
        config_default("metrics_port"),
        "src/config.rs default metrics-port"
    );
}

/// PromQL tokens, as much as the checks need.
#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Str,
    Open(char),
    Close(char),
    Other(char),
}

fn tokenize(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '$' {
            // A Grafana variable: `$name`, `${name}`.
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '{' | '}'))
            {
                i += 1;
            }
        } else if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            tokens.push(Token::Str);
        } else if c == '[' {
            // A range or subquery duration.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if matches!(c, '(' | '{') {
            tokens.push(Token::Open(c));
            i += 1;
        } else if matches!(c, ')' | '}') {
            tokens.push(Token::Close(c));
            i += 1;
        } else {
            if !c.is_whitespace() {
                tokens.push(Token::Other(c));
            }
            i += 1;
        }
    }
    tokens
}

const PROMQL_KEYWORDS: &str =
    "by without on ignoring group_left group_right bool offset and or unless atan2 inf nan";

/// Aggregation operators: called like functions, or with `by (...)` / `without (...)`
/// between the name and the parenthesis.
const PROMQL_AGGREGATIONS: &str = "sum avg min max count group stddev stdvar topk bottomk quantile count_values limitk limit_ratio";

fn is_one_of(word: &str, list: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// What one query uses: series names, label names, functions, and the series each
/// `rate`/`increase`/`irate` is applied to.
#[derive(Debug, Default)]
struct QueryUse {
    series: Vec<String>,
    labels: Vec<String>,
    functions: Vec<String>,
    rated: Vec<String>,
    grouped_by_le: bool,
}

fn analyze(expr: &str) -> Result<QueryUse, String> {
    let tokens = tokenize(expr);
    let mut found = QueryUse::default();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Open('{') => {
                // Label matchers: `name op "value"`, comma-separated.
                i += 1;
                while i < tokens.len() && tokens[i] != Token::Close('}') {
                    if let Token::Ident(label) = &tokens[i] {
                        found.labels.push(label.clone());
                    }
                    i += 1;
                }
            }
            Token::Ident(word) if matches!(word.as_str(), "by" | "without" | "on" | "ignoring") => {
                if tokens.get(i + 1) != Some(&Token::Open('(')) {
                    return Err(format!("{word} without a label list"));
                }
                i += 2;
                while i < tokens.len() && tokens[i] != Token::Close(')') {
                    if let Token::Ident(label) = &tokens[i] {
                        found.grouped_by_le |= label == "le";
                        found.labels.push(label.clone());
                    }
                    i += 1;
                }
            }
            Token::Ident(word) if tokens.get(i + 1) == Some(&Token::Open('(')) => {
                found.functions.push(word.clone());
                if matches!(word.as_str(), "rate" | "irate" | "increase") {
                    match tokens.get(i + 2) {
                        Some(Token::Ident(series)) => found.rated.push(series.clone()),
                        other => return Err(format!("{word}( of {other:?}, not a series")),
                    }
                }
            }
            Token::Ident(word) if is_one_of(word, PROMQL_AGGREGATIONS) => {
                found.functions.push(word.clone());
            }
            Token::Ident(word) if is_one_of(word, PROMQL_KEYWORDS) => {}
            Token::Ident(word) => found.series.push(word.clone()),
            _ => {}
        }
        i += 1;
    }
    Ok(found)
}

/// Every problem of one dashboard query against what src/metrics.rs defines.
fn query_problems(expr: &str, metrics: &Metrics) -> Vec<String> {
    let found = match analyze(expr) {
        Ok(found) => found,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    if found.series.is_empty() {
        problems.push("names no metric".to_string());
    }
    let mut kinds = Vec::new();
    for series in &found.series {
        match metrics.series_kind(series) {
            Ok(kind) => kinds.push((series, kind)),
            Err(e) => problems.push(e),
        }
    }
    for series in &found.rated {
        let countable = matches!(
            metrics.series_kind(series),
            Ok(SeriesKind::Metric(Kind::Counter) | SeriesKind::HistogramPart(_))
        );
        if !countable {
            problems.push(format!("rate/increase of {series}, which is not a counter"));
        }
    }
    let buckets = kinds
        .iter()
        .any(|(_, k)| *k == SeriesKind::HistogramPart("_bucket"));
    let quantile = found.functions.iter().any(|f| f == "histogram_quantile");
    if buckets != quantile || buckets != found.grouped_by_le {
        problems.push("histogram buckets go through histogram_quantile, summed by le".to_string());
    }
    for (series, kind) in &kinds {
        if *kind == SeriesKind::Metric(Kind::Histogram) {
            problems.push(format!(
                "{series} is a histogram: use its _bucket, _sum or _count"
            ));
        }
    }
    for label in &found.labels {
        let builtin = matches!(label.as_str(), "instance" | "job") || (label == "le" && buckets);
        if !builtin && !metrics.labels.contains(label) {
            problems.push(format!("label {label} is not one src/metrics.rs attaches"));
        }
    }
    problems
}

/// Every `expr` (a target's query) anywhere in `json`.
fn exprs(json: &Value, found: &mut Vec<String>) {
    match json {
        Value::Object(fields) => {
            for (key, value) in fields {
                if key == "expr" {
                    found.push(value.as_str().expect("expr is a string").to_string());
                }
                exprs(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| exprs(item, found)),
        _ => {}
    }
}

/// The dashboard's queries: every target's `expr`, and the metric selector of every
/// `label_values(SELECTOR, LABEL)` variable with its label.
fn dashboard_queries(dashboard: &Value) -> (Vec<String>, Vec<(String, String)>) {
    let mut found = Vec::new();
    exprs(dashboard, &mut found);
    let mut variables = Vec::new();
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
    {
        let query = &variable["query"];
        let query = query
            .get("query")
            .unwrap_or(query)
            .as_str()
            .expect("a variable query string");
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable query {query} is not label_values(..)"));
        let (selector, label) = inner
            .rsplit_once(',')
            .expect("label_values(SELECTOR, LABEL)");
        variables.push((selector.trim().to_string(), label.trim().to_string()));
    }
    (found, variables)
}

/// A dashboard query as Prometheus would receive it: Grafana's interval variables become a
/// duration, the others (multi-value regexes) `.*`.
fn substitute_grafana_variables(expr: &str) -> String {
    let mut out = expr.to_string();
    for name in ["__rate_interval", "__interval", "__range"] {
        out = out
            .replace(&format!("${{{name}}}"), "5m")
            .replace(&format!("${name}"), "5m");
    }
    let mut result = String::new();
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            result.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
        } else {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                chars.next();
            }
        }
        result.push_str(".*");
    }
    result
}

/// `promtool check rules` over `exprs` as recording rules: Prometheus' own PromQL parser.
fn promql_check(exprs: &[String]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (index, expr) in exprs.iter().enumerate() {
        let quoted = expr.replace('\'', "''");
        rules.push_str(&format!(
            "      - record: dashboard:query_{index}\n        expr: '{quoted}'\n"
        ));
    }
    let file = dir.path().join("rules.yml");
    fs::write(&file, rules).expect("write rules");
    promtool(&["check", "rules"], &file)
}

#[test]
fn dashboard_queries_use_only_metrics_and_labels_that_src_metrics_defines() {
    let metrics = Metrics::load();
    // The checks themselves must catch mistakes.
    for (bad, why) in [
        ("sum(rate(sessiond_command_total[5m]))", "misspelt counter"),
        ("sum(rate(sesiond_commands_total[5m]))", "misspelt prefix"),
        ("rate(sessiond_connected_clients[5m])", "rate of a gauge"),
        (
            "sum by (commands) (rate(sessiond_commands_total[5m]))",
            "unknown label",
        ),
        (
            "sum by (le) (rate(sessiond_command_duration_seconds_bucket[5m]))",
            "buckets without quantile",
        ),
        (
            "histogram_quantile(0.9, sum(rate(sessiond_command_duration_seconds_bucket[5m])))",
            "no le",
        ),
        ("sessiond_connected_clients_bucket", "bucket of a gauge"),
    ] {
        assert!(
            !query_problems(bad, &metrics).is_empty(),
            "{why} not caught: {bad}"
        );
    }
    let broken = promql_check(&["sum by (command (rate(sessiond_commands_total[5m]))".to_string()]);
    assert!(!broken.status.success(), "promtool accepted a broken query");

    let (exprs, variables) = dashboard_queries(&dashboard());
    assert!(exprs.len() >= 12, "only {} queries", exprs.len());
    let mut problems = Vec::new();
    for expr in &exprs {
        for problem in query_problems(expr, &metrics) {
            problems.push(format!("{expr}\n    {problem}"));
        }
    }
    for (selector, label) in &variables {
        for problem in query_problems(selector, &metrics) {
            problems.push(format!("variable {selector}\n    {problem}"));
        }
        if !matches!(label.as_str(), "instance" | "job") && !metrics.labels.contains(label) {
            problems.push(format!("variable over unknown label {label}"));
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard queries:\n{}",
        problems.join("\n")
    );

    let mut promql: Vec<String> = exprs
        .iter()
        .map(|e| substitute_grafana_variables(e))
        .collect();
    promql.extend(
        variables
            .iter()
            .map(|(selector, _)| substitute_grafana_variables(selector)),
    );
    let checked = promql_check(&promql);
    assert!(
        checked.status.success(),
        "promtool check rules: {checked:?}"
    );
}

fn dashboard() -> Value {
    serde_json::from_str(&read("conf/grafana-dashboard.json"))
        .unwrap_or_else(|e| panic!("conf/grafana-dashboard.json: {e}"))
}

#[test]
fn dashboard_is_an_importable_grafana_dashboard() {
    let dashboard = dashboard();
    let schema = dashboard["schemaVersion"].as_f64().expect("schemaVersion");
    assert!((36.0..=41.0).contains(&schema), "schemaVersion {schema}");
    let inputs = dashboard["__inputs"]
        .as_array()
        .expect("__inputs, for import");
    assert!(
        inputs.iter().any(|input| input["name"] == "DS_PROMETHEUS"
            && input["type"] == "datasource"
            && input["pluginId"] == "prometheus"),
        "a DS_PROMETHEUS datasource input"
    );

    let mut panels = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        panels.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            panels.extend(nested);
        }
    }
    let mut ids = BTreeSet::new();
    let mut boxes = Vec::new();
    for panel in &panels {
        let title = panel["title"].as_str().expect("a title");
        let id = panel["id"].as_i64().expect("an integer id");
        assert!(ids.insert(id), "panel id {id} twice");
        let [h, w, x, y] = ["h", "w", "x", "y"].map(|k| {
            panel["gridPos"][k]
                .as_f64()
                .unwrap_or_else(|| panic!("{title}: gridPos.{k}"))
        });
        assert!(
            x >= 0.0 && w > 0.0 && h > 0.0 && x + w <= 24.0,
            "{title}: gridPos off the grid"
        );
        for (other, (ox, oy, ow, oh)) in &boxes {
            let overlap = x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h;
            assert!(!overlap, "panels {title} and {other} overlap");
        }
        boxes.push((title, (x, y, w, h)));
        if panel["type"] == "row" {
            continue;
        }
        let uses_input = |o: &Value| o["datasource"]["uid"] == "${DS_PROMETHEUS}";
        assert!(
            uses_input(panel),
            "{title}: datasource should be ${{DS_PROMETHEUS}}"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        let mut refs = BTreeSet::new();
        for target in targets {
            assert!(uses_input(target), "{title}: a target's datasource");
            let reference = target["refId"].as_str().expect("refId");
            assert!(refs.insert(reference), "{title}: refId {reference} twice");
        }
    }
    assert!(panels.len() >= 12, "only {} panels", panels.len());
}

#[test]
fn readme_lists_every_metric() {
    let readme = read("README.md");
    let metrics = Metrics::load();
    let missing: Vec<_> = metrics
        .kinds
        .keys()
        .filter(|name| !readme.contains(name.as_str()))
        .collect();
    assert!(missing.is_empty(), "README.md does not list {missing:?}");
}
