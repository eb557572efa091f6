//! Every string the UI shows has its Japanese: each `@tr` of every `.slint` file, in the
//! component it is written in (the translation context Slint looks it up by), is in
//! `ui/lang/ja/LC_MESSAGES/kiosk-app.po` with a translation. A component renamed or a string
//! moved would otherwise fall back to English on a Japanese screen without any error.

use madoguchi_tests::harness::repo_root;
use std::collections::BTreeSet;
use std::path::Path;

/// (context, msgid) of every `@tr` in `file`: the context is the enclosing top-level
/// component, or the one given with `@tr("context" => "text")`.
fn tr_calls(file: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut component = String::new();
    let mut found = vec![];
    for line in text.lines() {
        let decl = line.strip_prefix("export ").unwrap_or(line);
        if let Some(rest) = decl
            .strip_prefix("component ")
            .or(decl.strip_prefix("global "))
        {
            component = rest.split_whitespace().next().unwrap_or("").to_owned();
        }
        let mut rest = line;
        while let Some(at) = rest.find("@tr(\"") {
            let args = &rest[at + 5..];
            let (first, after) = literal(args);
            let (context, msgid) = match after.trim_start().strip_prefix("=>") {
                Some(more) => {
                    let more = more
                        .trim_start()
                        .strip_prefix('"')
                        .expect("a string after =>");
                    (first.clone(), literal(more).0)
                }
                None => (component.clone(), first),
            };
            found.push((context, msgid));
            rest = after;
        }
    }
    found
}

/// The string literal at the start of `s` (after its opening quote), unescaped, and the rest.
fn literal(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => {
                if let Some((_, e)) = chars.next() {
                    out.push(match e {
                        'n' => '\n',
                        other => other,
                    });
                }
            }
            c => out.push(c),
        }
    }
    panic!("unterminated string in {s}")
}

/// (context, msgid) of every entry of a .po file that has a non-empty translation.
fn translated(po: &str) -> BTreeSet<(String, String)> {
    let mut entries = BTreeSet::new();
    let (mut ctx, mut id, mut str_) = (String::new(), String::new(), String::new());
    let mut field = "";
    let quoted = |l: &str| {
        let start = l.find('"').unwrap();
        literal(&l[start + 1..]).0
    };
    let mut flush = |ctx: &mut String, id: &mut String, str_: &mut String| {
        if !id.is_empty() && !str_.is_empty() {
            entries.insert((std::mem::take(ctx), std::mem::take(id)));
        }
        ctx.clear();
        id.clear();
        str_.clear();
    };
    for line in po.lines() {
        if line.starts_with("msgctxt") {
            flush(&mut ctx, &mut id, &mut str_);
            field = "ctx";
            ctx = quoted(line);
        } else if line.starts_with("msgid_plural") {
            field = "plural";
        } else if line.starts_with("msgid") {
            if field != "ctx" {
                flush(&mut ctx, &mut id, &mut str_);
            }
            field = "id";
            id = quoted(line);
        } else if line.starts_with("msgstr") {
            field = "str";
            str_ += &quoted(line);
        } else if line.starts_with('"') {
            match field {
                "ctx" => ctx += &quoted(line),
                "id" => id += &quoted(line),
                "str" => str_ += &quoted(line),
                _ => {}
            }
        } else if line.trim().is_empty() {
            field = "";
        }
    }
    flush(&mut ctx, &mut id, &mut str_);
    entries
}

#[test]
fn every_ui_string_has_its_japanese_in_the_component_it_is_written_in() {
    let ui = repo_root().join("ui");
    let mut calls = vec![];
    let mut dirs = vec![ui.clone()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "slint") {
                calls.extend(tr_calls(&p));
            }
        }
    }
    assert!(
        calls.len() > 100,
        "the UI's strings were found: {}",
        calls.len()
    );
    let po = std::fs::read_to_string(ui.join("lang/ja/LC_MESSAGES/kiosk-app.po")).unwrap();
    let have = translated(&po);
    let missing: Vec<_> = calls.iter().filter(|c| !have.contains(c)).collect();
    assert!(missing.is_empty(), "no Japanese for {missing:#?}");
}
