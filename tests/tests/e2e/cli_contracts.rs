//! The command-line contracts technicians and later checks rely on: JSON on stdout with
//! `--json`, a non-zero exit with a readable message on failure, stable error codes.

use madoguchi_tests::harness::{
    binary, ensure_pcscd, personal_data_in, personal_data_needles, run_cli as run, wait_until,
    FileLock, Fixture, FixtureOptions,
};
use madoguchi_tests::vcard::{CardModel, Holder};
use madoguchi_tests::vprinter::Mode;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn kioskctl_card_commands_answer_with_stable_codes_and_log_nothing_personal() {
    ensure_pcscd().unwrap();
    let kioskctl = binary("kioskctl").unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let cfg = &fx.config_path;
    let card = fx.card(CardModel::default());
    let insert_and_wait = || {
        card.insert().unwrap();
        wait_until(Duration::from_secs(10), "card seen", || {
            run(&kioskctl, cfg, &["card", "status", "--json"], None).json["card_present"] == true
        })
        .unwrap();
    };
    let read_with = |pin: &str| {
        run(
            &kioskctl,
            cfg,
            &["card", "read", "--json", "--pin-stdin"],
            Some(&format!("{pin}\n")),
        )
    };

    // No card.
    let o = run(&kioskctl, cfg, &["card", "status", "--json"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json["card_present"], false);
    assert!(o.json["readers"][0]["name"]
        .as_str()
        .unwrap()
        .contains("Virtual PCD"));
    let o = read_with("1234");
    assert_eq!(
        (o.code, o.json["error"]["code"].as_str()),
        (1, Some("no-card"))
    );

    // A card: status never uses up a try.
    insert_and_wait();
    let o = run(&kioskctl, cfg, &["card", "status", "--json"], None);
    assert_eq!(o.json["card_type"], "my-number-card");
    assert_eq!(o.json["text_pin_tries_left"], 3);
    assert_eq!(o.json["jpki_auth_pin_tries_left"], 3);
    card.with(|m| {
        assert!(
            !m.log.iter().any(|a| a.len() > 4 && a[1] == 0x20),
            "no VERIFY with data"
        )
    });

    // Read with a wrong, then the right PIN.
    let o = read_with("9999");
    assert_eq!(o.code, 1);
    assert_eq!(o.json["error"]["code"], "wrong-pin");
    assert_eq!(o.json["error"]["detail"]["tries_left"], 2);
    assert!(o.stderr.contains("2 tries left"), "{}", o.stderr);
    let o = read_with("1234");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json["name"], "山田　太郎");
    assert_eq!(o.json["address"], "埼玉県入間郡毛呂山町中央２丁目１番地");
    assert_eq!(o.json["birth_date"], "1980-02-17");
    assert_eq!(o.json["sex"], "1");
    let o = read_with("12");
    assert_eq!(
        o.json["error"]["code"], "pin-format",
        "a malformed PIN never reaches the card"
    );

    // An old 住基カード.
    card.remove();
    card.with(|m| m.token_label = "JPKIAPICCTOKEN".into());
    insert_and_wait();
    let o = run(&kioskctl, cfg, &["card", "status", "--json"], None);
    assert_eq!(o.json["card_type"], "juki-card");
    assert_eq!(o.json["error"]["code"], "juki-card");
    let o = read_with("1234");
    assert_eq!(o.json["error"]["code"], "juki-card");
    card.remove();

    // A smartphone token, an unknown card, and a card whose PIN is locked.
    for (label, code) in [
        ("JPKIAPGPSETOKEN", "smartphone-token"),
        ("", "unsupported-card"),
    ] {
        card.with(|m| m.token_label = label.into());
        insert_and_wait();
        let o = read_with("1234");
        assert_eq!(
            (o.code, o.json["error"]["code"].as_str()),
            (1, Some(code)),
            "{label}"
        );
        card.remove();
    }
    card.with(|m| {
        m.token_label = "JPKIAPICCTOKEN2".into();
        m.text_tries = 0;
    });
    insert_and_wait();
    assert_eq!(
        run(&kioskctl, cfg, &["card", "status", "--json"], None).json["text_pin_tries_left"],
        0
    );
    let o = read_with("1234");
    assert_eq!(o.json["error"]["code"], "pin-locked");
    assert!(o.stderr.contains("municipal office"), "{}", o.stderr);
    // Trace logging on: the PIN and the holder's data never reach the log (stderr). The card
    // gets a PIN of its own for this read, looked for as a whole token of the log
    // ([`log_tokens`]), never inside a timestamp: the check cannot fail by accident, as a
    // plain search for `1234` did on a time such as `…T08:51:23.812345Z`.
    const LOG_PIN: &str = "8526";
    card.with(|m| {
        m.text_tries = 3;
        m.text_pin = LOG_PIN.as_bytes().to_vec();
    });
    let mut child = Command::new(&kioskctl)
        .arg("--config")
        .arg(cfg)
        .args(["card", "read", "--json", "--pin-stdin"])
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{LOG_PIN}").unwrap();
    let out = child.wait_with_output().unwrap();
    let log = without_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("header=00 20 00 80") && log.contains("sw=90 00"),
        "the check needs the trace of the VERIFY exchange to look at: {log}"
    );
    let pin_tokens = log_tokens(&log).filter(|t| *t == LOG_PIN).count();
    assert_eq!(pin_tokens, 0, "the PIN in the log: {log}");
    let found = personal_data_in(log.as_bytes(), &personal_data_needles(&Holder::default()));
    assert!(found.is_empty(), "{found:?} in the log: {log}");
    for secret in [
        "38 35 32 36",      // the PIN's bytes as hex (an APDU dump)
        "38353236",         // … without spaces
        "56, 53, 50, 54",   // … as a Debug list of bytes
        "0x38, 0x35, 0x32", // … as a hex Debug list
    ] {
        assert!(!log.contains(secret), "{secret} in the log: {log}");
    }
    card.with(|m| m.text_pin = b"1234".to_vec());
    card.remove();
}

/// The printer commands: state, `--json` before or after the command, help text, a test
/// receipt, paper out and a printer that does not answer.
#[test]
fn kioskctl_printer_commands_report_its_state_and_refuse_to_print_on_a_problem() {
    let kioskctl = binary("kioskctl").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let cfg = &fx.config_path;

    // Printer.
    let o = run(&kioskctl, cfg, &["printer", "status", "--json"], None);
    assert_eq!(
        (o.code, o.json["ready"].as_bool()),
        (0, Some(true)),
        "{}",
        o.stderr
    );
    // `--json` is one flag for every command, before the command as well as after it.
    let o = run(&kioskctl, cfg, &["--json", "printer", "status"], None);
    assert_eq!((o.code, o.json["ready"].as_bool()), (0, Some(true)));
    let help = Command::new(&kioskctl)
        .args(["printer", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let status_line = help
        .lines()
        .find(|l| l.trim_start().starts_with("status"))
        .unwrap_or_default();
    assert!(
        status_line.trim_start().len() > "status".len() + 10,
        "`printer status` has its help text: {help}"
    );
    let o = run(&kioskctl, cfg, &["printer", "test"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(fx.printer.jobs().len(), 1);
    fx.printer.set_mode(Mode::PaperOut);
    let o = run(&kioskctl, cfg, &["printer", "status", "--json"], None);
    assert_eq!(o.json["status"]["paper_out"], true);
    assert_eq!(o.json["ready"], false);
    let o = run(&kioskctl, cfg, &["printer", "test"], None);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("paper-out"), "{}", o.stderr);
    assert_eq!(fx.printer.jobs().len(), 1, "nothing printed on paper out");
    fx.printer.set_mode(Mode::Silent);
    let o = run(&kioskctl, cfg, &["printer", "status", "--json"], None);
    assert_eq!(o.json["error"]["code"], "printer-silent");
    fx.printer.set_mode(Mode::Ready);
}

/// `doctor` passes on a healthy kiosk and names the one backend that is down.
#[test]
fn kioskctl_doctor_names_the_backend_that_is_down() {
    ensure_pcscd().unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let kioskctl = binary("kioskctl").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let cfg = &fx.config_path;

    // What the doctor says of this machine rather than of the kiosk's devices and backends:
    // a CI VM has no touch panel, no systemd, maybe no NTP. The package test checks these
    // in an installed root.
    const MACHINE: [&str; 3] = ["touch", "clock", "services"];
    let failed = |json: &serde_json::Value| -> Vec<String> {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ok"] == false)
            .map(|c| c["check"].as_str().unwrap().to_owned())
            .filter(|c| !MACHINE.contains(&c.as_str()))
            .collect()
    };
    // Doctor: all good, then a dead backend is named.
    let o = run(&kioskctl, cfg, &["doctor", "--json"], None);
    assert_eq!(
        failed(&o.json),
        Vec::<String>::new(),
        "{}",
        serde_json::to_string_pretty(&o.json).unwrap()
    );
    let text = std::fs::read_to_string(cfg).unwrap();
    // A port this test holds bound without listening: refused, and nobody else can answer.
    let nowhere = madoguchi_tests::harness::Unreachable::new().unwrap();
    let dead = text.replace(&fx.municipality("113271").backend.url(), &nowhere.url());
    let dead_cfg = fx.dir.join("dead.toml");
    std::fs::write(&dead_cfg, dead).unwrap();
    let o = run(&kioskctl, &dead_cfg, &["doctor", "--json"], None);
    assert_eq!(o.code, 1);
    assert_eq!(failed(&o.json), vec!["backend 113271 越生町"]);
}

/// A config that does not parse: both programs name the file and exit non-zero.
#[test]
fn a_broken_config_is_named_with_its_file_by_both_programs() {
    let kioskctl = binary("kioskctl").unwrap();
    let sync = binary("counter-sync").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();

    // Broken config: the file and the problem are named, exit non-zero.
    let broken = fx.dir.join("broken.toml");
    std::fs::write(&broken, "[kiosk\nid = 1").unwrap();
    for (bin, args) in [
        (&kioskctl, vec!["card", "status", "--json"]),
        (&sync, vec!["status", "--json"]),
    ] {
        let o = run(bin, &broken, &args, None);
        assert_eq!(o.code, 1);
        assert!(o.stderr.contains("broken.toml"), "{}", o.stderr);
    }
}

/// `counter-sync status` counts every municipality and state, zeros included.
#[test]
fn counter_sync_status_counts_per_municipality_and_state() {
    let sync = binary("counter-sync").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let cfg = &fx.config_path;

    // counter-sync status counts per municipality and state.
    let o = run(&sync, cfg, &["status", "--json"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let counts = o.json["counts"].as_array().unwrap();
    assert_eq!(counts.len(), 8, "2 municipalities × 4 states");
    assert!(counts.iter().all(|c| c["count"] == 0));
}

/// Finding 2 of issue 10: `kioskctl card read` with one try left must not try the PIN unless
/// the technician says so (`--allow-last-try`): a wrong PIN then would lock the card.
#[test]
fn kioskctl_card_read_refuses_the_last_try() {
    ensure_pcscd().unwrap();
    let kioskctl = binary("kioskctl").unwrap();
    let _slot = FileLock::acquire("madoguchi-vcard.lock").unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    let cfg = &fx.config_path;
    let mut model = CardModel::default();
    model.text_tries = 1;
    let card = fx.card(model);
    card.insert().unwrap();
    wait_until(Duration::from_secs(10), "card seen", || {
        run(&kioskctl, cfg, &["card", "status", "--json"], None).json["card_present"] == true
    })
    .unwrap();
    let verifies = || card.with(|m| m.log.iter().filter(|a| a.len() > 4 && a[1] == 0x20).count());

    let o = run(
        &kioskctl,
        cfg,
        &["card", "read", "--json", "--pin-stdin"],
        Some("1234\n"),
    );
    assert_eq!(
        (o.code, o.json["error"]["code"].as_str()),
        (1, Some("pin-last-try")),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("--allow-last-try"), "{}", o.stderr);
    assert!(o.json.get("name").is_none());
    assert_eq!(card.with(|m| m.text_tries), 1, "the PIN was not tried");
    assert_eq!(verifies(), 0, "no VERIFY with the PIN");

    let o = run(
        &kioskctl,
        cfg,
        &["card", "read", "--json", "--pin-stdin", "--allow-last-try"],
        Some("1234\n"),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json["name"], "山田　太郎");
    assert_eq!(verifies(), 1);
    assert_eq!(
        card.with(|m| m.text_tries),
        3,
        "the right PIN restores the counter"
    );
    // Leave the reader empty for the next card test.
    card.remove();
    wait_until(Duration::from_secs(10), "card gone", || {
        run(&kioskctl, cfg, &["card", "status", "--json"], None).json["card_present"] == false
    })
    .unwrap();
}

/// `kioskctl staff hash-pin` writes an Argon2id PHC string that an independent implementation
/// (argon2-cffi, over the reference C library) verifies for that PIN and rejects for
/// another; each hash has its own salt; a PIN that is not 6 digits is refused; the PIN is
/// never echoed.
#[test]
fn kioskctl_staff_hash_pin_verifies_with_argon2_cffi() {
    let kioskctl = binary("kioskctl").unwrap();
    let hash_pin = |pin: &str| {
        let mut child = Command::new(&kioskctl)
            .args(["staff", "hash-pin", "--pin-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pin}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    // Debian's python3-argon2 lives with the system interpreter, not a pyenv one.
    let verify = |hash: &str, pin: &str| {
        let mut child = Command::new(madoguchi_tests::harness::SYSTEM_PYTHON)
            .args([
                "-c",
                "import argon2, sys\n\
                 h = sys.argv[1]\n\
                 p = argon2.extract_parameters(h)\n\
                 assert p.type == argon2.Type.ID, p\n\
                 print(p.memory_cost, p.time_cost, p.parallelism)\n\
                 try:\n    argon2.PasswordHasher().verify(h, sys.stdin.read())\n\
                 except argon2.exceptions.VerifyMismatchError:\n    sys.exit(3)",
                hash,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3-argon2 (deploy/setup.sh installs it)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(pin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };

    let out = hash_pin("314159");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let hash = stdout.trim();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!stdout.contains("314159") && !String::from_utf8_lossy(&out.stderr).contains("314159"));
    let (code, said) = verify(hash, "314159");
    assert_eq!(code, Some(0), "argon2-cffi verifies the right PIN: {said}");
    eprintln!("argon2id m t p: {said}");
    let (code, said) = verify(hash, "314158");
    assert_eq!(code, Some(3), "argon2-cffi rejects another PIN: {said}");

    let again = String::from_utf8(hash_pin("314159").stdout).unwrap();
    assert_ne!(again.trim(), hash, "a fresh salt for every hash");

    for bad in ["31415", "3141592", "31415a", ""] {
        let out = hash_pin(bad);
        assert_eq!(out.status.code(), Some(1), "{bad:?} refused");
        assert!(out.stdout.is_empty(), "no hash for {bad:?}");
    }
}

/// The log split into whole tokens: runs of letters, digits and the characters that join
/// them into one value (`.`, `-`, `_`, `/`, `:`). A timestamp (`2025-01-02T08:51:23.812345Z`,
/// the one text of a line that varies by itself), a duration (`1.85261ms`) or a path is one
/// token that never equals the PIN, while a leak shows up as one: `pin=8526`, `"8526"`.
fn log_tokens(log: &str) -> impl Iterator<Item = &str> {
    log.split(|c: char| !(c.is_ascii_alphanumeric() || "._-/:".contains(c)))
        .filter(|t| !t.is_empty())
}

/// The log without terminal colour sequences (`ESC [ … letter`), which tracing puts between a
/// field's name and its value.
fn without_ansi(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
