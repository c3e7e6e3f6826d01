//! The open-file limit (`RLIMIT_NOFILE`) and `maxclients`, as Redis reconciles them.
//!
//! Every client is a socket, and the server needs a few more descriptors of its own
//! (listeners, AOF files, the metrics endpoint, the runtime's). At start-up, and when
//! `CONFIG SET maxclients` raises it, the soft limit is raised toward `maxclients` +
//! [`RESERVED_FDS`], never above the hard limit; where that is not enough, the server takes
//! as many clients as fit and says so in Redis's words.

use std::io;

/// Descriptors kept for the server itself besides one per client (Redis's
/// `CONFIG_MIN_RESERVED_FDS`).
pub const RESERVED_FDS: u64 = 32;

/// The soft limit is too low for even one client: the server cannot start.
#[derive(Debug, thiserror::Error)]
#[error(
    "Your current 'ulimit -n' of {soft} is not enough for the server to start. Please \
     increase your open file limit to at least {needed}."
)]
pub struct TooFewFiles {
    /// The soft limit.
    pub soft: u64,
    /// What `maxclients` needs.
    pub needed: u64,
}

/// How many of `maxclients` clients the open-file limit holds, after raising the soft limit
/// as far as `maxclients` needs and the hard limit allows: `maxclients` itself, or fewer,
/// logged as Redis logs it.
pub fn fit_clients(maxclients: usize) -> Result<usize, TooFewFiles> {
    let needed = (maxclients as u64).saturating_add(RESERVED_FDS);
    let (soft, hard) = match nofile() {
        Ok(limits) => limits,
        Err(error) => {
            tracing::warn!(
                "Unable to obtain the current NOFILE limit ({error}), assuming 1024 and \
                 setting the max clients configuration accordingly."
            );
            return Ok(maxclients.min((1024 - RESERVED_FDS) as usize));
        }
    };
    if soft >= needed {
        return Ok(maxclients);
    }
    let target = needed.min(hard);
    let raised = set_soft_nofile(target, hard);
    let now = if raised.is_ok() { target } else { soft };
    if now >= needed {
        tracing::info!(
            "Increased maximum number of open files to {needed} (it was originally set to \
             {soft})."
        );
        return Ok(maxclients);
    }
    if now <= RESERVED_FDS {
        return Err(TooFewFiles { soft, needed });
    }
    let fits = (now - RESERVED_FDS) as usize;
    let why = match raised {
        Err(error) => format!("because of OS error: {error}"),
        Ok(()) => format!("because the hard limit is {hard}"),
    };
    tracing::warn!(
        "You requested maxclients of {maxclients} requiring at least {needed} max file \
         descriptors."
    );
    tracing::warn!("Server can't set maximum open files to {needed} {why}.");
    tracing::warn!(
        "Current maximum open files is {now}. maxclients has been reduced to {fits} to \
         compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
    );
    Ok(fits)
}

/// The soft and hard `RLIMIT_NOFILE` of this process.
fn nofile() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the call to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Sets the soft `RLIMIT_NOFILE` to `soft`, keeping the hard limit at `hard`.
fn set_soft_nofile(soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid `rlimit` that the call only reads.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
