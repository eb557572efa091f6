//! `kioskctl display`: the panel's rotation, and the touch calibration that must follow it.

use super::*;
use kiosk_app::display::{self, Output, Rotation};

/// Where the files go, under the system root.
const DISPLAY_ENV: &str = "etc/madoguchi/display.env";
const TOUCH_RULE: &str = "etc/udev/rules.d/99-madoguchi-touch.rules";
/// Enabled when the technician chose the cage path (README).
const CAGE_ENABLED: &str =
    "etc/systemd/system/multi-user.target.wants/madoguchi-kiosk-cage.service";

/// The path that draws the kiosk on the system at `root`.
pub fn output(root: &Path) -> Output {
    if root.join(CAGE_ENABLED).exists() {
        Output::Cage
    } else {
        Output::LinuxKms
    }
}

pub fn apply(config: &Path, json: bool, root: &Path) -> Result<(), Failure> {
    let cfg = load(config)?;
    let rotation = cfg.ui.rotation;
    let output = output(root);
    let write = |rel: &str, text: String| {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail("write", format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(&path, text).map_err(|e| fail("write", format!("{}: {e}", path.display())))
    };
    let gpu = display::has_gpu(root);
    write(DISPLAY_ENV, display::display_env(rotation, output, gpu))?;
    write(TOUCH_RULE, display::udev_rule(rotation, output))?;
    // On the running system, udev applies the new matrix to the panel now.
    if root == Path::new("/") {
        let udev = std::process::Command::new("udevadm")
            .args(["control", "--reload-rules"])
            .status()
            .and_then(|_| {
                std::process::Command::new("udevadm")
                    .args(["trigger", "--subsystem-match=input", "--action=change"])
                    .status()
            });
        if let Err(e) = udev {
            return Err(fail(
                "udev",
                format!("rules written, but udevadm failed: {e}; reboot to apply them"),
            ));
        }
    }
    print(
        json,
        json!({ "ok": true, "rotation": rotation.degrees(), "output": format!("{output:?}"),
                "gpu": gpu, "touch_matrix": display::expected_matrix(rotation, output) }),
        || {
            format!(
                "rotation {}° written for {output:?}{}; restart the kiosk: systemctl restart {}",
                rotation.degrees(),
                if gpu {
                    ""
                } else {
                    " (no GPU: software renderer)"
                },
                match output {
                    Output::Cage => "madoguchi-kiosk-cage",
                    Output::LinuxKms => "madoguchi-kiosk",
                }
            )
        },
    );
    Ok(())
}

/// The doctor's check: the rotation is applied and every touch panel is calibrated for it.
pub fn check(rotation: Rotation) -> Result<String, String> {
    let root = Path::new("/");
    let output = output(root);
    let env = std::fs::read_to_string(root.join(DISPLAY_ENV)).unwrap_or_default();
    let applied = env
        .lines()
        .find_map(|l| l.strip_prefix("SLINT_KMS_ROTATION="))
        .and_then(|d| d.trim().parse::<u16>().ok())
        .unwrap_or(0);
    if applied != rotation.degrees() {
        return Err(format!(
            "ui.rotation is {}° but {applied}° is applied: run `kioskctl display apply`",
            rotation.degrees()
        ));
    }
    let db = std::process::Command::new("udevadm")
        .args(["info", "--export-db"])
        .output()
        .map_err(|e| format!("cannot ask udev for the touch panel: {e}"))?;
    let panels = display::touch_panels(&String::from_utf8_lossy(&db.stdout));
    if panels.is_empty() {
        return Err(
            "no touch panel found: check its USB cable (or that it is a touch screen)".into(),
        );
    }
    let expected = display::expected_matrix(rotation, output);
    let wrong: Vec<String> = panels
        .iter()
        .filter(|p| !display::calibrated(p, expected))
        .map(|p| format!("{} ({})", p.name, p.devnode))
        .collect();
    if !wrong.is_empty() {
        return Err(format!(
            "touch panel {} is not calibrated for {}° ({output:?}): run `kioskctl display apply`, then unplug and replug the panel or reboot",
            wrong.join(", "),
            rotation.degrees()
        ));
    }
    Ok(format!(
        "{} touch panel(s) calibrated for {}° ({output:?})",
        panels.len(),
        rotation.degrees()
    ))
}
