//! `kioskctl card`: the reader and the card (never a VERIFY without the holder's PIN).

use super::*;

pub fn status(config: &Path, json: bool) -> Result<(), Failure> {
    let cfg = load(config)?;
    let v = card_status(cfg.card.reader.as_deref())?;
    print(json, v.clone(), || format!("{v:#}"));
    Ok(())
}

pub fn read(config: &Path, json: bool, allow_last_try: bool) -> Result<(), Failure> {
    let cfg = load(config)?;
    let mut input = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| fail("stdin", e))?;
    let pin = Pin::new_4_digits(input.trim().as_bytes()).map_err(|e| fail("pin-format", e))?;
    drop(input);
    let b = pcsc_reader::with_card(cfg.card.reader.as_deref(), |t| {
        ops::identify(t)?.check_usable()?;
        ops::read_basic4_checked(t, &pin, ops::last_try_needs_consent(allow_last_try))
    })
    .map_err(|e| match e {
        CardError::PinLastTry => Failure {
            message: format!(
                "{e}. A wrong PIN now locks the card until it is reset at the municipal \
                     office. If the holder is sure of the PIN, run again with --allow-last-try."
            ),
            ..e.into()
        },
        e => e.into(),
    })?;
    let birth = b.birth.expose();
    let v = json!({
        "ok": true,
        "name": b.name.expose(),
        "address": b.address.expose(),
        "birth_date": format!("{}-{}-{}", &birth[..4], &birth[4..6], &birth[6..]),
        "sex": b.sex.code(),
    });
    print(json, v, || {
        format!(
            "{}\n{}\n{}\n{}",
            b.name.expose(),
            b.address.expose(),
            birth,
            b.sex.code()
        )
    });
    Ok(())
}

pub fn card_status(filter: Option<&str>) -> Result<serde_json::Value, Failure> {
    let ctx = pcsc_reader::establish()?;
    let readers: Vec<ReaderInfo> = pcsc_reader::list_readers(&ctx, filter)?;
    if readers.is_empty() {
        return Err(CardError::NoReader.into());
    }
    let present = readers.iter().any(|r| r.card_present);
    let mut v = json!({ "ok": true, "readers": readers, "card_present": present });
    if present {
        let probe = pcsc_reader::with_card(filter, |t| {
            let kind = ops::identify(t)?;
            let auth = if kind == CardKind::MyNumberCard {
                Some(ops::jpki_auth_pin_tries(t)?)
            } else {
                None
            };
            let text = if kind == CardKind::MyNumberCard {
                Some(ops::text_pin_tries(t))
            } else {
                None
            };
            Ok((kind, auth, text))
        });
        match probe {
            Ok((kind, auth, text)) => {
                v["card_type"] = json!(kind);
                v["jpki_auth_pin_tries_left"] = json!(auth);
                match text {
                    Some(Ok(n)) => v["text_pin_tries_left"] = json!(n),
                    Some(Err(e)) => v["text-ap-error"] = json!(e.code()),
                    None => {}
                }
                if let Err(e) = kind.check_usable() {
                    v["error"] = json!({ "code": e.code(), "message": e.to_string() });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(v)
}
