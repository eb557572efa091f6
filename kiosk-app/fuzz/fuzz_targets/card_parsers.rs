#![no_main]
//! Card answers: any bytes through the response, BER-TLV and basic-4 parsers. No panic, no
//! hang, and whatever parses as a basic-4 file re-encodes to a file that parses the same.

use kiosk_app_fuzz::card::{apdu, basic4, ber};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = apdu::Response::parse(data) {
        let _ = apdu::tries_in(r.sw);
    }
    let _ = ber::total_len(data);
    if let Ok(all) = ber::parse_all(data) {
        for tlv in all {
            assert!(tlv.value.len() <= data.len());
            if tlv.constructed {
                let _ = ber::parse_all(tlv.value);
            }
        }
    }
    if let Ok(b) = basic4::parse(data) {
        let again = basic4::encode(b.name.expose(), b.address.expose(), b.birth.expose(), b.sex.code());
        let b2 = basic4::parse(&again).expect("a re-encoded basic-4 file parses");
        assert_eq!(b.name.expose(), b2.name.expose());
        assert_eq!(b.address.expose(), b2.address.expose());
        assert_eq!(b.birth.expose(), b2.birth.expose());
        assert_eq!(b.sex, b2.sex);
    }
});
