//! The fleet's monitoring files in `deploy/`: promtool accepts the alert rules, and every
//! metric the rules and the Grafana dashboard name is one the kiosk or counter-sync exports
//! (a renamed metric would leave an alert that can never fire).

use kiosk_app::metrics::KioskState;
use madoguchi_tests::harness::{repo_root, Fixture, FixtureOptions};
use std::collections::BTreeSet;

/// The sample names a Prometheus text body can have, from its `# TYPE` lines.
fn exported(body: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in body.lines() {
        let mut f = line.split_whitespace();
        if (f.next(), f.next()) != (Some("#"), Some("TYPE")) {
            continue;
        }
        let (Some(name), Some(kind)) = (f.next(), f.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
    }
    names
}

/// Every `madoguchi_…` metric name in `text`.
fn named(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("madoguchi_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn alert_rules_and_dashboard_name_only_exported_metrics() {
    let rules = repo_root().join("deploy/prometheus/madoguchi-alerts.yml");
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool (Debian package prometheus) is installed by deploy/setup.sh");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    // Families show only once they have a sample: one of each.
    let kiosk = KioskState::new(fx.config.sync.outbox.path.clone());
    kiosk.session_ended(kiosk_app::session::Screen::Done);
    let mut metrics = exported(&kiosk.render());
    // An outbox to read, so that the per-municipality gauges have samples.
    counter_core::outbox::Outbox::open(&fx.config.sync.outbox.path).unwrap();
    let sync = counter_sync::metrics::Metrics::new(&fx.config.sync).unwrap();
    let second = std::time::Duration::from_secs(1);
    sync.request("113263", "delivered", second);
    sync.delivered("113263", second);
    sync.worker_restarted("113263");
    metrics.extend(exported(&sync.render()));
    assert!(
        metrics.contains("madoguchi_kiosk_printer_paper_out"),
        "{metrics:?}"
    );

    let dashboard = repo_root().join("deploy/grafana/madoguchi-dashboard.json");
    let dashboard_text = std::fs::read_to_string(&dashboard).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard_text).unwrap();
    assert!(json["panels"].as_array().unwrap().len() >= 10);
    for file in [rules, dashboard] {
        let text = std::fs::read_to_string(&file).unwrap();
        let unknown: Vec<_> = named(&text).difference(&metrics).cloned().collect();
        assert!(
            unknown.is_empty(),
            "{} names metrics nobody exports: {unknown:?}",
            file.display()
        );
    }
}
