#[path = "../../../src/receipt/decode.rs"]
pub mod decode;
