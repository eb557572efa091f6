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
}
