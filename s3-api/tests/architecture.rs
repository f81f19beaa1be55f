//! The architecture's rules, checked on the sources:
//! - the storage engine (`src/engine/`) knows nothing of the protocol fronts: neither s3s (the S3
//!   layer) nor axum (the console API) may appear in it;
//! - the fronts go through the engine: the engine's stores are private, and no console-API handler
//!   (`src/api/`) calls the metadata store, builds S3 requests or calls the S3 layer.
//!
//! So both fronts stay thin translators over the engine and an invariant lives in one place.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read engine dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines (outside comments) of the Rust sources under `src/<dir>` that contain any of `words`.
fn offending_lines(dir: &str, words: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() >= 5, "the sources of src/{dir} were found: {files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if words.iter().any(|w| code.contains(w)) {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    offenders
}

#[test]
fn the_engine_imports_neither_s3s_nor_axum() {
    let offenders = offending_lines("engine", &["s3s", "axum", "crate::s3", "crate::api", "crate::console"]);
    assert!(offenders.is_empty(), "the engine must not know the fronts:\n{}", offenders.join("\n"));
}

#[test]
fn the_engines_stores_are_private() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine/mod.rs"))
        .expect("read engine/mod.rs");
    let start = source.find("pub struct Engine {").expect("the Engine struct") + "pub struct Engine {".len();
    let fields = &source[start..start + source[start..].find("\n}").expect("its end")];
    assert!(!fields.contains("pub "), "the engine's fields must stay private:\n{fields}");
}

#[test]
fn console_api_handlers_call_neither_the_metadata_store_nor_the_s3_layer() {
    let words = [
        ".meta.",      // the metadata store (the engine's and the key store's are private anyway)
        "MetaStore",   // a store of its own
        "crate::s3::", // the S3 layer: its operations, its DTO conversions
        "s3s::dto",    // S3 requests built by hand
        "S3Request",   // ditto
        "CloudVault",  // the s3s service
    ];
    let offenders = offending_lines("api", &words);
    assert!(offenders.is_empty(), "the console API must call the engine and auth only:\n{}", offenders.join("\n"));
}
