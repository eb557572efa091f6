//! Reads ESC/POS bytes back into text lines, QR payloads and cuts. The tests assert on this
//! and the virtual printer renders from it. Unknown commands are an error, so a byte the
//! layout did not mean to send is caught.

/// One thing the bytes print or ask.
#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    /// A printed line.
    Text {
        /// Decoded from Shift_JIS (kanji mode) or ASCII.
        text: String,
        /// Character width multiple.
        width: u8,
        /// Character height multiple.
        height: u8,
        /// Emphasised.
        bold: bool,
        /// 0 left, 1 centre, 2 right.
        align: u8,
    },
    /// An empty printed line (line feed with no text).
    Feed,
    /// A QR code (Model 2).
    Qr {
        /// Its payload.
        data: String,
        /// Dot size of one module.
        module: u8,
    },
    /// Raster image `GS v 0`: width in bytes, height in dots.
    Raster {
        /// Bytes per row.
        width_bytes: usize,
        /// Rows.
        height: usize,
        /// The dots.
        data: Vec<u8>,
    },
    /// A paper cut.
    Cut,
    /// `GS r n` (the confirmation marker) or `DLE EOT n`: answered, not printed.
    Query(u8, u8),
}

/// A receipt read back.
#[derive(Debug, Default, Clone)]
pub struct Decoded {
    /// In print order.
    pub elements: Vec<Element>,
}

impl Decoded {
    /// The printed text, line by line.
    pub fn text_lines(&self) -> Vec<String> {
        self.elements
            .iter()
            .filter_map(|e| {
                if let Element::Text { text, .. } = e {
                    Some(text.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    /// Every QR payload.
    pub fn qr_payloads(&self) -> Vec<String> {
        self.elements
            .iter()
            .filter_map(|e| {
                if let Element::Qr { data, .. } = e {
                    Some(data.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    /// How many cuts.
    pub fn cuts(&self) -> usize {
        self.elements
            .iter()
            .filter(|e| matches!(e, Element::Cut))
            .count()
    }
}

/// Why bytes could not be read back.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    /// A command is cut off.
    #[error("command at byte {at} is cut off")]
    Truncated {
        /// Its first byte's offset.
        at: usize,
    },
    /// A command the decoder does not know.
    #[error("unknown command {bytes:02X?} at byte {at}")]
    Unknown {
        /// Its offset.
        at: usize,
        /// Its first bytes.
        bytes: Vec<u8>,
    },
}

struct State {
    width: u8,
    height: u8,
    bold: bool,
    align: u8,
    kanji: bool,
    line: Vec<u8>,
    qr_data: Vec<u8>,
    qr_module: u8,
}

impl State {
    /// The printer's state after `ESC @`.
    fn new() -> Self {
        State {
            width: 1,
            height: 1,
            bold: false,
            align: 0,
            kanji: false,
            line: vec![],
            qr_data: vec![],
            qr_module: 3,
        }
    }
}

/// Decodes a whole job.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut out = Decoded::default();
    let mut s = State::new();
    let mut i = 0;
    let need = |i: usize, n: usize| {
        if i + n <= bytes.len() {
            Ok(())
        } else {
            Err(DecodeError::Truncated { at: i })
        }
    };
    let unknown = |i: usize, n: usize| DecodeError::Unknown {
        at: i,
        bytes: bytes[i..(i + n).min(bytes.len())].to_vec(),
    };
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            0x0A => {
                flush(&mut s, &mut out, true);
                i += 1;
            }
            0x0D => i += 1,
            0x1B => {
                need(i, 2)?;
                match bytes[i + 1] {
                    b'@' => {
                        flush(&mut s, &mut out, false);
                        s = State::new();
                        i += 2;
                    }
                    b'2' => i += 2,
                    b'E' => {
                        need(i, 3)?;
                        s.bold = bytes[i + 2] & 1 == 1;
                        i += 3;
                    }
                    b'a' => {
                        need(i, 3)?;
                        s.align = bytes[i + 2] % 48;
                        i += 3;
                    }
                    b'd' => {
                        need(i, 3)?;
                        flush(&mut s, &mut out, true);
                        for _ in 1..bytes[i + 2] {
                            out.elements.push(Element::Feed);
                        }
                        i += 3;
                    }
                    b'-' | b'G' | b'M' | b'V' | b'{' | b'R' | b't' | b'3' | b'!' => {
                        need(i, 3)?;
                        i += 3;
                    }
                    _ => return Err(unknown(i, 2)),
                }
            }
            0x1C => {
                need(i, 2)?;
                match bytes[i + 1] {
                    b'C' => {
                        need(i, 3)?;
                        s.kanji = bytes[i + 2] % 48 == 1;
                        i += 3;
                    }
                    b'&' | b'.' => i += 2,
                    _ => return Err(unknown(i, 2)),
                }
            }
            0x1D => {
                need(i, 2)?;
                match bytes[i + 1] {
                    b'!' => {
                        need(i, 3)?;
                        s.width = (bytes[i + 2] >> 4) + 1;
                        s.height = (bytes[i + 2] & 0x0F) + 1;
                        i += 3;
                    }
                    b'B' | b'b' | b'a' => {
                        need(i, 3)?;
                        i += 3;
                    }
                    b'r' | b'I' => {
                        need(i, 3)?;
                        out.elements
                            .push(Element::Query(bytes[i + 1], bytes[i + 2]));
                        i += 3;
                    }
                    b'V' => {
                        need(i, 3)?;
                        flush(&mut s, &mut out, false);
                        let m = bytes[i + 2];
                        i += if matches!(m, 65 | 66 | 97 | 98 | 103 | 104) {
                            4
                        } else {
                            3
                        };
                        need(i, 0)?;
                        out.elements.push(Element::Cut);
                    }
                    b'(' => {
                        need(i, 5)?;
                        let len = u16::from_le_bytes([bytes[i + 3], bytes[i + 4]]) as usize;
                        need(i + 5, len)?;
                        let body = &bytes[i + 5..i + 5 + len];
                        if bytes[i + 2] == b'k' && body.len() >= 2 && body[0] == 49 {
                            match body[1] {
                                67 if body.len() >= 3 => s.qr_module = body[2],
                                80 if body.len() >= 3 => s.qr_data = body[3..].to_vec(),
                                81 => {
                                    flush(&mut s, &mut out, false);
                                    out.elements.push(Element::Qr {
                                        data: String::from_utf8_lossy(&s.qr_data).into_owned(),
                                        module: s.qr_module,
                                    });
                                }
                                _ => {}
                            }
                        }
                        i += 5 + len;
                    }
                    b'v' => {
                        need(i, 8)?;
                        let wb = u16::from_le_bytes([bytes[i + 4], bytes[i + 5]]) as usize;
                        let h = u16::from_le_bytes([bytes[i + 6], bytes[i + 7]]) as usize;
                        need(i + 8, wb * h)?;
                        flush(&mut s, &mut out, false);
                        out.elements.push(Element::Raster {
                            width_bytes: wb,
                            height: h,
                            data: bytes[i + 8..i + 8 + wb * h].to_vec(),
                        });
                        i += 8 + wb * h;
                    }
                    _ => return Err(unknown(i, 2)),
                }
            }
            0x10 => {
                need(i, 3)?;
                if bytes[i + 1] != 0x04 {
                    return Err(unknown(i, 3));
                }
                out.elements.push(Element::Query(0x04, bytes[i + 2]));
                i += 3;
            }
            0x00..=0x1F => return Err(unknown(i, 1)),
            _ => {
                // Text; a Shift_JIS lead byte takes its trail byte with it.
                let two = s.kanji && ((0x81..=0x9F).contains(&b) || (0xE0..=0xFC).contains(&b));
                let n = if two { 2 } else { 1 };
                need(i, n)?;
                s.line.extend_from_slice(&bytes[i..i + n]);
                i += n;
            }
        }
    }
    flush(&mut s, &mut out, false);
    Ok(Decoded {
        elements: out.elements,
    })
}

fn flush(s: &mut State, out: &mut Decoded, newline: bool) {
    if s.line.is_empty() {
        if newline {
            out.elements.push(Element::Feed);
        }
        return;
    }
    let text = if s.kanji {
        encoding_rs::SHIFT_JIS.decode(&s.line).0.into_owned()
    } else {
        s.line.iter().map(|&b| b as char).collect()
    };
    out.elements.push(Element::Text {
        text,
        width: s.width,
        height: s.height,
        bold: s.bold,
        align: s.align,
    });
    s.line.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_kanji_qr_and_cut() {
        let mut b = vec![0x1B, 0x40, 0x1C, 0x43, 0x01];
        b.extend(encoding_rs::SHIFT_JIS.encode("住民票").0.iter());
        b.push(0x0A);
        b.extend([
            0x1D, 0x28, 0x6B, 0x06, 0x00, 0x31, 0x50, 0x30, b'A', b'-', b'1',
        ]);
        b.extend([0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]);
        b.extend([0x1D, 0x56, 0x41, 0x00]);
        let d = decode(&b).unwrap();
        assert_eq!(d.text_lines(), vec!["住民票"]);
        assert_eq!(d.qr_payloads(), vec!["A-1"]);
        assert_eq!(d.cuts(), 1);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode(&[0x1D, 0x28, 0x6B, 0xFF, 0xFF]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            decode(&[0x1B, 0x99]),
            Err(DecodeError::Unknown { .. })
        ));
        assert!(matches!(
            decode(&[0x1C, 0x43, 0x01, 0x88]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(decode(&[]).unwrap().elements.is_empty());
    }
}
