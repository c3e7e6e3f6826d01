//! Server-wide counters and samples for INFO (kept with relaxed atomics: they are statistics,
//! never used for synchronisation), and the readings of /proc that INFO reports.
//!
//! Connections touch these once per read or write batch, never per byte or per command;
//! error replies, which are off the path of successful commands, take a short lock.
//! Rates (`instantaneous_*`) and the recent buffer peaks are worked out when INFO asks,
//! from the previous INFO's sample, so no background task samples them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Clock ticks per second of the CPU times in /proc (the kernel's fixed `USER_HZ`).
const USER_HZ: f64 = 100.0;

/// Shortest time between two rate samples; a closer INFO reports the previous rates.
const MIN_SAMPLE: Duration = Duration::from_millis(100);

/// How long a buffer peak stays "recent" at least: peaks age out over two such windows.
const PEAK_WINDOW: Duration = Duration::from_secs(2);

/// Distinct error codes `errorstats` tracks, as Redis's limit; later codes count only in
/// `total_error_replies`.
const MAX_ERROR_CODES: usize = 128;

/// The name of the expiry driver's thread, whose CPU time is `expire_cycle_cpu_milliseconds`.
const EXPIRY_THREAD: &str = "sessiond-expiry";

/// Counters every connection bumps once per batch, on one cache line so that a batch's
/// updates move a single line between cores.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Traffic {
    commands: AtomicU64,
    reads: AtomicU64,
    input_bytes: AtomicU64,
    writes: AtomicU64,
    output_bytes: AtomicU64,
    /// Largest input buffer since the peak window last turned.
    input_peak: AtomicU64,
    /// Largest output batch since the peak window last turned.
    output_peak: AtomicU64,
}

/// The totals a rate sample is taken of.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    commands: u64,
    input_bytes: u64,
    output_bytes: u64,
}

/// INFO's `instantaneous_*` rates, between the last two samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// Commands per second.
    pub ops_per_sec: u64,
    /// Kilobytes (1024 bytes) read from clients per second.
    pub input_kbps: f64,
    /// Kilobytes (1024 bytes) written to clients per second.
    pub output_kbps: f64,
}

/// The last sample and the rates it gave.
#[derive(Debug)]
struct RateSampler {
    last: Sample,
    rates: Rates,
}

/// The peaks of the window before the current one.
#[derive(Debug)]
struct PeakWindow {
    turned_at: Instant,
    input: u64,
    output: u64,
}

/// INFO's `client_recent_max_input_buffer` and `client_recent_max_output_buffer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferPeaks {
    /// Bytes in the largest client input buffer seen recently.
    pub input: u64,
    /// Bytes in the largest batch of replies written to one client recently.
    pub output: u64,
}

/// Error replies, by code (the first word of the message).
#[derive(Debug, Default)]
struct ErrorCounts {
    total: u64,
    by_code: BTreeMap<String, u64>,
}

/// Counters reported by INFO.
#[derive(Debug)]
pub struct Stats {
    traffic: Traffic,
    connections: AtomicU64,
    rejected: AtomicU64,
    errors: Mutex<ErrorCounts>,
    rates: Mutex<RateSampler>,
    peaks: Mutex<PeakWindow>,
    /// Bytes allocated when the server was set up, before data was loaded.
    startup_memory: u64,
    /// Most bytes allocated that INFO has seen.
    peak_memory: AtomicU64,
    /// The expiry thread's CPU milliseconds at the last CONFIG RESETSTAT.
    expiry_cpu_base: AtomicU64,
}

impl Default for Stats {
    /// Zeroed counters; the memory allocated now is the start-up memory and first peak.
    fn default() -> Self {
        let startup_memory = crate::memory::allocated();
        let now = Instant::now();
        Stats {
            traffic: Traffic::default(),
            connections: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            errors: Mutex::default(),
            rates: Mutex::new(RateSampler {
                last: Sample {
                    at: now,
                    commands: 0,
                    input_bytes: 0,
                    output_bytes: 0,
                },
                rates: Rates::default(),
            }),
            peaks: Mutex::new(PeakWindow {
                turned_at: now,
                input: 0,
                output: 0,
            }),
            startup_memory,
            peak_memory: AtomicU64::new(startup_memory),
            expiry_cpu_base: AtomicU64::new(0),
        }
    }
}

impl Stats {
    /// Counts executed commands; connections add a whole batch at once so the shared counter
    /// is touched once per read, not once per command.
    pub fn count_commands(&self, executed: u64) {
        self.traffic.commands.fetch_add(executed, Ordering::Relaxed);
    }

    /// Counts one read of `bytes` from a client, after which its input buffer holds
    /// `buffered` bytes (for `client_recent_max_input_buffer`).
    pub fn count_read(&self, bytes: u64, buffered: u64) {
        let traffic = &self.traffic;
        traffic.reads.fetch_add(1, Ordering::Relaxed);
        traffic.input_bytes.fetch_add(bytes, Ordering::Relaxed);
        raise(&traffic.input_peak, buffered);
    }

    /// Counts one write of `bytes` of replies to a client.
    pub fn count_write(&self, bytes: u64) {
        let traffic = &self.traffic;
        traffic.writes.fetch_add(1, Ordering::Relaxed);
        traffic.output_bytes.fetch_add(bytes, Ordering::Relaxed);
        raise(&traffic.output_peak, bytes);
    }

    /// Counts one error reply (`ERR ...`, `WRONGTYPE ...`) under its code.
    pub fn count_error(&self, message: &str) {
        let code = error_code(message);
        let mut errors = self.errors.lock();
        errors.total += 1;
        let known = errors.by_code.len();
        match errors.by_code.get_mut(code) {
            Some(count) => *count += 1,
            None if known < MAX_ERROR_CODES => {
                errors.by_code.insert(code.to_string(), 1);
            }
            None => {}
        }
    }

    /// Counts one accepted connection.
    pub fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one connection refused because of `maxclients`.
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Commands executed since start (or CONFIG RESETSTAT).
    pub fn commands(&self) -> u64 {
        self.traffic.commands.load(Ordering::Relaxed)
    }

    /// Connections accepted since start (or CONFIG RESETSTAT).
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections refused since start (or CONFIG RESETSTAT).
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Reads from clients since start (or CONFIG RESETSTAT).
    pub fn reads(&self) -> u64 {
        self.traffic.reads.load(Ordering::Relaxed)
    }

    /// Writes to clients since start (or CONFIG RESETSTAT).
    pub fn writes(&self) -> u64 {
        self.traffic.writes.load(Ordering::Relaxed)
    }

    /// Bytes read from clients since start (or CONFIG RESETSTAT).
    pub fn input_bytes(&self) -> u64 {
        self.traffic.input_bytes.load(Ordering::Relaxed)
    }

    /// Bytes written to clients since start (or CONFIG RESETSTAT).
    pub fn output_bytes(&self) -> u64 {
        self.traffic.output_bytes.load(Ordering::Relaxed)
    }

    /// Error replies since start (or CONFIG RESETSTAT).
    pub fn error_replies(&self) -> u64 {
        self.errors.lock().total
    }

    /// Error replies by code, in code order.
    pub fn errors_by_code(&self) -> Vec<(String, u64)> {
        let errors = self.errors.lock();
        errors
            .by_code
            .iter()
            .map(|(code, count)| (code.clone(), *count))
            .collect()
    }

    /// The rates since the previous sample, taking a new sample when the last one is at least
    /// [`MIN_SAMPLE`] old (otherwise the rates the last sample gave).
    pub fn rates(&self) -> Rates {
        let now = self.sample();
        let mut sampler = self.rates.lock();
        let elapsed = now.at.duration_since(sampler.last.at);
        if elapsed >= MIN_SAMPLE {
            sampler.rates = rates_between(&sampler.last, &now);
            sampler.last = now;
        }
        sampler.rates
    }

    /// The largest client buffers of the current and the previous peak window; the window
    /// turns when it is at least [`PEAK_WINDOW`] old.
    pub fn buffer_peaks(&self) -> BufferPeaks {
        let traffic = &self.traffic;
        let mut window = self.peaks.lock();
        if window.turned_at.elapsed() >= PEAK_WINDOW {
            window.input = traffic.input_peak.swap(0, Ordering::Relaxed);
            window.output = traffic.output_peak.swap(0, Ordering::Relaxed);
            window.turned_at = Instant::now();
        }
        BufferPeaks {
            input: window.input.max(traffic.input_peak.load(Ordering::Relaxed)),
            output: window
                .output
                .max(traffic.output_peak.load(Ordering::Relaxed)),
        }
    }

    /// Bytes allocated at start-up (INFO `used_memory_startup`).
    pub fn startup_memory(&self) -> u64 {
        self.startup_memory
    }

    /// Takes in a reading of the bytes allocated; the highest seen so far
    /// (`used_memory_peak`).
    pub fn note_memory(&self, allocated: u64) -> u64 {
        self.peak_memory
            .fetch_max(allocated, Ordering::Relaxed)
            .max(allocated)
    }

    /// CPU milliseconds the expiry driver used since start (or CONFIG RESETSTAT).
    pub fn expiry_cpu_ms(&self) -> u64 {
        let base = self.expiry_cpu_base.load(Ordering::Relaxed);
        thread_cpu_ms(EXPIRY_THREAD).saturating_sub(base)
    }

    /// Zeroes the counters and restarts the samples (CONFIG RESETSTAT).
    pub fn reset(&self) {
        let traffic = &self.traffic;
        for counter in [
            &traffic.commands,
            &traffic.reads,
            &traffic.input_bytes,
            &traffic.writes,
            &traffic.output_bytes,
            &traffic.input_peak,
            &traffic.output_peak,
            &self.connections,
            &self.rejected,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        *self.errors.lock() = ErrorCounts::default();
        let now = self.sample();
        *self.rates.lock() = RateSampler {
            last: now,
            rates: Rates::default(),
        };
        let mut window = self.peaks.lock();
        (window.input, window.output, window.turned_at) = (0, 0, now.at);
        self.expiry_cpu_base
            .store(thread_cpu_ms(EXPIRY_THREAD), Ordering::Relaxed);
    }

    /// The totals now.
    fn sample(&self) -> Sample {
        Sample {
            at: Instant::now(),
            commands: self.commands(),
            input_bytes: self.input_bytes(),
            output_bytes: self.output_bytes(),
        }
    }
}

/// Raises `peak` to `value`; a load first, so the usual case (no new peak) writes nothing.
fn raise(peak: &AtomicU64, value: u64) {
    if value > peak.load(Ordering::Relaxed) {
        peak.fetch_max(value, Ordering::Relaxed);
    }
}

/// The rates from sample `from` to sample `to`.
fn rates_between(from: &Sample, to: &Sample) -> Rates {
    let seconds = to
        .at
        .duration_since(from.at)
        .as_secs_f64()
        .max(f64::EPSILON);
    let per_second = |from: u64, to: u64| to.saturating_sub(from) as f64 / seconds;
    Rates {
        ops_per_sec: per_second(from.commands, to.commands).round() as u64,
        input_kbps: per_second(from.input_bytes, to.input_bytes) / 1024.0,
        output_kbps: per_second(from.output_bytes, to.output_bytes) / 1024.0,
    }
}

/// The code an error reply is counted under, as Redis takes it: the message up to its first
/// space within 32 bytes, else `ERR`.
fn error_code(message: &str) -> &str {
    let head = &message.as_bytes()[..message.len().min(32)];
    match head.iter().position(|&byte| byte == b' ') {
        Some(end) => &message[..end],
        None => "ERR",
    }
}

/// Resident set size of this process, from /proc (0 where unavailable): INFO's
/// `used_memory_rss` and the resident memory metric.
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Physical memory of the machine, from /proc/meminfo (0 where unavailable): INFO's
/// `total_system_memory`.
pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// The system as `uname -srm` names it (`Linux 6.1.0 x86_64`), INFO's `os`; the bare OS
/// name where /proc does not tell the kernel.
pub fn os_description() -> String {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
            .map(|text| text.trim().to_string())
            .ok()
    };
    match (read("ostype"), read("osrelease")) {
        (Some(system), Some(release)) => {
            format!("{system} {release} {}", std::env::consts::ARCH)
        }
        _ => std::env::consts::OS.to_string(),
    }
}

/// CPU seconds used, as INFO's `cpu` section reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// In the kernel, by this process.
    pub system: f64,
    /// In user space, by this process.
    pub user: f64,
    /// In the kernel, by waited-for children.
    pub children_system: f64,
    /// In user space, by waited-for children.
    pub children_user: f64,
}

/// This process's CPU times, from /proc/self/stat (zeros where unavailable).
pub fn process_cpu() -> CpuTimes {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .map(|stat| stat_ticks(&stat))
        .unwrap_or_default();
    let seconds = |index: usize| ticks.get(index).map_or(0.0, |&t| t as f64 / USER_HZ);
    CpuTimes {
        user: seconds(0),
        system: seconds(1),
        children_user: seconds(2),
        children_system: seconds(3),
    }
}

/// utime, stime, cutime and cstime (fields 14 to 17) of a /proc `stat` line, in ticks. They
/// are counted after the command name, which is in parentheses and may hold spaces.
fn stat_ticks(stat: &str) -> Vec<u64> {
    let Some((_, after_name)) = stat.rsplit_once(')') else {
        return Vec::new();
    };
    after_name
        .split_whitespace()
        .skip(11)
        .take(4)
        .map_while(|field| field.parse().ok())
        .collect()
}

/// CPU milliseconds (user and system) of this process's threads named `name` (0 when none).
fn thread_cpu_ms(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let ticks: u64 = tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .map(|stat| stat_ticks(&stat).iter().take(2).sum::<u64>())
        .sum();
    (ticks as f64 * 1000.0 / USER_HZ) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_the_first_word_or_err() {
        assert_eq!(error_code("ERR unknown command"), "ERR");
        assert_eq!(error_code("WRONGTYPE Operation against a key"), "WRONGTYPE");
        assert_eq!(error_code("NOSPACEHERE"), "ERR");
        assert_eq!(error_code(&format!("{} x", "A".repeat(40))), "ERR");
    }

    #[test]
    fn stat_ticks_skip_a_command_name_with_spaces() {
        let stat = "42 (a b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16";
        assert_eq!(stat_ticks(stat), vec![11, 12, 13, 14]);
    }

    #[test]
    fn rates_divide_by_the_time_between_samples() {
        let at = Instant::now();
        let from = Sample {
            at,
            commands: 100,
            input_bytes: 0,
            output_bytes: 2048,
        };
        let to = Sample {
            at: at + Duration::from_secs(2),
            commands: 300,
            input_bytes: 4096,
            output_bytes: 2048,
        };
        let rates = rates_between(&from, &to);
        assert_eq!(rates.ops_per_sec, 100);
        assert_eq!(rates.input_kbps, 2.0);
        assert_eq!(rates.output_kbps, 0.0);
    }

    #[test]
    fn errors_count_by_code_up_to_the_limit() {
        let stats = Stats::default();
        stats.count_error("ERR a");
        stats.count_error("ERR b");
        stats.count_error("WRONGTYPE c");
        for code in 0..MAX_ERROR_CODES + 10 {
            stats.count_error(&format!("E{code} x"));
        }
        assert_eq!(stats.error_replies(), 3 + MAX_ERROR_CODES as u64 + 10);
        let by_code = stats.errors_by_code();
        assert_eq!(by_code.len(), MAX_ERROR_CODES);
        assert!(by_code.contains(&("ERR".to_string(), 2)));
    }

    #[test]
    fn buffer_peaks_keep_the_largest_batch() {
        let stats = Stats::default();
        stats.count_read(10, 100);
        stats.count_read(10, 40);
        stats.count_write(7);
        assert_eq!(
            stats.buffer_peaks(),
            BufferPeaks {
                input: 100,
                output: 7
            }
        );
        stats.reset();
        assert_eq!(stats.buffer_peaks(), BufferPeaks::default());
        assert_eq!((stats.reads(), stats.input_bytes()), (0, 0));
    }
}
