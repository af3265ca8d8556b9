//! `pidscope audit --format prometheus`, checked by a real parser of the text format.

mod common;

use std::fs;
use std::io::BufRead;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use prometheus_parse::{Scrape, Value};

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.as_bytes().lines())
        .unwrap_or_else(|e| panic!("not the text format ({e}): {text}"))
}

fn gauge(scrape: &Scrape, metric: &str, label: Option<(&str, &str)>) -> Vec<f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{metric} is not a gauge: {other:?}"),
        })
        .collect()
}

#[test]
fn metrics_carry_the_counts_of_a_known_scenario() {
    let dir = tempdir();
    let live = spawn_sleep();
    write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", live.pid()));
    let stale = write_pidfile(
        dir.path(),
        "a \"quoted\" name.pid",
        &format!("{}\n", dead_pid()),
    );
    write_pidfile(dir.path(), "b.pid", &format!("{}\n", dead_pid()));
    write_pidfile(dir.path(), "bad.pid", "abc\n");
    let out = run(bin()
        .args(["audit", "--format", "prometheus"])
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let scrape = parse(&text);
    let count = |status| gauge(&scrape, "pidscope_pidfiles", Some(("status", status)));
    assert_eq!(count("alive"), vec![1.0]);
    assert_eq!(count("stale"), vec![2.0]);
    assert_eq!(count("invalid"), vec![1.0]);
    assert_eq!(count("zombie"), vec![0.0]);
    // One info series per problem pidfile, none for the alive one.
    let info: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "pidscope_pidfile_info")
        .collect();
    assert_eq!(info.len(), 3, "{text}");
    // The parser hands label values back as written, escapes included.
    let escaped = stale.to_str().unwrap().replace('"', "\\\"");
    let quoted = info
        .iter()
        .find(|s| s.labels.get("path") == Some(escaped.as_str()))
        .unwrap_or_else(|| panic!("escaped path label missing: {text}"));
    assert_eq!(quoted.labels.get("status"), Some("stale"));
    assert!(quoted.labels.get("pid").unwrap().parse::<i32>().is_ok());
    assert_eq!(gauge(&scrape, "pidscope_scan_errors", None), vec![0.0]);
    assert!(gauge(&scrape, "pidscope_scan_duration_seconds", None)[0] >= 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = gauge(&scrape, "pidscope_last_scan_timestamp_seconds", None)[0];
    assert!((now - last).abs() < 60.0, "{last} vs {now}");
    for name in [
        "pidscope_pidfiles",
        "pidscope_pidfile_info",
        "pidscope_scan_errors",
    ] {
        assert!(scrape.docs.contains_key(name), "HELP for {name}");
    }
}

#[test]
fn output_replaces_the_file_atomically() {
    let dir = tempdir();
    let roots = tempdir();
    for i in 0..200 {
        write_pidfile(
            roots.path(),
            &format!("p{i}.pid"),
            &format!("{}\n", dead_pid()),
        );
    }
    let prom = dir.path().join("pidscope.prom");
    fs::write(&prom, "# an old complete file\npidscope_scan_errors 0\n").unwrap();
    // A reader polls the file while it is rewritten again and again: every read is whole.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, prom) = (stop.clone(), prom.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = fs::read_to_string(&prom).expect("the file always exists");
                assert!(
                    text.ends_with('\n'),
                    "a half-written file was seen: {} bytes",
                    text.len()
                );
                parse(&text);
                reads += 1;
            }
            reads
        })
    };
    for _ in 0..30 {
        let status = run(bin()
            .args(["audit", "--format", "prometheus", "--output"])
            .arg(&prom)
            .arg(roots.path()))
        .status;
        assert_eq!(status.code(), Some(1), "stale pidfiles are problems");
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("reader saw only whole files");
    assert!(reads > 0);
    let scrape = parse(&fs::read_to_string(&prom).unwrap());
    assert_eq!(
        gauge(&scrape, "pidscope_pidfiles", Some(("status", "stale"))),
        vec![200.0]
    );
    // No temporary files are left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("pidscope.prom")]);
    // An unwritable destination is a one-line error and exit 1.
    let out = run(Command::new(env!("CARGO_BIN_EXE_pidscope"))
        .env("PIDSCOPE_CONFIG", "/dev/null")
        .args([
            "audit",
            "--format",
            "prometheus",
            "--output",
            "/proc/version/x.prom",
        ])
        .arg(roots.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("/proc/version/x.prom: cannot write the report")
    );
}
