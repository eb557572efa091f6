fn main() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui");
    let config =
        slint_build::CompilerConfiguration::new().with_bundled_translations(ui.join("lang"));
    slint_build::compile_with_config(ui.join("app.slint"), config).expect("Slint UI compiles");
}
