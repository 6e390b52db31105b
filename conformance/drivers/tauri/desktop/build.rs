//! Points the crate at the original files in `$PEEK_ORIGINAL_DIR`: writes
//! `#[path]` module lines and the source digest into OUT_DIR. Nothing of
//! the original is copied into the repository.

use std::path::{Path, PathBuf};

const FILES: &[&str] = &[
    "backend/tauri/src-tauri/src/datastore.rs",
    "backend/tauri/src-tauri/src/profiles.rs",
    "backend/tauri/src-tauri/src/sync.rs",
];

fn main() {
    println!("cargo:rerun-if-env-changed=PEEK_ORIGINAL_DIR");
    let root = match std::env::var_os("PEEK_ORIGINAL_DIR") {
        Some(d) => PathBuf::from(d),
        None => panic!(
            "original-tauri-desktop: set PEEK_ORIGINAL_DIR to a checkout of the Peek app; \
             it must hold {}",
            FILES[0]
        ),
    };
    for f in FILES {
        let p = root.join(f);
        if !p.is_file() {
            panic!(
                "original-tauri-desktop: {} not found (PEEK_ORIGINAL_DIR={})",
                p.display(),
                root.display()
            );
        }
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let source = driver_kit::Source::digest(&root, FILES).unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let mut mods = String::new();
    for f in FILES {
        let name = Path::new(f).file_stem().unwrap().to_str().unwrap();
        let abs = root.join(f).canonicalize().unwrap();
        mods.push_str(&format!(
            "#[path = {:?}]\n#[allow(warnings, clippy::all)]\npub mod {name};\n",
            abs.to_str().unwrap()
        ));
    }
    std::fs::write(out.join("original.rs"), mods).unwrap();
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
