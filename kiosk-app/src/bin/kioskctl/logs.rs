//! `kioskctl logs`: where the last resident went, from the kiosk's journal.

use super::*;

/// The journal command behind it, for the README and the error message.
const JOURNALCTL: [&str; 9] = [
    "journalctl",
    "-u",
    "madoguchi-kiosk",
    "-u",
    "madoguchi-kiosk-cage",
    "-o",
    "json",
    "--no-pager",
    "--lines=20000",
];

pub fn last_session(json: bool, session: Option<&str>) -> Result<(), Failure> {
    let out = std::process::Command::new(JOURNALCTL[0])
        .args(&JOURNALCTL[1..])
        .output()
        .map_err(|e| {
            fail(
                "journal",
                format!("cannot run `{}`: {e}", JOURNALCTL.join(" ")),
            )
        })?;
    if !out.status.success() {
        return Err(fail(
            "journal",
            format!(
                "`{}` failed: {}",
                JOURNALCTL.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let Some((id, steps)) =
        kiosk_app::trail::session_path(&String::from_utf8_lossy(&out.stdout), session)
    else {
        return Err(fail(
            "no-session",
            match session {
                Some(s) => format!("no session {s} in the kiosk's journal"),
                None => "no resident session in the kiosk's journal yet".into(),
            },
        ));
    };
    print(
        json,
        json!({ "ok": true, "session": id, "steps": steps }),
        || {
            let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
            let mut text = format!("session {id} (times JST)");
            for s in &steps {
                let t = time::OffsetDateTime::from_unix_timestamp_nanos(s.time_us as i128 * 1000)
                    .map(|t| t.to_offset(jst))
                    .ok();
                let hms = t.map_or("--:--:--".into(), |t| {
                    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
                });
                text.push_str(&format!("\n  {hms}  {}", s.screen));
            }
            text
        },
    );
    Ok(())
}
