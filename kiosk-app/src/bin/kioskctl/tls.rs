//! `kioskctl tls request`: the kiosk's key and certificate request.

use super::*;

/// The user counter-sync runs as, who alone may read the key (sysusers.d).
const SYNC_USER: &str = "madoguchi-sync";
const SHARED_GROUP: &str = "madoguchi";

pub fn request(
    config: &Path,
    json: bool,
    key: Option<PathBuf>,
    csr: Option<PathBuf>,
) -> Result<(), Failure> {
    // The request needs only the kiosk's identity: read it even if the rest of the config is
    // not finished (the [tls] section comes after the certificate is signed).
    let text =
        counter_core::config::read_config_text(config).map_err(|e| fail("config-error", e))?;
    #[derive(serde::Deserialize)]
    struct Identity {
        kiosk: counter_core::config::KioskIdentity,
        tls: Option<toml::Table>,
    }
    let id: Identity = toml::from_str(&text)
        .map_err(|e| fail("config-error", format!("{}: {e}", config.display())))?;
    let base = config.parent().unwrap_or(Path::new("/"));
    let key = key
        .or_else(|| {
            id.tls
                .as_ref()
                .and_then(|t| t.get("client_key")?.as_str().map(|k| base.join(k)))
        })
        .unwrap_or_else(|| PathBuf::from("/etc/madoguchi/tls/kiosk.key.pem"));
    let csr = csr.unwrap_or_else(|| key.with_file_name(format!("{}.csr.pem", id.kiosk.id)));
    let made =
        kiosk_app::tls_request::make(&key, &csr, &id.kiosk.id, &id.kiosk.counter_name, owner())
            .map_err(|e| fail("tls-request", e))?;
    print(json, json!({ "ok": true, "request": made }), || {
        format!(
            "private key {} (mode 0600)\nrequest     {} ({})\nsha256      {}\n\
             Send the request to each municipality's CA; put the signed certificate at tls.client_cert.",
            made.key.display(),
            made.csr.display(),
            made.subject,
            made.csr_sha256
        )
    });
    Ok(())
}

/// counter-sync's user and the shared group, when they exist and we may give files away.
fn owner() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let lookup = |what: &str, file: &str| -> Option<u32> {
        std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == what).then(|| f.nth(1)?.parse().ok())?
        })
    };
    Some((
        lookup(SYNC_USER, "/etc/passwd")?,
        lookup(SHARED_GROUP, "/etc/group")?,
    ))
}
