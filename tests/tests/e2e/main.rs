//! The end-to-end and oracle tests, one module per subject, linked into one test binary (as
//! ripgrep's `tests/tests.rs`): one link instead of one per file, and nextest still runs every
//! test in a process of its own, which Slint's once-per-process event loop needs.

mod card_oracle;
mod card_pcsc;
mod card_swap;
mod cli_contracts;
mod config_check;
mod disk_full;
mod e2e_interruptions;
mod e2e_print_deadline_fifo;
mod e2e_print_deadline_host;
mod e2e_print_deadline_tcp;
mod e2e_session;
mod e2e_staff_lockout;
mod e2e_staff_reprint;
mod jwe_oracle;
mod kiosk_crash;
mod kiosk_service;
mod memory_after_session;
mod monitoring;
mod openapi_contract;
mod outbox_power_cut;
mod package_install;
mod printer_faults;
mod receipt_oracle;
mod sync_audit;
mod sync_chaos;
mod sync_claims;
mod sync_delivery;
mod sync_robustness;
mod tls_request;
mod translations;
