//! Portrait and upside-down panels. Slint's LinuxKMS backend rotates what it draws
//! (`SLINT_KMS_ROTATION`, clockwise) but hands touches on in the panel's own coordinates, so
//! libinput must map them back with a calibration matrix (`LIBINPUT_CALIBRATION_MATRIX`, set
//! by a udev rule). Under cage the compositor rotates both (`cage -r`) and the matrix must stay
//! the identity. This module computes the three files `kioskctl display apply` writes, and
//! reads back what udev gives the touch panel for `kioskctl doctor`.

use serde::{Deserialize, Serialize};

/// How far the picture is turned clockwise on the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum Rotation {
    /// As the panel is mounted (landscape panels in landscape).
    #[default]
    None,
    /// A quarter turn clockwise (a landscape panel mounted as portrait, turned right).
    Clockwise90,
    /// Upside down.
    Half,
    /// A quarter turn anticlockwise.
    Clockwise270,
}

impl TryFrom<u16> for Rotation {
    type Error = String;
    fn try_from(degrees: u16) -> Result<Self, String> {
        match degrees {
            0 => Ok(Self::None),
            90 => Ok(Self::Clockwise90),
            180 => Ok(Self::Half),
            270 => Ok(Self::Clockwise270),
            other => Err(format!(
                "ui.rotation must be 0, 90, 180 or 270 (degrees clockwise), not {other}"
            )),
        }
    }
}

impl From<Rotation> for u16 {
    fn from(r: Rotation) -> u16 {
        r.degrees()
    }
}

impl Rotation {
    /// Degrees clockwise.
    pub fn degrees(self) -> u16 {
        match self {
            Self::None => 0,
            Self::Clockwise90 => 90,
            Self::Half => 180,
            Self::Clockwise270 => 270,
        }
    }

    /// Where a point of the picture (normalised, 0..1 from its top left) lands on the panel
    /// (normalised likewise): the model of what the renderer does with the picture.
    pub fn picture_to_panel(self, (u, v): (f64, f64)) -> (f64, f64) {
        match self {
            Self::None => (u, v),
            Self::Clockwise90 => (1.0 - v, u),
            Self::Half => (1.0 - u, 1.0 - v),
            Self::Clockwise270 => (v, 1.0 - u),
        }
    }

    /// libinput's calibration matrix (its first two rows, `a b c d e f`: x' = a·x + b·y + c,
    /// y' = d·x + e·y + f) that takes a touch on the panel back to the point of the picture
    /// drawn there, for the LinuxKMS backend. The inverse of [`Rotation::picture_to_panel`].
    pub fn touch_matrix(self) -> [i8; 6] {
        match self {
            Self::None => [1, 0, 0, 0, 1, 0],
            Self::Clockwise90 => [0, 1, 0, -1, 0, 1],
            Self::Half => [-1, 0, 1, 0, -1, 1],
            Self::Clockwise270 => [0, -1, 1, 1, 0, 0],
        }
    }
}

/// Which path draws the kiosk: Slint's own DRM/KMS output, or the cage compositor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `madoguchi-kiosk.service`.
    LinuxKms,
    /// `madoguchi-kiosk-cage.service`: cage rotates touches itself.
    Cage,
}

/// The matrix udev must give the touch panel.
pub fn expected_matrix(rotation: Rotation, output: Output) -> [i8; 6] {
    match output {
        Output::LinuxKms => rotation.touch_matrix(),
        Output::Cage => Rotation::None.touch_matrix(),
    }
}

fn matrix_text(m: [i8; 6]) -> String {
    m.map(|x| x.to_string()).join(" ")
}

/// `/etc/udev/rules.d/99-madoguchi-touch.rules`: replaces the packaged rule of that name.
pub fn udev_rule(rotation: Rotation, output: Output) -> String {
    format!(
        "# Written by `kioskctl display apply` for ui.rotation = {} ({}); replaces\n\
         # /lib/udev/rules.d/99-madoguchi-touch.rules. Checked by `kioskctl doctor`.\n\
         ACTION==\"add|change\", SUBSYSTEM==\"input\", ENV{{ID_INPUT_TOUCHSCREEN}}==\"1\", \
         ENV{{LIBINPUT_CALIBRATION_MATRIX}}=\"{}\"\n",
        rotation.degrees(),
        match output {
            Output::LinuxKms => "LinuxKMS: libinput turns the touches back",
            Output::Cage => "cage turns the touches itself",
        },
        matrix_text(expected_matrix(rotation, output))
    )
}

/// `/etc/madoguchi/display.env`, read by both kiosk units (after their own `Environment=`,
/// so what it sets wins). Without a GPU (no DRM render node) it pins the software renderer:
/// FemtoVG would otherwise draw through Mesa's llvmpipe, which measured 2.6× slower to the
/// first frame and 3.4× the memory of the software renderer (BENCHMARKS.md).
pub fn display_env(rotation: Rotation, output: Output, gpu: bool) -> String {
    let quarter_turns = rotation.degrees() / 90;
    let mut env = format!(
        "# Written by `kioskctl display apply` for ui.rotation = {}{}.\n\
         SLINT_KMS_ROTATION={}\nCAGE_ROTATION={}\n",
        rotation.degrees(),
        if gpu {
            ""
        } else {
            " on a machine without a GPU"
        },
        rotation.degrees(),
        vec!["-r"; quarter_turns as usize].join(" ")
    );
    if !gpu {
        env.push_str(match output {
            Output::LinuxKms => "SLINT_BACKEND=linuxkms-software\n",
            Output::Cage => "SLINT_BACKEND=winit-software\n",
        });
    }
    env
}

/// Whether the machine at `root` has a GPU the kiosk can render with (a DRM render node).
pub fn has_gpu(root: &std::path::Path) -> bool {
    std::fs::read_dir(root.join("dev/dri")).is_ok_and(|d| {
        d.filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// A touch panel as udev knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TouchPanel {
    /// `/dev/input/eventN`.
    pub devnode: String,
    /// `ID_MODEL` or `NAME`, for the technician.
    pub name: String,
    /// `LIBINPUT_CALIBRATION_MATRIX`, as numbers, if set.
    pub matrix: Option<Vec<f64>>,
}

/// The touch panels in `udevadm info --export-db` output.
pub fn touch_panels(export_db: &str) -> Vec<TouchPanel> {
    export_db
        .split("\n\n")
        .filter_map(|device| {
            let mut env = std::collections::HashMap::new();
            for line in device.lines() {
                if let Some(kv) = line.strip_prefix("E: ") {
                    if let Some((k, v)) = kv.split_once('=') {
                        env.insert(k, v);
                    }
                }
            }
            if env.get("ID_INPUT_TOUCHSCREEN") != Some(&"1") {
                return None;
            }
            let devnode = env.get("DEVNAME")?.to_string();
            if !devnode.contains("/event") {
                return None;
            }
            Some(TouchPanel {
                devnode,
                name: env
                    .get("ID_MODEL")
                    .or(env.get("NAME"))
                    .unwrap_or(&"")
                    .trim_matches('"')
                    .to_string(),
                matrix: env.get("LIBINPUT_CALIBRATION_MATRIX").map(|m| {
                    m.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                }),
            })
        })
        .collect()
}

/// Whether `panel`'s matrix is `expected` (an unset matrix is the identity).
pub fn calibrated(panel: &TouchPanel, expected: [i8; 6]) -> bool {
    let have = panel
        .matrix
        .clone()
        .unwrap_or_else(|| vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    have.len() == 6
        && have
            .iter()
            .zip(expected)
            .all(|(h, e)| (h - e as f64).abs() < 1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Rotation; 4] = [
        Rotation::None,
        Rotation::Clockwise90,
        Rotation::Half,
        Rotation::Clockwise270,
    ];

    fn apply(m: [i8; 6], (x, y): (f64, f64)) -> (f64, f64) {
        let m = m.map(f64::from);
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }

    #[test]
    fn a_touch_lands_on_the_picture_point_drawn_under_the_finger() {
        // Corners and an off-centre point: every one must come back to where it was drawn.
        let points = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.2, 0.7)];
        for r in ALL {
            for p in points {
                let on_panel = r.picture_to_panel(p);
                let back = apply(r.touch_matrix(), on_panel);
                assert!(
                    (back.0 - p.0).abs() < 1e-9 && (back.1 - p.1).abs() < 1e-9,
                    "{r:?}: {p:?} drawn at {on_panel:?}, touch read as {back:?}"
                );
            }
        }
        // Clockwise: the picture's top left goes to the panel's top right.
        assert_eq!(
            Rotation::Clockwise90.picture_to_panel((0.0, 0.0)),
            (1.0, 0.0)
        );
    }

    #[test]
    fn files_for_linuxkms_and_cage() {
        let rule = udev_rule(Rotation::Clockwise90, Output::LinuxKms);
        assert!(
            rule.contains("ENV{LIBINPUT_CALIBRATION_MATRIX}=\"0 1 0 -1 0 1\""),
            "{rule}"
        );
        let rule = udev_rule(Rotation::Clockwise90, Output::Cage);
        assert!(rule.contains("=\"1 0 0 0 1 0\""), "{rule}");
        assert_eq!(
            display_env(Rotation::Clockwise270, Output::LinuxKms, true)
                .lines()
                .skip(1)
                .collect::<Vec<_>>(),
            ["SLINT_KMS_ROTATION=270", "CAGE_ROTATION=-r -r -r"]
        );
        let no_gpu = display_env(Rotation::None, Output::Cage, false);
        assert!(
            no_gpu.ends_with("SLINT_BACKEND=winit-software\n"),
            "{no_gpu}"
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_gpu(dir.path()));
        std::fs::create_dir_all(dir.path().join("dev/dri")).unwrap();
        std::fs::write(dir.path().join("dev/dri/card0"), "").unwrap();
        assert!(!has_gpu(dir.path()), "a display without a render node");
        std::fs::write(dir.path().join("dev/dri/renderD128"), "").unwrap();
        assert!(has_gpu(dir.path()));
        assert!(Rotation::try_from(45).is_err());
    }

    #[test]
    fn touch_panels_and_their_matrix_from_udev() {
        let db = "P: /devices/pci/usb1/1-1/input/input5/event5\nN: input/event5\n\
                  E: DEVNAME=/dev/input/event5\nE: ID_INPUT=1\nE: ID_INPUT_TOUCHSCREEN=1\n\
                  E: ID_MODEL=eGalax_Touch\nE: LIBINPUT_CALIBRATION_MATRIX=0 1 0 -1 0 1\n\n\
                  P: /devices/pci/usb1/1-1/input/input5\nE: ID_INPUT_TOUCHSCREEN=1\nE: NAME=\"eGalax\"\n\n\
                  P: /devices/platform/i8042/serio0/input/input0/event0\n\
                  E: DEVNAME=/dev/input/event0\nE: ID_INPUT_KEYBOARD=1\n";
        let panels = touch_panels(db);
        assert_eq!(panels.len(), 1, "{panels:?}");
        assert_eq!(panels[0].devnode, "/dev/input/event5");
        assert_eq!(panels[0].name, "eGalax_Touch");
        assert!(calibrated(&panels[0], Rotation::Clockwise90.touch_matrix()));
        assert!(!calibrated(
            &panels[0],
            Rotation::Clockwise270.touch_matrix()
        ));
        let unset = TouchPanel {
            matrix: None,
            ..panels[0].clone()
        };
        assert!(calibrated(&unset, Rotation::None.touch_matrix()));
        assert!(!calibrated(&unset, Rotation::Clockwise90.touch_matrix()));
    }
}
