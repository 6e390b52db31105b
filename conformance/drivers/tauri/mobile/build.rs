//! Points the crate at the original `lib.rs` in `$PEEK_ORIGINAL_DIR`:
//! writes an `include!` of it (inside `mod app`, with the driver's glue as
//! a child module so it can call the app's private commands) and the
//! source digest into OUT_DIR. Nothing of the original is copied into the
//! repository.

use std::path::PathBuf;

const FILES: &[&str] = &["backend/tauri-mobile/src-tauri/src/lib.rs"];

fn main() {
    println!("cargo:rerun-if-env-changed=PEEK_ORIGINAL_DIR");
    println!("cargo:rerun-if-changed=src/glue.rs");
    let root = match std::env::var_os("PEEK_ORIGINAL_DIR") {
        Some(d) => PathBuf::from(d),
        None => panic!(
            "original-tauri-mobile: set PEEK_ORIGINAL_DIR to a checkout of the Peek app; \
             it must hold {}",
            FILES[0]
        ),
    };
    let lib = root.join(FILES[0]);
    if !lib.is_file() {
        panic!(
            "original-tauri-mobile: {} not found (PEEK_ORIGINAL_DIR={})",
            lib.display(),
            root.display()
        );
    }
    println!("cargo:rerun-if-changed={}", lib.display());
    let source = driver_kit::Source::digest(&root, FILES).unwrap_or_else(|e| panic!("{e}"));
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let glue = manifest.join("src/glue.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(
        out.join("original.rs"),
        format!(
            "#[allow(warnings, clippy::all)]\nmod app {{\n    include!({:?});\n\n    \
             #[path = {:?}]\n    pub(crate) mod glue;\n}}\n",
            lib.canonicalize().unwrap().to_str().unwrap(),
            glue.to_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::write(
        out.join("source.rs"),
        format!(
            "/// The checkout's commit, if known.\npub const COMMIT: Option<&str> = {:?};\n\
             /// sha256 of the files built.\npub const FILES: &str = {:?};\n\
             /// The files built.\npub const PATHS: &[&str] = &{:?};\n",
            source.commit, source.files, FILES
        ),
    )
    .unwrap();
}
