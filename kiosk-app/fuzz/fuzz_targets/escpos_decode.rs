#![no_main]
//! ESC/POS bytes (what the virtual printer and the tests read back): no panic, no hang.

use kiosk_app_fuzz::receipt::decode::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
});
