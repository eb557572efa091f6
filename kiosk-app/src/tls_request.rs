//! The kiosk's own TLS identity for mutual TLS with the municipalities: a new P-256 private
//! key that never leaves the kiosk (mode 0600, owned by counter-sync's user, the only one that
//! uses it) and a certificate signing request named after the kiosk id, which the
//! municipalities' CA signs.

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::stack::Stack;
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509NameBuilder, X509ReqBuilder};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why no key or request was made.
#[derive(Debug, thiserror::Error)]
pub enum TlsRequestError {
    /// A key is there already: replacing it would cut the kiosk off until the new one is
    /// signed, so only a person does that.
    #[error("{0} exists already; to replace it, move it away first (the kiosk cannot deliver until the new certificate is signed)")]
    KeyExists(PathBuf),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// OpenSSL failed.
    #[error("cannot make the key or the request: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// What was made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TlsRequest {
    /// The private key (0600).
    pub key: PathBuf,
    /// The request to send to the CA.
    pub csr: PathBuf,
    /// The request's subject.
    pub subject: String,
    /// SHA-256 of the request (DER), to read out on the phone to the CA.
    pub csr_sha256: String,
}

/// Makes `key` (exclusively, 0600, owned by `owner` when given) and `csr` beside it for the
/// kiosk `kiosk_id` of `counter_name`.
pub fn make(
    key: &Path,
    csr: &Path,
    kiosk_id: &str,
    counter_name: &str,
    owner: Option<(u32, u32)>,
) -> Result<TlsRequest, TlsRequestError> {
    if key.exists() {
        return Err(TlsRequestError::KeyExists(key.to_owned()));
    }
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let ec = EcKey::generate(&group)?;
    let pkey = PKey::from_ec_key(ec)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, kiosk_id)?;
    name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, "Madoguchi kiosk")?;
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, counter_name)?;
    let name = name.build();
    let mut req = X509ReqBuilder::new()?;
    req.set_version(0)?;
    req.set_subject_name(&name)?;
    req.set_pubkey(&pkey)?;
    let mut extensions = Stack::new()?;
    extensions.push(KeyUsage::new().critical().digital_signature().build()?)?;
    extensions.push(ExtendedKeyUsage::new().client_auth().build()?)?;
    req.add_extensions(&extensions)?;
    req.sign(&pkey, MessageDigest::sha256())?;
    let req = req.build();

    let write = |path: &Path, mode: u32, bytes: &[u8]| -> Result<(), TlsRequestError> {
        let err = |source| TlsRequestError::Write {
            path: path.to_owned(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(err)?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(err)
    };
    write(key, 0o600, &pkey.private_key_to_pem_pkcs8()?)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(key, Some(uid), Some(gid)).map_err(|source| {
            let _ = std::fs::remove_file(key);
            TlsRequestError::Write {
                path: key.to_owned(),
                source,
            }
        })?;
    }
    let _ = std::fs::remove_file(csr); // a request is public and can be made again
    write(csr, 0o644, &req.to_pem()?)?;
    let digest = openssl::hash::hash(MessageDigest::sha256(), &req.to_der()?)?;
    Ok(TlsRequest {
        key: key.to_owned(),
        csr: csr.to_owned(),
        subject: format!("CN={kiosk_id}, OU=Madoguchi kiosk, O={counter_name}"),
        csr_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    })
}
