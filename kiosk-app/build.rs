fn main() {
    // The manifest directory of *this* build (read at run time: a build script binary can be
    // reused for another checkout sharing the target directory).
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let ui = std::path::Path::new(&dir).join("../ui");
    let config =
        slint_build::CompilerConfiguration::new().with_bundled_translations(ui.join("lang"));
    slint_build::compile_with_config(ui.join("app.slint"), config).expect("Slint UI compiles");
}
