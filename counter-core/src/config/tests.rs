use super::*;

#[test]
fn check_digit_matches_published_examples() {
    assert!(is_valid_municipality_code("131041")); // 新宿区
    assert!(is_valid_municipality_code("131130")); // 渋谷区
    assert!(is_valid_municipality_code("131016")); // 千代田区
    assert!(is_valid_municipality_code("113263")); // 毛呂山町
    assert!(!is_valid_municipality_code("131017"));
    assert!(!is_valid_municipality_code("13101"));
    assert!(!is_valid_municipality_code("13101a"));
}

#[test]
fn broken_config_names_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, "[kiosk]\nid = 3\n").unwrap();
    let err = SyncConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("kiosk.toml"), "{err}");
    assert!(err.contains("invalid type"), "{err}");
    let err = SyncConfig::load(&dir.path().join("missing.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing.toml") && err.contains("cannot read"),
        "{err}"
    );
}

/// A minimal config with one municipality at `endpoint`.
fn one_municipality(endpoint: &str) -> String {
    format!(
        r#"
        [kiosk]
        id = "K01"
        counter_name = "x"
        [outbox]
        path = "o.db"
        [[municipality]]
        code = "113263"
        name_ja = "毛呂山町"
        name_en = "Moroyama"
        endpoint = "{endpoint}"
        public_key = "k.pem"
        catalogue = "c.toml"
    "#
    )
}

#[test]
fn the_metrics_endpoint_stays_on_loopback_unless_allowed() {
    let p = Path::new("/etc/k.toml");
    let base = one_municipality("http://127.0.0.1:1/").replace(
        "catalogue = \"c.toml\"",
        "catalogue = \"c.toml\"\ntest_destination = true",
    );
    let with = |sync: &str| -> Result<(), ConfigError> {
        let cfg: SyncConfig = parse_config_text(p, &format!("[sync]\n{sync}\n{base}"))?;
        cfg.validate(p)
    };
    with("metrics_listen = \"127.0.0.1:9464\"").unwrap();
    with("metrics_listen = \"[::1]:9464\"").unwrap();
    for open in ["0.0.0.0:9464", "192.168.10.5:9464", "[::]:9464"] {
        let err = with(&format!("metrics_listen = \"{open}\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("metrics_allow_remote"), "{err}");
    }
    with("metrics_listen = \"0.0.0.0:9464\"\nmetrics_allow_remote = true").unwrap();
}

#[test]
fn unknown_keys_and_zero_intervals_are_refused_with_file_and_line() {
    let p = Path::new("/etc/kiosk.toml");
    let base = one_municipality("http://127.0.0.1:1/").replace(
        "catalogue = \"c.toml\"",
        "catalogue = \"c.toml\"\ntest_destination = true",
    );
    let text = format!("[sync]\nbatchsize = 8\n{base}");
    let err = parse_config_text::<SyncConfig>(p, &text)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kiosk.toml") && err.contains("batchsize") && err.contains("line 2"),
        "{err}"
    );
    let text = format!("{base}\n[sink]\nx = 1\n");
    let err = parse_config_text::<SyncConfig>(p, &text)
        .unwrap_err()
        .to_string();
    let line = text.lines().position(|l| l == "[sink]").unwrap() + 1;
    assert!(
        err.contains("`sink`") && err.contains(&format!("line {line}")),
        "{err}"
    );
    // The kiosk's sections are not counter-sync's business, but not unknown either.
    parse_config_text::<SyncConfig>(p, &format!("{base}\n[printer]\nconnection = \"file:/x\"\n"))
        .unwrap();
    for key in [
        "poll_interval_ms",
        "backoff_base_ms",
        "probe_interval_ms",
        "request_timeout_secs",
    ] {
        let cfg: SyncConfig = parse_config_text(p, &format!("[sync]\n{key} = 0\n{base}")).unwrap();
        let err = cfg.validate(p).unwrap_err().to_string();
        assert!(err.contains(&format!("sync.{key} is 0")), "{err}");
    }
}

#[test]
fn plain_http_needs_test_destination() {
    let text = one_municipality("http://127.0.0.1:1/");
    let p = Path::new("/etc/k.toml");
    let cfg: SyncConfig = parse_config_text(p, &text).unwrap();
    let err = cfg.validate(p).unwrap_err().to_string();
    assert!(err.contains("test_destination"), "{err}");
}

#[test]
fn https_needs_the_ca_and_the_client_certificate() {
    let base = one_municipality("https://moroyama.example/");
    let p = Path::new("/etc/k.toml");
    let cfg: SyncConfig = parse_config_text(p, &base).unwrap();
    let err = cfg.validate(p).unwrap_err().to_string();
    assert!(err.contains("`ca`"), "{err}");
    let with_ca = base.replace(
        "catalogue = \"c.toml\"",
        "catalogue = \"c.toml\"\nca = \"ca.pem\"",
    );
    let cfg: SyncConfig = parse_config_text(p, &with_ca).unwrap();
    let err = cfg.validate(p).unwrap_err().to_string();
    assert!(err.contains("[tls]"), "{err}");
    let full = format!("[tls]\nclient_cert = \"c.pem\"\nclient_key = \"k.pem\"\n{with_ca}");
    let cfg: SyncConfig = parse_config_text(p, &full).unwrap();
    cfg.validate(p).unwrap();
    let bad_hours = full.replace(
        "ca = \"ca.pem\"",
        "ca = \"ca.pem\"\nopening_hours = [\"weekdays 9-5\"]",
    );
    let cfg: SyncConfig = parse_config_text(p, &bad_hours).unwrap();
    let err = cfg.validate(p).unwrap_err().to_string();
    assert!(
        err.contains("113263") && err.contains("weekdays 9-5"),
        "{err}"
    );
}
