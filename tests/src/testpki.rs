//! A throw-away PKI for the TLS tests: per municipality a CA with its server certificate, and
//! one kiosk CA with the kiosk's client certificate (EC P-256, OpenSSL).

use crate::refbackend::ServerTls;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509};
use std::sync::Arc;

/// A certificate with its key, both PEM.
pub struct Issued {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    cert: X509,
    key: PKey<Private>,
}

fn key() -> anyhow::Result<PKey<Private>> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

fn name(cn: &str) -> anyhow::Result<X509Name> {
    let mut n = X509Name::builder()?;
    n.append_entry_by_text("CN", cn)?;
    Ok(n.build())
}

enum Kind {
    Ca,
    Server,
    Client,
}

fn issue(cn: &str, kind: Kind, issuer: Option<&Issued>) -> anyhow::Result<Issued> {
    let key = key()?;
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(120, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    let subject = name(cn)?;
    b.set_subject_name(&subject)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(30)?);
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.set_pubkey(&key)?;
    match kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()?,
            )?;
        }
        Kind::Server | Kind::Client => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
            let mut eku = ExtendedKeyUsage::new();
            if matches!(kind, Kind::Server) {
                eku.server_auth();
            } else {
                eku.client_auth();
            }
            b.append_extension(eku.build()?)?;
            if matches!(kind, Kind::Server) {
                let san = SubjectAlternativeName::new()
                    .dns("localhost")
                    .ip("127.0.0.1")
                    .build(&b.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))?;
                b.append_extension(san)?;
            }
        }
    }
    match issuer {
        Some(i) => {
            b.set_issuer_name(i.cert.subject_name())?;
            b.sign(&i.key, MessageDigest::sha256())?;
        }
        None => {
            b.set_issuer_name(&subject)?;
            b.sign(&key, MessageDigest::sha256())?;
        }
    }
    let cert = b.build();
    Ok(Issued {
        cert_pem: cert.to_pem()?,
        key_pem: key.private_key_to_pem_pkcs8()?,
        cert,
        key,
    })
}

/// The kiosk side: the CA every municipality trusts for kiosks, and this kiosk's certificate.
/// Writes a private key as a technician must: mode 0600 (counter-sync refuses a key that
/// other users can read).
pub fn write_private_key(path: &std::path::Path, pem: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(pem)
}

pub struct KioskPki {
    pub ca: Issued,
    pub client: Issued,
}

impl KioskPki {
    pub fn new(kiosk: &str) -> anyhow::Result<Self> {
        let ca = issue("Madoguchi kiosk CA", Kind::Ca, None)?;
        let client = issue(kiosk, Kind::Client, Some(&ca))?;
        Ok(Self { ca, client })
    }
}

/// One municipality's side: its own CA and its server certificate (localhost, 127.0.0.1).
pub struct MunicipalityPki {
    pub ca: Issued,
    pub server: Issued,
}

impl MunicipalityPki {
    pub fn new(municipality: &str) -> anyhow::Result<Self> {
        let ca = issue(&format!("{municipality} CA"), Kind::Ca, None)?;
        let server = issue("localhost", Kind::Server, Some(&ca))?;
        Ok(Self { ca, server })
    }

    /// The backend's TLS: its certificate, and only client certificates from `kiosk_ca`.
    pub fn server_tls(&self, kiosk_ca: &Issued) -> anyhow::Result<ServerTls> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        counter_core::client::install_crypto_provider();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(&kiosk_ca.cert_pem)?)?;
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots)).build()?;
        let chain = vec![CertificateDer::from_pem_slice(&self.server.cert_pem)?];
        let key = PrivateKeyDer::from_pem_slice(&self.server.key_pem)?;
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }
}
