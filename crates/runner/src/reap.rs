//! Process groups a run's steps started, and how `runner cleanup` ends the
//! ones a dead run left behind: SIGTERM to every group still alive, a grace
//! period, then SIGKILL.
//!
//! A recorded group is matched by process group id, session id and start
//! time, so a group id the kernel has handed to an unrelated process since
//! is never signalled.

use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};

/// A process group as recorded in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessGroup {
    /// Its id (the pid of its first process).
    pub pgid: u32,
    /// The session it belongs to.
    pub sid: u32,
    /// The start time of its first process (clock ticks since boot).
    pub started: u64,
    /// A tool that loses state when killed (terraform): `runner cleanup`
    /// waits for it to finish before ending anything.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outlives_runner: bool,
}

/// Now, in the unit of `/proc/PID/stat`'s start time (clock ticks since
/// boot), rounded down: a process started after this call has a start
/// time at least this.
pub fn ticks_since_boot() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let hz = rustix::param::clock_ticks_per_second();
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs * hz + nanos * hz / 1_000_000_000
}

/// The fields of `/proc/PID/stat` we use: state, pgrp, session, starttime.
fn stat_of(pid: &str) -> Option<(char, u32, u32, u64)> {
    use std::io::Read;
    // One read: the line is far shorter than the buffer (read_to_string
    // would grow its buffer read by read, five reads per process scanned).
    let mut buf = [0u8; 1024];
    let n = std::fs::File::open(format!("/proc/{pid}/stat"))
        .and_then(|mut f| f.read(&mut buf))
        .ok()?;
    let text = std::str::from_utf8(buf.get(..n)?).ok()?;
    let rest = text.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    Some((
        state,
        fields.get(2)?.parse().ok()?,
        fields.get(3)?.parse().ok()?,
        fields.get(19)?.parse().ok()?,
    ))
}

impl ProcessGroup {
    /// A group this process has just started (its leader is our child, so
    /// it shares our session), without reading `/proc`. Its start time is
    /// a lower bound: a second before now is safe for a group reported right
    /// after its spawn (no member is older than its leader).
    pub fn started_by_us(pgid: u32) -> ProcessGroup {
        static SID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        // The session as `/proc` shows it, which is what `members` compares
        // against. Not `getsid`: it returns 0 when the session leader is
        // outside our PID namespace (a container started from a shell), and
        // rustix's `getsid` assumes a non-zero pid.
        let sid = *SID.get_or_init(|| stat_of("self").map_or(0, |(_, _, sid, _)| sid));
        ProcessGroup {
            pgid,
            sid,
            started: ticks_since_boot().saturating_sub(rustix::param::clock_ticks_per_second()),
            outlives_runner: false,
        }
    }

    /// The live processes of this group (zombies do not count).
    pub fn members(&self) -> Vec<u32> {
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        rd.filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                stat_of(&pid.to_string()).is_some_and(|(state, pgrp, sid, started)| {
                    state != 'Z' && pgrp == self.pgid && sid == self.sid && started >= self.started
                })
            })
            .collect()
    }

    fn signal(&self, signal: Signal) {
        if let Some(pid) = i32::try_from(self.pgid).ok().and_then(Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pid, signal);
        }
    }
}

/// Waits up to `limit` for the groups marked `outlives_runner` (terraform
/// finishing and saving its state) to exit on their own. Returns how many
/// were still running when the wait began.
pub async fn wait_for_survivors(groups: &[ProcessGroup], limit: Duration) -> usize {
    let waiting: Vec<&ProcessGroup> = groups
        .iter()
        .filter(|g| g.outlives_runner && !g.members().is_empty())
        .collect();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && waiting.iter().any(|g| !g.members().is_empty()) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    waiting.len()
}

/// Ends the groups that still have live members: SIGTERM, up to `grace`
/// for them to go, then SIGKILL. Returns how many groups were ended.
pub async fn end_groups(groups: &[ProcessGroup], grace: Duration) -> usize {
    let live: Vec<&ProcessGroup> = groups.iter().filter(|g| !g.members().is_empty()).collect();
    for g in &live {
        g.signal(Signal::TERM);
        // A stopped process acts on SIGTERM only once continued.
        g.signal(Signal::CONT);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && live.iter().any(|g| !g.members().is_empty()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for g in &live {
        if !g.members().is_empty() {
            g.signal(Signal::KILL);
        }
    }
    live.len()
}
