//! The virtual My Number card: the JPKI and 券面事項入力補助 applications with their files,
//! PIN counters and status words (mynumber-card.md §11), spoken over the vpcd socket protocol
//! so that pcscd sees a real reader with a real card. Scriptable from tests: holder data,
//! PINs and counters, a fault or a removal at the n-th APDU.

use kiosk_app::card::apdu::{AID_JPKI, AID_TEXT};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// ATR of a contact My Number card as known to OpenSC.
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

#[derive(Debug, Clone)]
pub struct Holder {
    pub name: String,
    pub address: String,
    pub birth: String,
    pub sex: String,
}

impl Default for Holder {
    fn default() -> Self {
        Holder {
            name: "山田　太郎".into(),
            address: "埼玉県入間郡毛呂山町中央２丁目１番地".into(),
            birth: "19800217".into(),
            sex: "1".into(),
        }
    }
}

/// The card's JPKI user-authentication key and certificate, issued by a test CA.
#[derive(Debug)]
pub struct TestPki {
    pub ca_cert_der: Vec<u8>,
    pub auth_cert_der: Vec<u8>,
    pub auth_key: openssl::rsa::Rsa<openssl::pkey::Private>,
}

impl TestPki {
    /// One RSA-2048 CA and one RSA-2048 user key per process (key generation is slow).
    pub fn shared() -> Arc<TestPki> {
        static PKI: std::sync::OnceLock<Arc<TestPki>> = std::sync::OnceLock::new();
        PKI.get_or_init(|| Arc::new(Self::generate().expect("test PKI")))
            .clone()
    }

    fn generate() -> Result<TestPki, openssl::error::ErrorStack> {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::{X509Name, X509};
        let name = |cn: &str| -> Result<X509Name, openssl::error::ErrorStack> {
            let mut n = X509Name::builder()?;
            n.append_entry_by_text("C", "JP")?;
            n.append_entry_by_text("CN", cn)?;
            Ok(n.build())
        };
        let ca_key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let auth_rsa = Rsa::generate(2048)?;
        let auth_key = PKey::from_rsa(auth_rsa.clone())?;
        let cert = |subject: &X509Name,
                    key: &PKey<openssl::pkey::Private>,
                    serial: u32|
         -> Result<X509, openssl::error::ErrorStack> {
            let mut b = X509::builder()?;
            b.set_version(2)?;
            let serial = BigNum::from_u32(serial)?.to_asn1_integer()?;
            b.set_serial_number(&serial)?;
            b.set_subject_name(subject)?;
            let issuer = name("Madoguchi Test JPKI CA")?;
            b.set_issuer_name(&issuer)?;
            b.set_pubkey(key)?;
            let (from, to) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(365)?);
            b.set_not_before(&from)?;
            b.set_not_after(&to)?;
            b.sign(&ca_key, MessageDigest::sha256())?;
            Ok(b.build())
        };
        let ca = cert(&name("Madoguchi Test JPKI CA")?, &ca_key, 1)?;
        // The real auth certificate carries only an opaque serial-like CN, never a name.
        let auth = cert(&name("0123456789ABCDEF")?, &auth_key, 2)?;
        Ok(TestPki {
            ca_cert_der: ca.to_der()?,
            auth_cert_der: auth.to_der()?,
            auth_key: auth_rsa,
        })
    }
}

/// What to do at a given APDU (counted from 1 across the card's life).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Pull the card out instead of answering.
    Remove,
    /// Answer these raw bytes.
    Answer(Vec<u8>),
    /// Answer normally, then pull this card out and put `other` in its place on the same
    /// vpcd slot at once: to pcscd, a removal followed by the insertion of another card (it
    /// powers the new one up with the vpcd control messages, starting from a reset state).
    /// Nothing sent after the answer reaches this card again.
    SwapTo(Box<VirtualCard>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Df {
    None,
    Jpki,
    Text,
}

#[derive(Debug)]
pub struct CardModel {
    pub holder: Holder,
    pub token_label: String,
    pub has_text_ap: bool,
    pub text_pin: Vec<u8>,
    pub text_tries: u8,
    pub auth_pin: Vec<u8>,
    pub auth_tries: u8,
    pub apdu_count: usize,
    /// Every command received, in order (VERIFY data included: this is a test double).
    pub log: Vec<Vec<u8>>,
    pub faults: Vec<(usize, Fault)>,
    pub pki: Arc<TestPki>,
    df: Df,
    ef: Option<u16>,
    verified: HashSet<u16>,
}

impl Default for CardModel {
    fn default() -> Self {
        CardModel {
            holder: Holder::default(),
            token_label: "JPKIAPICCTOKEN2".into(),
            has_text_ap: true,
            text_pin: b"1234".to_vec(),
            text_tries: 3,
            auth_pin: b"1234".to_vec(),
            auth_tries: 3,
            apdu_count: 0,
            log: vec![],
            faults: vec![],
            pki: TestPki::shared(),
            df: Df::None,
            ef: None,
            verified: HashSet::new(),
        }
    }
}

const MAX_TRIES: u8 = 3;

fn sw(code: u16) -> Vec<u8> {
    code.to_be_bytes().to_vec()
}

impl CardModel {
    pub fn reset(&mut self) {
        self.df = Df::None;
        self.ef = None;
        self.verified.clear();
    }

    fn file(&self, fid: u16) -> Option<Vec<u8>> {
        match (self.df, fid) {
            (Df::Jpki, 0x0006) => {
                let mut label = self.token_label.as_bytes().to_vec();
                label.resize(32, b' ');
                label.resize(160, 0);
                Some(label)
            }
            (Df::Text, 0x0002) => {
                let h = &self.holder;
                Some(kiosk_app::card::basic4::encode(
                    &h.name, &h.address, &h.birth, &h.sex,
                ))
            }
            (Df::Text, 0x0001) => Some(b"\xFF\x10\x0C123456789018\xFF\xFF".to_vec()),
            (Df::Jpki, 0x000A) => Some(self.pki.auth_cert_der.clone()),
            (Df::Jpki, 0x000B) => Some(self.pki.ca_cert_der.clone()),
            _ => None,
        }
    }

    fn pin_ef(&self, fid: u16) -> bool {
        matches!((self.df, fid), (Df::Text, 0x0011) | (Df::Jpki, 0x0018))
    }

    fn exists(&self, fid: u16) -> bool {
        self.file(fid).is_some() || self.pin_ef(fid) || (self.df == Df::Jpki && fid == 0x0017)
    }

    fn needs(&self, fid: u16) -> Option<u16> {
        match (self.df, fid) {
            (Df::Text, 0x0001 | 0x0002) => Some(0x0011),
            _ => None,
        }
    }

    /// Processes one command APDU and returns the response (data ‖ SW).
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        if apdu.len() < 4 {
            return sw(0x6700);
        }
        let (cla, ins, p1, p2) = (apdu[0], apdu[1], apdu[2], apdu[3]);
        if cla & 0x0C != 0 {
            return sw(0x6882);
        }
        if cla & 0x03 != 0 {
            return sw(0x6881);
        }
        let body = &apdu[4..];
        match (cla, ins) {
            (0x00, 0xA4) => {
                let Some((&lc, data)) = body.split_first() else {
                    return sw(0x6700);
                };
                if data.len() != lc as usize {
                    return sw(0x6700);
                }
                match p1 {
                    0x04 => {
                        let df = if data == AID_JPKI && !self.token_label.is_empty() {
                            Df::Jpki
                        } else if data == AID_TEXT && self.has_text_ap {
                            Df::Text
                        } else {
                            return sw(0x6A82);
                        };
                        self.df = df;
                        self.ef = None;
                        self.verified.clear();
                        sw(0x9000)
                    }
                    0x02 if data.len() == 2 => {
                        let fid = u16::from_be_bytes([data[0], data[1]]);
                        if self.exists(fid) {
                            self.ef = Some(fid);
                            sw(0x9000)
                        } else {
                            sw(0x6A82)
                        }
                    }
                    _ => sw(0x6A86),
                }
            }
            (0x00, 0xB0) => {
                if body.len() != 1 {
                    return sw(0x6700);
                }
                let Some(fid) = self.ef else {
                    return sw(0x6986);
                };
                let Some(file) = self.file(fid) else {
                    return sw(0x6981);
                };
                if let Some(pin) = self.needs(fid) {
                    if !self.verified.contains(&pin) {
                        return sw(0x6982);
                    }
                }
                let offset = (((p1 & 0x7F) as usize) << 8) | p2 as usize;
                if offset >= file.len() {
                    return sw(0x6B00);
                }
                let le = if body[0] == 0 { 256 } else { body[0] as usize };
                let mut out = file[offset..(offset + le).min(file.len())].to_vec();
                out.extend(sw(0x9000));
                out
            }
            (0x00, 0x20) => {
                if p1 != 0x00 || p2 != 0x80 {
                    return sw(0x6A86);
                }
                let Some(fid) = self.ef.filter(|f| self.pin_ef(*f)) else {
                    return sw(0x6986);
                };
                let (pin, tries) = match fid {
                    0x0011 => (self.text_pin.clone(), &mut self.text_tries),
                    _ => (self.auth_pin.clone(), &mut self.auth_tries),
                };
                if body.is_empty() {
                    return sw(0x63C0 | *tries as u16);
                }
                let (&lc, data) = body.split_first().unwrap_or((&0, &[]));
                if data.len() != lc as usize || lc == 0 {
                    return sw(0x6700);
                }
                if *tries == 0 {
                    return sw(0x6984);
                }
                if data == pin.as_slice() {
                    *tries = MAX_TRIES;
                    self.verified.insert(fid);
                    sw(0x9000)
                } else {
                    *tries -= 1;
                    sw(0x63C0 | *tries as u16)
                }
            }
            (0x80, 0x2A) => {
                if p1 != 0x00 {
                    return sw(0x6A86);
                }
                if self.df != Df::Jpki
                    || self.ef != Some(0x0017)
                    || !self.verified.contains(&0x0018)
                {
                    return sw(0x6982);
                }
                let Some((&lc, rest)) = body.split_first() else {
                    return sw(0x6700);
                };
                if rest.len() != lc as usize + 1 || lc == 0 || lc > 245 {
                    return sw(0x6700);
                }
                let mut out = vec![0u8; 256];
                match self.pki.auth_key.private_encrypt(
                    &rest[..lc as usize],
                    &mut out,
                    openssl::rsa::Padding::PKCS1,
                ) {
                    Ok(256) => {
                        out.extend(sw(0x9000));
                        out
                    }
                    _ => sw(0x6F00),
                }
            }
            _ => sw(0x6D00),
        }
    }
}

/// A virtual card attached to a vpcd slot. Insert = connect, remove = disconnect.
#[derive(Clone)]
pub struct VirtualCard {
    pub model: Arc<Mutex<CardModel>>,
    port: u16,
    conn: Arc<Mutex<Option<TcpStream>>>,
}

impl std::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VirtualCard(vpcd port {})", self.port)
    }
}

impl VirtualCard {
    pub fn new(port: u16, model: CardModel) -> Self {
        VirtualCard {
            model: Arc::new(Mutex::new(model)),
            port,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut CardModel) -> T) -> T {
        f(&mut self.model.lock().unwrap())
    }

    /// Connects to vpcd (waiting for it to listen) and serves APDUs until removed.
    pub fn insert(&self) -> anyhow::Result<()> {
        self.remove();
        let stream = connect_retry(self.port, Duration::from_secs(20))?;
        stream.set_nodelay(true)?;
        *self.conn.lock().unwrap() = Some(stream.try_clone()?);
        self.with(CardModel::reset);
        let card = self.clone();
        std::thread::Builder::new()
            .name("vcard".into())
            .spawn(move || {
                let _ = card.serve(stream);
            })?;
        Ok(())
    }

    pub fn remove(&self) {
        if let Some(s) = self.conn.lock().unwrap().take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn serve(&self, mut s: TcpStream) -> std::io::Result<()> {
        loop {
            quickack(&s);
            let mut len = [0u8; 2];
            s.read_exact(&mut len)?;
            let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut msg)?;
            let reply = if msg.len() == 1 {
                match msg[0] {
                    0x04 => Some(ATR.to_vec()),
                    _ => {
                        self.with(CardModel::reset);
                        None
                    }
                }
            } else {
                let mut m = self.model.lock().unwrap();
                m.apdu_count += 1;
                m.log.push(msg.clone());
                let n = m.apdu_count;
                let fault = m
                    .faults
                    .iter()
                    .position(|(at, _)| *at == n)
                    .map(|i| m.faults.remove(i).1);
                match fault {
                    Some(Fault::Remove) => {
                        drop(m);
                        self.remove();
                        return Ok(());
                    }
                    Some(Fault::SwapTo(other)) => {
                        let r = m.process(&msg);
                        drop(m);
                        let mut out = (r.len() as u16).to_be_bytes().to_vec();
                        out.extend(r);
                        s.write_all(&out)?;
                        self.remove();
                        other
                            .insert()
                            .map_err(|e| std::io::Error::other(e.to_string()))?;
                        return Ok(());
                    }
                    Some(Fault::Answer(bytes)) => Some(bytes),
                    None => Some(m.process(&msg)),
                }
            };
            if let Some(r) = reply {
                let mut out = (r.len() as u16).to_be_bytes().to_vec();
                out.extend(r);
                s.write_all(&out)?;
            }
        }
    }
}

fn connect_retry(port: u16, patience: Duration) -> anyhow::Result<TcpStream> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return Ok(s),
            Err(e) if std::time::Instant::now() > deadline => {
                anyhow::bail!("vpcd on port {port} does not listen: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// vpcd writes length and APDU separately; without quick ACKs every exchange pays the
/// delayed-ACK timer (about 40 ms). See mynumber-card.md §11.
fn quickack(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_app::card::{ops, CardError, CardTransport};
    use kiosk_app::secret::Pin;

    impl CardTransport for CardModel {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
            Ok(self.process(apdu))
        }
    }

    #[test]
    fn model_follows_the_spec() {
        let mut c = CardModel::default();
        assert_eq!(ops::identify(&mut c).unwrap(), ops::CardKind::MyNumberCard);
        assert_eq!(ops::text_pin_tries(&mut c).unwrap(), 3);
        assert_eq!(
            ops::read_basic4(&mut c, &Pin::new_4_digits(b"9999").unwrap()).unwrap_err(),
            CardError::WrongPin { tries_left: 2 }
        );
        assert_eq!(
            ops::read_basic4(&mut c, &Pin::new_4_digits(b"1234").unwrap())
                .unwrap()
                .name
                .expose(),
            "山田　太郎"
        );
        assert_eq!(c.text_tries, 3, "a correct PIN resets the counter");
        assert_eq!(
            ops::jpki_auth_pin_tries(&mut c).unwrap(),
            3,
            "separate counters"
        );
        // Reading the basic-4 EF without the PIN is refused.
        c.reset();
        c.process(&kiosk_app::card::apdu::select_df(&AID_TEXT));
        c.process(&kiosk_app::card::apdu::select_ef(0x0002));
        assert_eq!(
            c.process(&kiosk_app::card::apdu::read_binary(0, 256)),
            vec![0x69, 0x82]
        );
        assert_eq!(c.process(&[0x00, 0xCA, 0x00, 0x00, 0x00]), vec![0x6D, 0x00]);
        assert_eq!(c.process(&[0x0C, 0xA4, 0x04, 0x0C]), vec![0x68, 0x82]);
    }

    #[test]
    fn jpki_signature_verifies_against_the_certificate() {
        let mut c = CardModel::default();
        let pin = Pin::new_4_digits(b"1234").unwrap();
        let ev = ops::jpki_authenticate(&mut c, &pin, b"application document").unwrap();
        assert_eq!(ev.certificate, c.pki.auth_cert_der);
        assert!(verify(
            &ev.certificate,
            b"application document",
            &ev.signature
        ));
        assert!(!verify(&ev.certificate, b"another document", &ev.signature));
        // Without the PIN the key refuses to sign.
        c.reset();
        c.process(&kiosk_app::card::apdu::select_df(&AID_JPKI));
        c.process(&kiosk_app::card::apdu::select_ef(0x0017));
        assert_eq!(
            c.process(&kiosk_app::card::apdu::jpki_sign(&[1; 51])),
            vec![0x69, 0x82]
        );
        // A wrong auth PIN costs the JPKI counter only.
        let wrong = Pin::new_4_digits(b"0000").unwrap();
        assert_eq!(
            ops::jpki_authenticate(&mut c, &wrong, b"x").unwrap_err(),
            CardError::WrongPin { tries_left: 2 }
        );
        assert_eq!((c.auth_tries, c.text_tries), (2, 3));
    }

    pub fn verify(cert_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let cert = openssl::x509::X509::from_der(cert_der).unwrap();
        let key = cert.public_key().unwrap();
        let mut v =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        v.update(message).unwrap();
        v.verify(signature).unwrap_or(false)
    }

    #[test]
    fn lock_after_three() {
        let mut c = CardModel::default();
        let bad = Pin::new_4_digits(b"0000").unwrap();
        assert_eq!(
            ops::read_basic4(&mut c, &bad).unwrap_err(),
            CardError::WrongPin { tries_left: 2 }
        );
        assert_eq!(
            ops::read_basic4(&mut c, &bad).unwrap_err(),
            CardError::WrongPin { tries_left: 1 }
        );
        assert_eq!(
            ops::read_basic4(&mut c, &bad).unwrap_err(),
            CardError::PinLocked
        );
        let before = c.log.len();
        assert_eq!(
            ops::read_basic4(&mut c, &Pin::new_4_digits(b"1234").unwrap()).unwrap_err(),
            CardError::PinLocked
        );
        let _ = before;
        assert_eq!(c.text_tries, 0);
    }
}
