//! The package on a clean Debian 12 root (mmdebstrap, Debian's own packages): it installs with
//! dpkg, makes the users, directories and modes the services need, enables its units (which
//! `systemd-analyze verify` accepts there), and its `kioskctl doctor` and `counter-sync
//! status`, run as the services' users, reach the simulated reader, printer and
//! municipalities. An upgrade over an older install with a filled outbox at the previous
//! schema loses nothing and migrates it; a downgrade below the outbox's schema refuses to
//! start, saying why.

use counter_core::outbox::Outbox;
use madoguchi_tests::harness::{repo_root, Fixture, FixtureOptions};
use madoguchi_tests::package::{debian_root, field, package, with_version, Root};
use madoguchi_tests::pcscd::ensure_pcscd;
use std::path::Path;

const KIOSK: &str = "madoguchi-kiosk:madoguchi";
const SYNC: &str = "madoguchi-sync:madoguchi";

/// `stat` of a path inside the root: "mode user group".
fn stat(root: &Root, path: &str) -> String {
    root.sh(&format!("stat -c '%a %U %G' {path}"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The fixture's config as the technician would write it on the kiosk: the packaged
/// assets, the outbox in /var/lib/madoguchi, the municipalities' keys beside the config.
fn provision(root: &Root, fx: &Fixture) {
    let assets = format!("{}/assets/", repo_root().display());
    let text = std::fs::read_to_string(&fx.config_path)
        .unwrap()
        .replace(&assets, "/usr/share/madoguchi/assets/")
        .replace(
            "path = \"outbox.db\"",
            "path = \"/var/lib/madoguchi/outbox.db\"",
        );
    std::fs::write(root.path("/etc/madoguchi/kiosk.toml"), text).unwrap();
    for m in &fx.municipalities {
        let name = format!("{}.pub.pem", m.code);
        std::fs::copy(
            fx.dir.join(&name),
            root.path(&format!("/etc/madoguchi/{name}")),
        )
        .unwrap();
    }
    root.sh("chown root:madoguchi /etc/madoguchi/kiosk.toml /etc/madoguchi/*.pem && chmod 0640 /etc/madoguchi/kiosk.toml /etc/madoguchi/*.pem")
        .unwrap();
}

/// A fake `udevadm` for the root: the hardware seam of the touch check. `info --export-db`
/// lists one touch panel whose calibration is whatever the rule file in /etc gives it, as
/// udev would once the rule is applied (or the identity without one).
const FAKE_UDEVADM: &str = r#"#!/bin/sh
[ "$1 $2" = "info --export-db" ] || exit 0
matrix=$(sed -n 's/.*LIBINPUT_CALIBRATION_MATRIX}="\([^"]*\)".*/\1/p' /etc/udev/rules.d/99-madoguchi-touch.rules 2>/dev/null)
printf 'P: /devices/usb1/1-2/input/input7/event7\nE: DEVNAME=/dev/input/event7\nE: ID_INPUT_TOUCHSCREEN=1\nE: ID_MODEL=eGalax_Touch\n'
[ -n "$matrix" ] && printf 'E: LIBINPUT_CALIBRATION_MATRIX=%s\n' "$matrix"
exit 0
"#;

#[test]
fn portrait_rotation_is_applied_and_the_touch_calibration_checked() {
    let deb = package().unwrap();
    let root = Root::unpack(&debian_root(&deb).unwrap()).unwrap();
    assert_eq!(root.install(&deb).unwrap().code, 0);
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    provision(&root, &fx);
    std::fs::write(root.path("/usr/local/sbin/udevadm"), FAKE_UDEVADM).unwrap();
    root.sh("chmod 755 /usr/local/sbin/udevadm").unwrap();
    let config = root.path("/etc/madoguchi/kiosk.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("[ui]\n", "[ui]\nrotation = 90\n")).unwrap();
    let touch = |root: &Root| {
        let run = root
            .run("root", &[], &[], "kioskctl --json doctor")
            .unwrap();
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "touch")
            .unwrap()
            .clone()
    };
    // Configured but not applied: the doctor says what to run.
    let check = touch(&root);
    assert_eq!(check["ok"], false);
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("run `kioskctl display apply`"),
        "{check}"
    );

    let run = root
        .run("root", &[], &[], "kioskctl display apply")
        .unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    let env = std::fs::read_to_string(root.path("/etc/madoguchi/display.env")).unwrap();
    assert!(
        env.contains("SLINT_KMS_ROTATION=90\n") && env.contains("CAGE_ROTATION=-r\n"),
        "{env}"
    );
    let check = touch(&root);
    assert_eq!(check["ok"], true, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("calibrated for 90° (LinuxKms)"),
        "{check}"
    );

    // The technician switches to the cage path: cage turns touches itself, so the matrix the
    // LinuxKMS path needs is now wrong until applied again.
    root.sh("systemctl disable madoguchi-kiosk.service && systemctl enable madoguchi-kiosk-cage.service").unwrap();
    let check = touch(&root);
    assert_eq!(check["ok"], false, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("not calibrated for 90° (Cage)"),
        "{check}"
    );
    assert_eq!(
        root.run("root", &[], &[], "kioskctl display apply")
            .unwrap()
            .code,
        0
    );
    assert_eq!(touch(&root)["ok"], true);
    let rule =
        std::fs::read_to_string(root.path("/etc/udev/rules.d/99-madoguchi-touch.rules")).unwrap();
    assert!(rule.contains("=\"1 0 0 0 1 0\""), "{rule}");
}

#[test]
fn installs_on_clean_debian_12_upgrades_and_refuses_a_downgrade() {
    let deb = package().unwrap();
    let root = Root::unpack(&debian_root(&deb).unwrap()).unwrap();
    let version = field(&deb, "Version").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let older = with_version(&deb, &format!("{version}~older1"), scratch.path()).unwrap();

    // A first install, of the older build.
    let run = root.install(&older).unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("copy /etc/madoguchi/kiosk.example.toml"),
        "the install says what to do next: {run:?}"
    );

    // Users and groups from sysusers.d.
    let ids = root.sh("id madoguchi-kiosk; id madoguchi-sync").unwrap();
    for user in ["madoguchi-kiosk", "madoguchi-sync"] {
        let line = ids
            .lines()
            .find(|l| l.contains(&format!("({user})")))
            .unwrap();
        assert!(
            line.contains("(madoguchi)"),
            "{user} shares the group: {line}"
        );
    }
    assert!(!ids.contains("uid=0"), "{ids}");
    let nologin = root
        .sh("getent passwd madoguchi-kiosk madoguchi-sync | cut -d: -f7")
        .unwrap();
    assert!(nologin.lines().all(|s| s.ends_with("nologin")), "{nologin}");
    // Directories and modes from tmpfiles.d, binaries, assets, the conffile.
    assert_eq!(stat(&root, "/var/lib/madoguchi"), "2770 root madoguchi");
    assert_eq!(
        stat(&root, "/etc/madoguchi/tls"),
        "750 madoguchi-sync madoguchi"
    );
    for bin in ["kiosk-app", "kioskctl", "counter-sync"] {
        assert_eq!(stat(&root, &format!("/usr/bin/{bin}")), "755 root root");
    }
    assert_eq!(
        stat(&root, "/usr/share/madoguchi/assets/municipalities.csv"),
        "644 root root"
    );
    let conffiles = root
        .sh("dpkg-query -W -f='${Conffiles}' madoguchi")
        .unwrap();
    assert!(
        conffiles.contains("/etc/madoguchi/kiosk.example.toml"),
        "{conffiles}"
    );
    for rules in ["printer", "card-reader", "touch"] {
        root.sh(&format!(
            "test -f /lib/udev/rules.d/99-madoguchi-{rules}.rules"
        ))
        .unwrap();
    }
    // Units: the LinuxKMS kiosk and counter-sync enabled, the cage variant available.
    let wants = root
        .sh("ls /etc/systemd/system/multi-user.target.wants/")
        .unwrap();
    assert!(wants.contains("madoguchi-kiosk.service"), "{wants}");
    assert!(wants.contains("counter-sync.service"), "{wants}");
    assert!(!wants.contains("madoguchi-kiosk-cage.service"), "{wants}");
    let verify = root
        .run(
            "root",
            &[],
            &[],
            "systemd-analyze verify /lib/systemd/system/madoguchi-kiosk.service /lib/systemd/system/madoguchi-kiosk-cage.service /lib/systemd/system/counter-sync.service",
        )
        .unwrap();
    assert_eq!(verify.code, 0, "{verify:?}");
    assert!(
        !verify.stderr.contains("madoguchi") && !verify.stderr.contains("counter-sync"),
        "systemd-analyze has remarks on our units: {}",
        verify.stderr
    );

    // Provisioned against the simulated devices: the card reader through the suite's pcscd,
    // the TCP printer and the municipalities' reference backends on this machine's loopback.
    let pcscd = ensure_pcscd().unwrap();
    let fx = Fixture::new(FixtureOptions::default()).unwrap();
    provision(&root, &fx);
    let pcscd_dir = pcscd.socket().parent().unwrap().to_owned();
    let binds: [(&Path, &str); 1] = [(&pcscd_dir, "/run/madoguchi-test-pcscd")];
    let env = [(
        "PCSCLITE_CSOCK_NAME",
        "/run/madoguchi-test-pcscd/pcscd.comm",
    )];
    let doctor = root
        .run(KIOSK, &env, &binds, "kioskctl --json doctor")
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&doctor.stdout).unwrap_or_else(|e| panic!("{e}: {doctor:?}"));
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"].as_str().unwrap().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} check: {report}"))
            .clone()
    };
    for name in [
        "config",
        "catalogues",
        "database",
        "card_reader",
        "printer",
        "backend 113263",
        "backend 113271",
    ] {
        assert_eq!(check(name)["ok"], true, "{name}: {report:#}");
    }

    // Fill the outbox as the older build would have left it: applications waiting, the
    // schema one version back (the last migration is undone exactly).
    let status = root
        .run(
            SYNC,
            &[],
            &[],
            "counter-sync enqueue-synthetic --count 40 --json",
        )
        .unwrap();
    assert_eq!(status.code, 0, "{status:?}");
    let db = root.path("/var/lib/madoguchi/outbox.db");
    let schema = {
        let ob = Outbox::attach(&db).unwrap();
        ob.schema_version().unwrap()
    };
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            "DROP TABLE process_run; PRAGMA user_version = {};",
            schema - 1
        ))
        .unwrap();
    }

    // The upgrade: dpkg runs the new package's scripts over the old; the services' first
    // open migrates the outbox; all 40 applications are still there.
    let run = root.install(&deb).unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        root.sh("dpkg-query -W -f='${Version}' madoguchi").unwrap(),
        version
    );
    let status = root
        .run(SYNC, &[], &[], "counter-sync status --json")
        .unwrap();
    assert_eq!(status.code, 0, "{status:?}");
    let report: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let waiting: u64 = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "waiting")
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(waiting, 40, "{report:#}");
    let ob = Outbox::attach(&db).unwrap();
    assert_eq!(ob.schema_version().unwrap(), schema, "migrated");
    assert_eq!(ob.integrity_check().unwrap(), "ok");
    drop(ob);
    assert_eq!(
        stat(&root, "/var/lib/madoguchi/outbox.db")
            .split(' ')
            .nth(2),
        Some("madoguchi")
    );

    // A downgrade below the outbox's schema: dpkg installs it, but the services refuse the
    // newer outbox and say so, touching nothing.
    let run = root.install(&older).unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", schema + 1)
            .unwrap();
    }
    let status = root.run(SYNC, &[], &[], "counter-sync status").unwrap();
    assert_eq!(status.code, 1, "{status:?}");
    assert!(
        status.stderr.contains(&format!(
            "has schema version {}, newer than this program ({schema})",
            schema + 1
        )),
        "{}",
        status.stderr
    );
    let doctor = root.run(KIOSK, &env, &binds, "kioskctl doctor").unwrap();
    assert_eq!(doctor.code, 1);
    assert!(
        doctor.stdout.contains("newer than this program"),
        "{doctor:?}"
    );
}
