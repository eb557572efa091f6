//! Submits applications through the kiosk's own `Submitter` in a loop, printing each receipt
//! number only once `submit` has returned, i.e. once a resident would see "submitted". The
//! crash test kills this process with SIGKILL at random moments and then checks that every
//! printed number is in the outbox.

use kiosk_app::card::basic4::{Basic4, Sex};
use kiosk_app::config::KioskConfig;
use kiosk_app::domain::Lang;
use kiosk_app::secret::SecretString;
use kiosk_app::session::Submission;
use kiosk_app::submit::Submitter;
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let config = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: submit-loop KIOSK.TOML"))?;
    let cfg = KioskConfig::load(std::path::Path::new(&config))?;
    let codes: Vec<String> = cfg
        .sync
        .municipalities
        .iter()
        .map(|m| m.code.clone())
        .collect();
    let mut submitter = Submitter::open(&cfg)?;
    let mut out = std::io::stdout().lock();
    // The same holder as the virtual card's, so the tests' secret-absence checks fit.
    let holder = madoguchi_tests::vcard::Holder::default();
    for i in 0.. {
        let submission = Submission {
            municipality_code: codes[i % codes.len()].clone(),
            procedure_code: "juminhyo-copy".into(),
            applicant: Basic4 {
                name: SecretString::new(holder.name.clone()),
                address: SecretString::new(holder.address.clone()),
                birth: SecretString::new(holder.birth.clone()),
                sex: Sex::Male,
            },
            answers: vec![("copies".into(), "1".into())],
            lang: Lang::JA,
        };
        let submitted = submitter.submit(submission)?;
        writeln!(out, "{}", submitted.receipt_number)?;
        out.flush()?;
    }
    Ok(())
}
