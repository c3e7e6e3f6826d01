//! A namespace's session policy: caps, timeouts, recovery window and size limit.

use std::sync::atomic::{AtomicU64, Ordering, fence};

use parking_lot::Mutex;

use crate::config::{
    NamespaceOptionError, OnLimit, PolicySetting, parse_memory, parse_namespace_option,
};

/// How sessions of one namespace behave; changed by `namespace` directives and
/// `SESSION.NAMESPACE CREATE|CONFIG`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Most active sessions one user may hold; 0 = no cap.
    pub max_sessions_per_user: u64,
    /// What CREATE does over the cap.
    pub on_limit: OnLimit,
    /// Idle timeout in milliseconds (a session not used this long expires).
    pub idle_timeout_ms: u64,
    /// Lifetime from creation in milliseconds; 0 = none.
    pub absolute_timeout_ms: u64,
    /// How long an ended session stays recoverable, in milliseconds; 0 = not at all.
    pub recovery_window_ms: u64,
    /// Largest packed size of a session's data.
    pub max_session_bytes: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_sessions_per_user: 0,
            on_limit: OnLimit::EvictOldest,
            idle_timeout_ms: 1800 * 1000,
            absolute_timeout_ms: 86400 * 1000,
            recovery_window_ms: 3600 * 1000,
            max_session_bytes: parse_memory("1mb").unwrap_or(1 << 20),
        }
    }
}

impl Policy {
    /// Sets one option from its name (lower-case) and value as written.
    pub fn set(&mut self, option: &str, value: &str) -> Result<(), NamespaceOptionError> {
        match parse_namespace_option(option, value)? {
            PolicySetting::MaxSessionsPerUser(n) => self.max_sessions_per_user = n,
            PolicySetting::OnLimit(on_limit) => self.on_limit = on_limit,
            PolicySetting::IdleTimeout(s) => self.idle_timeout_ms = s * 1000,
            PolicySetting::AbsoluteTimeout(s) => self.absolute_timeout_ms = s * 1000,
            PolicySetting::RecoveryWindow(s) => self.recovery_window_ms = s * 1000,
            PolicySetting::MaxSessionBytes(n) => self.max_session_bytes = n,
        }
        Ok(())
    }

    /// Every option with its current value, as `SESSION.NAMESPACE INFO` shows them.
    pub fn options(&self) -> [(&'static str, String); 6] {
        let on_limit = match self.on_limit {
            OnLimit::EvictOldest => "evict-oldest",
            OnLimit::Reject => "reject",
        };
        [
            (
                "max-sessions-per-user",
                self.max_sessions_per_user.to_string(),
            ),
            ("on-limit", on_limit.to_string()),
            ("idle-timeout", (self.idle_timeout_ms / 1000).to_string()),
            (
                "absolute-timeout",
                (self.absolute_timeout_ms / 1000).to_string(),
            ),
            (
                "recovery-window",
                (self.recovery_window_ms / 1000).to_string(),
            ),
            ("max-session-bytes", self.max_session_bytes.to_string()),
        ]
    }
}

/// The policy of a namespace as every SESSION command reads it: a seqlock over atomics, so
/// reading costs a few loads and never writes a shared cache line, and a reader never sees
/// half of an update.
#[derive(Debug)]
pub struct SharedPolicy {
    /// Odd while an update is being written.
    sequence: AtomicU64,
    fields: [AtomicU64; 6],
    writer: Mutex<()>,
}

impl SharedPolicy {
    /// Holds `policy`.
    pub fn new(policy: Policy) -> Self {
        SharedPolicy {
            sequence: AtomicU64::new(0),
            fields: policy.to_words().map(AtomicU64::new),
            writer: Mutex::new(()),
        }
    }

    /// The policy in force.
    pub fn load(&self) -> Policy {
        loop {
            let before = self.sequence.load(Ordering::Acquire);
            let words = self.fields.each_ref().map(|f| f.load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if before.is_multiple_of(2) && self.sequence.load(Ordering::Relaxed) == before {
                return Policy::from_words(words);
            }
            std::hint::spin_loop();
        }
    }

    /// Changes the policy; `change` may refuse by returning an error, leaving it as it was.
    pub fn update<E>(&self, change: impl FnOnce(&mut Policy) -> Result<(), E>) -> Result<(), E> {
        self.update_then(change, |_| {})
    }

    /// [`SharedPolicy::update`], then `stored` with the new policy once every reader sees
    /// it, before another update can begin (the journal logs it there, so a rewrite that
    /// reads the policy after the record was logged reads this one).
    pub fn update_then<E>(
        &self,
        change: impl FnOnce(&mut Policy) -> Result<(), E>,
        stored: impl FnOnce(&Policy),
    ) -> Result<(), E> {
        let _writer = self.writer.lock();
        let mut policy = self.load();
        change(&mut policy)?;
        self.sequence.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        for (field, word) in self.fields.iter().zip(policy.to_words()) {
            field.store(word, Ordering::Relaxed);
        }
        self.sequence.fetch_add(1, Ordering::Release);
        stored(&policy);
        Ok(())
    }
}

impl Policy {
    fn to_words(self) -> [u64; 6] {
        [
            self.max_sessions_per_user,
            matches!(self.on_limit, OnLimit::Reject).into(),
            self.idle_timeout_ms,
            self.absolute_timeout_ms,
            self.recovery_window_ms,
            self.max_session_bytes,
        ]
    }

    fn from_words(words: [u64; 6]) -> Policy {
        Policy {
            max_sessions_per_user: words[0],
            on_limit: if words[1] == 1 {
                OnLimit::Reject
            } else {
                OnLimit::EvictOldest
            },
            idle_timeout_ms: words[2],
            absolute_timeout_ms: words[3],
            recovery_window_ms: words[4],
            max_session_bytes: words[5],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let policy = Policy::default();
        assert_eq!(policy.idle_timeout_ms, 1_800_000);
        assert_eq!(policy.absolute_timeout_ms, 86_400_000);
        assert_eq!(policy.recovery_window_ms, 3_600_000);
        assert_eq!(policy.max_session_bytes, 1 << 20);
        assert_eq!(policy.max_sessions_per_user, 0);
        assert_eq!(policy.on_limit, OnLimit::EvictOldest);
    }

    #[test]
    fn set_parses_and_options_round_trip() {
        let mut policy = Policy::default();
        policy.set("idle-timeout", "60").unwrap();
        policy.set("on-limit", "reject").unwrap();
        policy.set("max-session-bytes", "2kb").unwrap();
        assert_eq!(policy.idle_timeout_ms, 60_000);
        assert_eq!(policy.max_session_bytes, 2048);
        let mut copy = Policy::default();
        for (option, value) in policy.options() {
            copy.set(option, &value).unwrap();
        }
        assert_eq!(copy, policy);
        assert!(policy.set("idle-timeout", "-1").is_err());
        let shared = SharedPolicy::new(Policy::default());
        shared.update(|p| p.set("on-limit", "reject")).unwrap();
        assert!(shared.update(|p| p.set("idle-timeout", "x")).is_err());
        assert_eq!(shared.load().on_limit, OnLimit::Reject);
        assert_eq!(shared.load().idle_timeout_ms, 1_800_000);
        assert!(policy.set("colour", "blue").is_err());
    }
}
