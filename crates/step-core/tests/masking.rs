//! The masking property, through the public API a step uses (`Cmd::run`
//! streaming into an `EventSink`): random secrets × every encoding × random
//! split points across the child's writes. The encodings are written here
//! independently of the masker's own list, so a form it forgets fails.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use step_core::event::MemoryListener;
use step_core::process::Cmd;
use step_core::{Cancel, Env, EventKind, EventSink, StepContext};

/// A small deterministic generator (xorshift), seeded per run so a failure
/// prints the seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[char] = &[
    'a', 'b', 'Z', 'q', '0', '7', ' ', '&', '<', '>', '\'', '"', '/', '+', '=', '?', '%', ':', '@',
    '\\', '#', '$', '!', '~', '_', '.', '-', 'é', '€',
];

fn random_secret(rng: &mut Rng) -> String {
    let len = 8 + rng.below(17);
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())])
        .collect()
}

/// `urllib.parse.quote(s, safe)`; `quote_plus` when `plus`.
fn quote(s: &str, safe: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "_.-~".contains(c) || (b < 128 && safe.contains(c)) {
            out.push(c);
        } else if plus && c == ' ' {
            out.push('+');
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

fn json_inner(s: &str) -> String {
    let j = serde_json::to_string(s).expect("a string encodes");
    j[1..j.len() - 1].to_string()
}

/// Every encoding a secret is promised to be masked in.
fn encodings(s: &str) -> Vec<(&'static str, String)> {
    let json = json_inner(s);
    let mut tojson = String::new();
    for c in json.chars() {
        match c {
            '&' | '<' | '>' | '\'' => tojson += &format!("\\u{:04x}", c as u32),
            c => tojson.push(c),
        }
    }
    vec![
        ("raw", s.to_string()),
        ("base64", STANDARD.encode(s)),
        (
            "base64-nopad",
            STANDARD.encode(s).trim_end_matches('=').into(),
        ),
        ("base64-url", URL_SAFE.encode(s)),
        ("base64-echo", STANDARD.encode(format!("{s}\n"))),
        ("quote", quote(s, "/", false)),
        ("quote-safe-none", quote(s, "", false)),
        ("quote_plus", quote(s, "", true)),
        ("json", json),
        ("tojson", tojson),
        ("shell", format!("'{}'", s.replace('\'', r"'\''"))),
    ]
}

fn context() -> (StepContext, MemoryListener, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = EventSink::new();
    let mem = MemoryListener::new();
    sink.add_listener(Box::new(mem.clone()));
    let cx = StepContext::new(
        dir.path().to_path_buf(),
        Env::from_process(),
        sink,
        Cancel::new(),
    );
    (cx, mem, dir)
}

/// Writes `lines` as chunk files cut at random points; the child prints
/// them one `cat` at a time with a pause between, so the reader sees the
/// pieces in separate reads.
fn write_chunks(dir: &std::path::Path, lines: &[String], rng: &mut Rng) -> std::path::PathBuf {
    let chunks = dir.join("chunks");
    std::fs::create_dir_all(&chunks).expect("chunk dir");
    let mut n = 0;
    for line in lines {
        let bytes = format!("{line}\n").into_bytes();
        let mut cuts: Vec<usize> = (0..1 + rng.below(3))
            .map(|_| 1 + rng.below(bytes.len() - 1))
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut start = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            std::fs::write(chunks.join(format!("{n:06}")), &bytes[start..cut]).expect("chunk");
            start = cut;
            n += 1;
        }
    }
    chunks
}

#[tokio::test]
async fn every_encoding_of_random_secrets_is_masked_across_random_splits() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rng = Rng(seed);
    let (cx, mem, dir) = context();
    let secrets: Vec<String> = (0..6).map(|_| random_secret(&mut rng)).collect();
    cx.events().add_secrets(secrets.iter());
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for (i, s) in secrets.iter().enumerate() {
        for (name, form) in encodings(s) {
            lines.push(format!("{i}-{name}: <{form}>"));
            // The quotes around a shell-quoted value stay; what they hold goes.
            let mask = if name == "shell" { "'***'" } else { "***" };
            expected.push(Some(format!("{i}-{name}: <{mask}>")));
        }
        // Inside a longer base64 text, at every alignment.
        for pre in ["", "u", "us", "user:"] {
            for engine in [&STANDARD, &URL_SAFE] {
                lines.push(format!(
                    "{i}-embedded: {}",
                    engine.encode(format!("{pre}{s}!"))
                ));
                expected.push(None);
            }
        }
    }
    let chunks = write_chunks(dir.path(), &lines, &mut rng);
    let out = Cmd::new("bash")
        .args([
            "-c",
            "for f in \"$1\"/*; do cat \"$f\"; sleep 0.002; done",
            "print",
        ])
        .arg(&chunks)
        .timeout(Duration::from_secs(60))
        .run(&cx)
        .await
        .expect("runs");
    assert!(out.success());
    let got: Vec<String> = mem
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Output { line, .. } => Some(line),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), lines.len(), "seed {seed}: {got:#?}");
    for (line, want) in got.iter().zip(&expected) {
        let Some(want) = want else {
            let rest = line.split_once(": ").map(|(_, r)| r).unwrap_or("");
            // At most the characters that mix in the neighbouring bytes stay.
            assert!(
                rest.contains("***") && rest.len() <= 3 + 8 + 8,
                "seed {seed}: embedded base64 not masked: {line}"
            );
            continue;
        };
        assert_eq!(line, want, "seed {seed}: secrets {secrets:?}");
    }
}
