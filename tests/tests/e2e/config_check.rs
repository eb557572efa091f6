//! `kioskctl config check` on a config with one mistake of every kind at once: each is
//! reported with its file, its line and a fix, where the services would stop at the first.

use madoguchi_tests::harness::{binary, run_cli, Fixture, FixtureOptions};

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

/// `kioskctl --json config check`, which must fail; the problems it lists.
fn check_fails(kioskctl: &std::path::Path, config: &std::path::Path) -> Vec<serde_json::Value> {
    let out = run_cli(kioskctl, config, &["--json", "config", "check"], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    out.json["problems"].as_array().unwrap().clone()
}

#[test]
fn every_mistake_is_reported_with_its_line_and_a_fix() {
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let kioskctl = binary("kioskctl").unwrap();
    let good = run_cli(
        &kioskctl,
        &fx.config_path,
        &["--json", "config", "check"],
        None,
    );
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert_eq!(good.json["problems"], serde_json::json!([]));

    // Structure: a typo'd key and a number written as text, in two sections.
    let text = std::fs::read_to_string(&fx.config_path)
        .unwrap()
        .replace("paper_mm = 80", "paper_mm = 80\npaper_width = 80")
        .replace("card_removed_secs = 3", "card_removed_secs = \"3\"");
    std::fs::write(&fx.config_path, &text).unwrap();
    let problems = check_fails(&kioskctl, &fx.config_path);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    let find = |problems: &[serde_json::Value], needle: &str| {
        problems
            .iter()
            .find(|p| p["message"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no problem about {needle}: {problems:#?}"))
            .clone()
    };
    let typo = find(&problems, "unknown field `paper_width`");
    assert_eq!(typo["line"], line_of(&text, "paper_width"));
    assert!(typo["fix"]
        .as_str()
        .unwrap()
        .contains("correct its spelling"));
    let kind = find(&problems, "[ui]");
    assert_eq!(kind["line"], line_of(&text, "card_removed_secs"));
    assert_eq!(kind["file"], fx.config_path.to_str().unwrap());

    // Values: wrong together, and a file the config names that is not there.
    let text = std::fs::read_to_string(&fx.config_path)
        .unwrap()
        .replace("\npaper_width = 80", "")
        .replace("card_removed_secs = \"3\"", "card_removed_secs = 3")
        .replace("paper_mm = 80", "paper_mm = 75")
        .replace("backoff_cap_ms = 2000", "backoff_cap_ms = 100")
        .replace("code = \"113271\"", "code = \"113270\"")
        .replace(
            "public_key = \"113263.pub.pem\"",
            "public_key = \"missing.pem\"",
        );
    std::fs::write(&fx.config_path, &text).unwrap();
    let problems = check_fails(&kioskctl, &fx.config_path);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    for (needle, line, fix) in [
        (
            "paper_mm must be 58 or 80",
            line_of(&text, "paper_mm"),
            "58 or 80",
        ),
        (
            "backoff_cap_ms (100)",
            line_of(&text, "backoff_cap_ms"),
            "at least backoff_base_ms",
        ),
        ("\"113270\"", line_of(&text, "113270"), "check digit"),
        ("missing.pem", line_of(&text, "missing.pem"), "public key"),
    ] {
        let p = find(&problems, needle);
        assert_eq!(p["line"], line, "{p}");
        assert!(p["fix"].as_str().unwrap().contains(fix), "{p}");
    }
    // The same in plain text: file:line, then the fix.
    let out = run_cli(&kioskctl, &fx.config_path, &["config", "check"], None);
    let plain = String::from_utf8(
        std::process::Command::new(&kioskctl)
            .arg("--config")
            .arg(&fx.config_path)
            .args(["config", "check"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(out.code, 1);
    let place = format!(
        "{}:{}: ",
        fx.config_path.display(),
        line_of(&text, "paper_mm")
    );
    assert!(plain.contains(&place), "{plain}");
    assert!(
        plain.contains("    fix: measure the roll's width"),
        "{plain}"
    );
    assert!(out.stderr.contains("4 problem(s)"), "{}", out.stderr);

    // A syntax error: nothing past it can be read, so it is the one problem.
    std::fs::write(
        &fx.config_path,
        text.replace("paper_mm = 75", "paper_mm = = 75"),
    )
    .unwrap();
    let problems = check_fails(&kioskctl, &fx.config_path);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0]["line"], line_of(&text, "paper_mm"));
    assert!(problems[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("not valid TOML"));
}
