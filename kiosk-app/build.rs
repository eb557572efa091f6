fn main() {
    // The manifest directory of *this* build (read at run time: a build script binary can be
    // reused for another checkout sharing the target directory).
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let ui = std::path::Path::new(&dir).join("../ui");
    // Element ids and debug info, which the UI tests and the headless demo query, only when
    // they ask for them (the tests crate enables `test-support`); a kiosk build has none.
    let ui_testing = std::env::var_os("CARGO_FEATURE_TEST_SUPPORT").is_some();
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(ui.join("lang"))
        .with_debug_info(ui_testing);
    slint_build::compile_with_config(ui.join("app.slint"), config).expect("Slint UI compiles");
    languages(&std::path::Path::new(&dir).join("../assets/lang"));
}

/// Embeds every `assets/lang/<code>.toml`: adding a language is adding its file (and its
/// `ui/lang/<code>/LC_MESSAGES/kiosk-app.po`), no code. Japanese comes first and English
/// second (`Lang::JA`, `Lang::EN`), the others by code.
fn languages(dir: &std::path::Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("assets/lang exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    let code = |p: &std::path::PathBuf| p.file_stem().unwrap().to_string_lossy().into_owned();
    files.sort_by_key(|p| match code(p).as_str() {
        "ja" => (0, String::new()),
        "en" => (1, String::new()),
        c => (2, c.to_owned()),
    });
    assert!(
        files.len() >= 2 && code(&files[0]) == "ja" && code(&files[1]) == "en",
        "assets/lang needs ja.toml and en.toml"
    );
    let mut out = String::from(
        "/// (code, file) of every built-in language.\npub static BUILT_IN: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        out += &format!(
            "    ({:?}, include_str!({:?})),\n",
            code(f),
            f.canonicalize().unwrap()
        );
    }
    out += "];\n";
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("languages.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
