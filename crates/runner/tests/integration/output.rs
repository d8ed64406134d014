//! Child output on its way to the terminal: a quiet step's partial last
//! line shows promptly, and a single huge line keeps memory flat and its
//! secrets masked.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use super::*;

/// The runner with only what the test sets in its environment, so no
/// secret-looking variable of the machine running the tests takes part.
fn clean_cmd(w: &Work, args: &[&str]) -> Command {
    let mut c = w.cmd(args);
    c.env_clear()
        .env("CI", "true")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.path());
    c
}

#[test]
fn a_last_line_without_newline_shows_within_half_a_second_while_the_step_sleeps() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: quiet
        code: |
          printf 'almost done, no newline'
          sleep 5
"#,
    );
    let mut child = clean_cmd(&w, &["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    let started = wait_line(&rx, "==> quiet (script)");
    let shown = wait_line(&rx, "quiet | almost done, no newline");
    let _ = child.kill();
    let _ = child.wait();
    let (started, shown) = (started.unwrap(), shown.unwrap());
    let late = shown.duration_since(started);
    assert!(
        late < Duration::from_millis(500),
        "the line showed {late:?} after the step started"
    );
}

/// When a line equal to `want` arrived (waits up to 10 s).
fn wait_line(rx: &mpsc::Receiver<(Instant, String)>, want: &str) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok((at, line)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line == want {
            return Some(at);
        }
    }
    None
}

#[test]
fn a_100_mb_line_is_masked_and_memory_stays_flat() {
    let w = Work::new(
        r#"
secrets: [HUGE_TOKEN]
build:
  steps:
    - script:
        name: huge
        code: |
          for i in $(seq 100); do
            head -c 1048560 /dev/zero | tr '\0' x
            printf '%s' "$HUGE_TOKEN"
          done
          echo
"#,
    );
    let secret = "tok-0123456789a"; // 15 bytes: 1048560 + 15 straddles every MiB
    let out = std::fs::File::create(w.file("out.txt")).unwrap();
    let mut child = clean_cmd(&w, &["run"])
        .env("HUGE_TOKEN", secret)
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The peak resident size of the runner, read until it exits.
    let mut peak_kb = 0u64;
    while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    // Counted by grep: 100 MB is slow to scan in a debug build of the test.
    let count = |pattern: &str| -> usize {
        let out = Command::new("grep")
            .args(["-o", "-F", pattern])
            .arg(w.file("out.txt"))
            .output()
            .unwrap();
        out.stdout.iter().filter(|b| **b == b'\n').count()
    };
    assert_eq!(count(secret), 0, "the secret leaked");
    assert_eq!(count("***"), 100, "one *** per occurrence");
    let shown = std::fs::metadata(w.file("out.txt")).unwrap().len();
    assert!(shown > 100 * 1_048_560, "{shown} bytes shown");
    // 100 MB went through; the runner held a few hundred KiB of it at most.
    assert!(peak_kb > 0 && peak_kb < 64 * 1024, "peak RSS {peak_kb} kB");
}
