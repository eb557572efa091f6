//! `kioskctl printer`: state, test receipt, the receipts never confirmed, reprints.

use super::*;

pub fn status(config: &Path, json: bool) -> Result<(), Failure> {
    let cfg = load(config)?;
    let connection = cfg.printer.connection.to_string();
    let status = bounded(&ReceiptPrinter::from_config(&cfg), "printer-silent", |p| {
        p.status()
    })?
    .map_err(|e| fail(e.code(), format!("printer {connection}: {e}")))?;
    let v = json!({ "ok": true, "connection": connection, "status": status, "ready": status.problem().is_none() });
    print(json, v, || format!("printer {connection}: {status:?}"));
    Ok(())
}

pub fn test(config: &Path, json: bool) -> Result<(), Failure> {
    let cfg = load(config)?;
    let job = kiosk_app::session::ReceiptJob {
        receipt_number: format!("{}-TEST", cfg.sync.kiosk.id),
        submitted_at: counter_core::hours::japan_now(),
        lang: kiosk_app::domain::Lang::JA,
        municipality_ja: "テスト印刷".into(),
        municipality_local: "テスト印刷".into(),
        procedure_ja: "印刷の確認（申請ではありません）".into(),
        procedure_local: "印刷の確認（申請ではありません）".into(),
        processing_from: None,
        reissue: false,
    };
    bounded(
        &ReceiptPrinter::from_config(&cfg),
        "unconfirmed",
        move |p| p.print(&job),
    )?
    .map_err(|e| fail(e.code(), format!("test receipt not printed: {e}")))?;
    let connection = cfg.printer.connection.to_string();
    let v = json!({ "ok": true, "connection": connection });
    print(json, v, || {
        format!("test receipt printed and confirmed by {connection}")
    });
    Ok(())
}

pub fn unconfirmed(config: &Path, json: bool) -> Result<(), Failure> {
    let cfg = load(config)?;
    let rows = Outbox::attach(&cfg.sync.outbox.path)
        .and_then(|o| o.unprinted())
        .map_err(|e| fail("outbox-error", e))?;
    let list: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "receipt_number": r.receipt_number,
                "submitted_at": r.submitted_at,
                "municipality_code": r.municipality_code,
                "procedure_code": r.procedure_code,
                "problem": r.print_problem,
            })
        })
        .collect();
    print(json, json!({ "ok": true, "unconfirmed": list }), || {
        if rows.is_empty() {
            return "every receipt was confirmed by the printer".into();
        }
        rows.iter()
            .map(|r| {
                format!(
                    "{}  {}  {} {}  {}",
                    r.receipt_number,
                    r.submitted_at,
                    r.municipality_code,
                    r.procedure_code,
                    r.print_problem.as_deref().unwrap_or("not printed")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub fn reprint(config: &Path, json: bool, receipt: String) -> Result<(), Failure> {
    let cfg = load(config)?;
    let world = cfg.load_world().map_err(|e| fail("config-error", e))?;
    let mut outbox = Outbox::attach(&cfg.sync.outbox.path).map_err(|e| fail("outbox-error", e))?;
    let number = receipt.clone();
    let status = bounded(
        &ReceiptPrinter::from_config(&cfg),
        "unconfirmed",
        move |p| service::reprint(&mut outbox, &world, &p, &number),
    )?
    .map_err(|e| match &e {
        service::ReprintError::Printer(p) => {
            fail(p.code(), format!("receipt {receipt} not reprinted: {e}"))
        }
        service::ReprintError::Outbox(OutboxError::NotFound(_)) => {
            fail("not-found", format!("no receipt {receipt} in the outbox"))
        }
        _ => fail("reprint-error", e),
    })?;
    let v =
        json!({ "ok": true, "receipt_number": receipt, "paper_near_end": status.paper_near_end });
    print(json, v, || {
        format!(
            "receipt {receipt} reprinted and confirmed by {}",
            cfg.printer.connection
        )
    });
    Ok(())
}
