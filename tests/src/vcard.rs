//! The virtual My Number card: the JPKI and 券面事項入力補助 applications with their files,
//! PIN counters and status words (mynumber-card.md §11), spoken over the vpcd socket protocol
//! so that pcscd sees a real reader with a real card. Scriptable from tests: holder data,
//! PINs and counters, a fault or a removal at the n-th APDU, how an oversized `Le` is answered.
//!
//! The card is an oracle independent of the kiosk: its AIDs and files are written here from
//! the specification's bytes (§3, §4.2, §7), never with the kiosk's own encoder or constants,
//! so that a bug shared by the kiosk's reader and the simulator cannot cancel out. A
//! third-party reader (pyscard, `tests/oracle/mynumber_read.py`) checks it in turn.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// 公的個人認証AP (JPKI), mynumber-card.md §3.
pub const AID_JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
/// 券面事項入力補助AP (the text AP), mynumber-card.md §3.
pub const AID_TEXT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];

/// The text AP's EF 0001 (the My Number, §4.2/§7.3): `FF 10 0C` + 12 ASCII digits + filler
/// `FF FF`, 17 bytes. The kiosk must never touch it; see [`touches_my_number_file`].
pub const MY_NUMBER_EF: [u8; 17] = [
    0xFF, 0x10, 0x0C, b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', b'9', b'0', b'1', b'8', 0xFF,
    0xFF,
];

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

impl Holder {
    /// The text AP's EF 0002 (基本4情報) as the specification lays it out (§7.2):
    /// `FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }`, UTF-8 text,
    /// BER lengths in short or `81`/`82` long form, and `DF21` holding four big-endian u16
    /// offsets counted from the start of the file to the `DF22`…`DF25` headers. Written
    /// from the document, not with the kiosk's `basic4::encode`; for the default holder it
    /// is byte for byte the spec's example (checked in `default_holder_is_the_spec_example`).
    pub fn basic4_ef(&self) -> Vec<u8> {
        let fields: Vec<Vec<u8>> = [
            (0x22, self.name.as_bytes()),
            (0x23, self.address.as_bytes()),
            (0x24, self.birth.as_bytes()),
            (0x25, self.sex.as_bytes()),
        ]
        .iter()
        .map(|(tag, value)| tlv(&[0xDF, *tag], value))
        .collect();
        // The DF21 TLV is 2 tag + 1 length + 8 offset bytes, whatever the offsets are.
        const OFFSETS_TLV: usize = 11;
        let body_len = OFFSETS_TLV + fields.iter().map(Vec::len).sum::<usize>();
        let outer_header = 2 + ber_length(body_len).len();
        let mut offsets = Vec::with_capacity(8);
        let mut at = outer_header + OFFSETS_TLV;
        for f in &fields {
            offsets.extend_from_slice(&(at as u16).to_be_bytes());
            at += f.len();
        }
        let mut body = tlv(&[0xDF, 0x21], &offsets);
        for f in fields {
            body.extend(f);
        }
        tlv(&[0xFF, 0x20], &body)
    }
}

/// A BER length: short form below 128, else `81 xx` or `82 xx xx` (§7.1).
fn ber_length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7F => vec![len as u8],
        0x80..=0xFF => vec![0x81, len as u8],
        _ => {
            let [hi, lo] = (len as u16).to_be_bytes();
            vec![0x82, hi, lo]
        }
    }
}

fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = tag.to_vec();
    v.extend(ber_length(value.len()));
    v.extend_from_slice(value);
    v
}

/// What the card answers to a READ BINARY whose `Le` asks for more bytes than are left in
/// the file. Real cards differ (mynumber-card.md §6, ISO 7816-4 §5.1.3), so the reader must
/// cope with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeBeyondEnd {
    /// The bytes left with `9000`: what the tex2e trace shows (§6, confidence C).
    Remainder,
    /// The bytes left with `6282` ("end of file reached before reading Le bytes").
    EndOfFile,
    /// No data and `6Cxx`, xx being the exact number of bytes left ("wrong length").
    WrongLength,
}

/// Whether a command APDU touches the text AP's EF 0001 (the My Number) in any form: a
/// SELECT by file id or by path ending in `00 01` with any P1 (except selection by DF name)
/// and any P2; READ/UPDATE/WRITE BINARY by short EF id 1 (`P1` = `81`); the odd-INS READ
/// BINARY naming file `0001`; READ RECORD by SFI 1. The one matcher every test uses. It
/// cannot know the current DF, so it also matches JPKI's EF 0001 (the signing certificate),
/// which the kiosk never touches either.
pub fn touches_my_number_file(apdu: &[u8]) -> bool {
    let [_, ins, p1, p2, rest @ ..] = apdu else {
        return false;
    };
    match ins {
        0xA4 => {
            let Some((&lc, data)) = rest.split_first() else {
                return false;
            };
            let data = &data[..(lc as usize).min(data.len())];
            *p1 != 0x04 && data.len() >= 2 && data.len() % 2 == 0 && data.ends_with(&[0x00, 0x01])
        }
        0xB0 | 0xD6 | 0xD0 | 0x0E => p1 & 0x80 != 0 && p1 & 0x1F == 0x01,
        0xB1 | 0xD7 => [*p1, *p2] == [0x00, 0x01],
        0xB2 | 0xB3 | 0xDC | 0xE2 => p2 >> 3 == 0x01,
        _ => false,
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
    /// Every command received, in order (VERIFY data included: this is a test double),
    /// whether it came over vpcd or straight through [`CardModel::process`].
    pub log: Vec<Vec<u8>>,
    /// The status word of every answer [`CardModel::process`] gave, in order.
    pub sw_log: Vec<u16>,
    /// How a READ BINARY asking for more than is left is answered.
    pub le_beyond_end: LeBeyondEnd,
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
            sw_log: vec![],
            le_beyond_end: LeBeyondEnd::Remainder,
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
            (Df::Text, 0x0002) => Some(self.holder.basic4_ef()),
            (Df::Text, 0x0001) => Some(MY_NUMBER_EF.to_vec()),
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

    /// Commands in the log that touch the My Number file ([`touches_my_number_file`]).
    pub fn my_number_accesses(&self) -> Vec<Vec<u8>> {
        self.log
            .iter()
            .filter(|a| touches_my_number_file(a))
            .cloned()
            .collect()
    }

    /// Processes one command APDU, logs it and its status word, and returns the response
    /// (data ‖ SW).
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.log.push(apdu.to_vec());
        let r = self.answer(apdu);
        if let [.., a, b] = r[..] {
            self.sw_log.push(u16::from_be_bytes([a, b]));
        }
        r
    }

    fn answer(&mut self, apdu: &[u8]) -> Vec<u8> {
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
                let left = &file[offset..];
                let (mut out, status) = if le <= left.len() {
                    (left[..le].to_vec(), 0x9000)
                } else {
                    match self.le_beyond_end {
                        LeBeyondEnd::Remainder => (left.to_vec(), 0x9000),
                        LeBeyondEnd::EndOfFile => (left.to_vec(), 0x6282),
                        // left < le <= 256, so the exact length fits in SW2.
                        LeBeyondEnd::WrongLength => (vec![], 0x6C00 | left.len() as u16),
                    }
                };
                out.extend(sw(status));
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
                let n = m.apdu_count;
                let fault = m
                    .faults
                    .iter()
                    .position(|(at, _)| *at == n)
                    .map(|i| m.faults.remove(i).1);
                if matches!(fault, Some(Fault::Remove | Fault::Answer(_))) {
                    m.log.push(msg.clone()); // not processed, but received
                }
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

    /// Commands written out from the spec (§5), not with the kiosk's builders.
    fn select_df(aid: &[u8; 10]) -> Vec<u8> {
        [&[0x00, 0xA4, 0x04, 0x0C, 0x0A][..], aid].concat()
    }
    const SELECT_EF_0002: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x02];
    const SELECT_EF_0011: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x11];
    const VERIFY_1234: [u8; 9] = [0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34];

    fn verifies_with_data(log: &[Vec<u8>]) -> usize {
        log.iter().filter(|a| a.len() > 4 && a[1] == 0x20).count()
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
        c.process(&select_df(&AID_TEXT));
        c.process(&SELECT_EF_0002);
        assert_eq!(c.process(&[0x00, 0xB0, 0x00, 0x00, 0x00]), vec![0x69, 0x82]);
        assert_eq!(c.process(&[0x00, 0xCA, 0x00, 0x00, 0x00]), vec![0x6D, 0x00]);
        assert_eq!(c.process(&[0x0C, 0xA4, 0x04, 0x0C]), vec![0x68, 0x82]);
    }

    /// The default holder's EF 0002 is the spec's byte-exact example (§7.2: myna-card's
    /// fixture, offsets 14, 32, 89, 100), and the tags and lengths are the spec's.
    #[test]
    fn default_holder_is_the_spec_example() {
        let f = Holder::default().basic4_ef();
        assert_eq!(f.len(), 104, "FF 20 65: a 101-byte value, 104-byte file");
        assert_eq!(
            f[..16],
            [
                0xFF, 0x20, 0x65, 0xDF, 0x21, 0x08, 0x00, 0x0E, 0x00, 0x20, 0x00, 0x59, 0x00, 0x64,
                0xDF, 0x22
            ]
        );
        assert_eq!(f[16], 0x0F, "15 bytes of UTF-8 name");
        assert_eq!(&f[17..32], "山田　太郎".as_bytes());
        assert_eq!(f[32..35], [0xDF, 0x23, 0x36]);
        assert_eq!(
            &f[35..89],
            "埼玉県入間郡毛呂山町中央２丁目１番地".as_bytes()
        );
        assert_eq!(&f[89..], b"\xDF\x24\x0819800217\xDF\x25\x011");
        // Long-form lengths when a field outgrows 127 bytes (and the file 255).
        let long = Holder {
            address: "あ".repeat(100),
            ..Holder::default()
        }
        .basic4_ef();
        assert_eq!(long[..3], [0xFF, 0x20, 0x82]);
        let body = u16::from_be_bytes([long[3], long[4]]) as usize;
        assert_eq!(long.len(), 5 + body);
        let addr_at = u16::from_be_bytes([long[10], long[11]]) as usize;
        assert_eq!(long[addr_at..addr_at + 5], [0xDF, 0x23, 0x82, 0x01, 0x2C]);
        // The kiosk's reader agrees with the spec's bytes.
        let b = kiosk_app::card::basic4::parse(&f).unwrap();
        assert_eq!(
            (b.name.expose().as_str(), b.birth.expose().as_str()),
            ("山田　太郎", "19800217")
        );
    }

    /// Each way of answering an oversized `Le`: what comes back for 256 asked with 104 left,
    /// and the kiosk's reader gets the whole file under each.
    #[test]
    fn oversized_le_answers() {
        let pin = Pin::new_4_digits(b"1234").unwrap();
        for (mode, sw, data, apdus) in [
            (LeBeyondEnd::Remainder, 0x9000, 104, 6),
            (LeBeyondEnd::EndOfFile, 0x6282, 104, 6),
            (LeBeyondEnd::WrongLength, 0x6C68, 0, 7),
        ] {
            let mut c = CardModel {
                le_beyond_end: mode,
                ..CardModel::default()
            };
            c.process(&select_df(&AID_TEXT));
            c.process(&SELECT_EF_0011);
            c.process(&VERIFY_1234);
            c.process(&SELECT_EF_0002);
            let r = c.process(&[0x00, 0xB0, 0x00, 0x00, 0x00]);
            assert_eq!(r.len(), data + 2, "{mode:?}");
            assert_eq!(u16::from_be_bytes([r[data], r[data + 1]]), sw, "{mode:?}");
            // Exactly what is left: 9000 in every mode.
            let r = c.process(&[0x00, 0xB0, 0x00, 0x60, 0x08]);
            assert_eq!(r[8..], [0x90, 0x00], "{mode:?}");
            let before = c.log.len();
            let b = ops::read_basic4(&mut c, &pin).unwrap();
            assert_eq!(b.name.expose(), "山田　太郎", "{mode:?}");
            assert_eq!(c.log.len() - before, apdus, "{mode:?}");
        }
    }

    #[test]
    fn my_number_matcher_sees_every_form() {
        let touching: &[&[u8]] = &[
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01],
            &[0x00, 0xA4, 0x02, 0x00, 0x02, 0x00, 0x01],
            &[0x00, 0xA4, 0x02, 0x04, 0x02, 0x00, 0x01, 0x00],
            &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x00, 0x01],
            &[0x00, 0xA4, 0x01, 0x0C, 0x02, 0x00, 0x01],
            &[0x00, 0xA4, 0x08, 0x0C, 0x04, 0x3F, 0x00, 0x00, 0x01],
            &[0x00, 0xA4, 0x09, 0x0C, 0x02, 0x00, 0x01],
            &[0x00, 0xB0, 0x81, 0x00, 0x00],
            &[0x00, 0xB0, 0x81, 0x03, 0x0C],
            &[0x00, 0xB1, 0x00, 0x01, 0x04, 0x54, 0x02, 0x00, 0x00, 0x00],
            &[0x00, 0xB2, 0x01, 0x0C, 0x00],
        ];
        for a in touching {
            assert!(touches_my_number_file(a), "{a:02X?}");
        }
        let harmless: &[&[u8]] = &[
            &select_df(&AID_JPKI), // the JPKI AID also ends in 00 01
            &select_df(&AID_TEXT),
            &SELECT_EF_0002,
            &SELECT_EF_0011,
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18],
            &[0x00, 0xB0, 0x00, 0x01, 0x00], // offset 1 of the selected EF
            &[0x00, 0xB0, 0x82, 0x00, 0x00], // SFI 2
            &VERIFY_1234,
            &[0x00, 0x20, 0x00, 0x81], // VERIFY with key reference 1
        ];
        for a in harmless {
            assert!(!touches_my_number_file(a), "{a:02X?}");
        }
    }

    /// Every card operation of the kiosk, wrong PINs and a locked PIN included: none of them
    /// touches EF 0001 in any form.
    #[test]
    fn kiosk_never_touches_the_my_number_file() {
        let mut c = CardModel::default();
        let pin = Pin::new_4_digits(b"1234").unwrap();
        let wrong = Pin::new_4_digits(b"0000").unwrap();
        ops::identify(&mut c).unwrap();
        ops::text_pin_tries(&mut c).unwrap();
        ops::read_basic4(&mut c, &pin).unwrap();
        ops::jpki_authenticate(&mut c, &pin, b"doc").unwrap();
        for _ in 0..4 {
            let _ = ops::read_basic4(&mut c, &wrong);
        }
        assert!(c.log.len() > 30);
        assert_eq!(c.my_number_accesses(), Vec::<Vec<u8>>::new());
        // The check can see one.
        c.process(&[0x00, 0xB0, 0x81, 0x00, 0x11]);
        assert_eq!(c.my_number_accesses().len(), 1);
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
        c.process(&select_df(&AID_JPKI));
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17]);
        let mut sign = vec![0x80, 0x2A, 0x00, 0x80, 51];
        sign.extend([1; 51]);
        sign.push(0x00);
        assert_eq!(c.process(&sign), vec![0x69, 0x82]);
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
        assert_eq!(verifies_with_data(&c.log), 3, "the log sees every VERIFY");
        let before = c.log.len();
        assert_eq!(
            ops::read_basic4(&mut c, &Pin::new_4_digits(b"1234").unwrap()).unwrap_err(),
            CardError::PinLocked
        );
        assert!(c.log.len() > before, "the locked read asked the card");
        assert_eq!(
            verifies_with_data(&c.log[before..]),
            0,
            "a locked PIN is never tried: no VERIFY with data"
        );
        assert_eq!(c.text_tries, 0);
    }
}
