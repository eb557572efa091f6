//! `kioskctl staff`: the staff PIN's hash for the config.

use super::*;

pub fn hash_pin(json: bool) -> Result<(), Failure> {
    let mut input = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| fail("stdin", e))?;
    let hash = kiosk_app::staff_pin::hash_pin(input.trim().as_bytes())
        .map_err(|e| fail("pin-format", e))?;
    print(json, json!({ "ok": true, "pin_hash": hash }), || {
        hash.clone()
    });
    Ok(())
}
