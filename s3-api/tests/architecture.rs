//! The architecture's one hard rule, checked: the storage engine (`src/engine/`) knows nothing of the
//! protocol fronts. Neither s3s (the S3 layer) nor axum (the console API) may appear in its sources,
//! so both fronts stay thin translators over it and an invariant lives in one place.

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

#[test]
fn the_engine_imports_neither_s3s_nor_axum() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let mut files = Vec::new();
    rust_files(&engine, &mut files);
    assert!(files.len() >= 5, "the engine's sources were found: {files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["s3s", "axum", "crate::s3", "crate::api", "crate::console"].iter().any(|w| code.contains(w)) {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "the engine must not know the fronts:\n{}", offenders.join("\n"));
}
