//! Every error code the module can produce is in the TypeScript union apps switch on
//! (`SyncErrorCode` in `src/api/types.d.ts`), and the union names no code that is never produced.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The lowercase (snake_case) string literals in `text` after each occurrence of `marker`, up to `end`.
fn literals_after(text: &str, marker: &str, end: &str, codes: &mut BTreeSet<String>) {
    for (start, _) in text.match_indices(marker) {
        let rest = &text[start + marker.len()..];
        let body = &rest[..rest.find(end).unwrap_or(rest.len())];
        for piece in body.split('"').skip(1).step_by(2) {
            let snake =
                !piece.is_empty() && piece.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            if snake {
                codes.insert(piece.to_owned());
            }
        }
    }
}

/// Codes the Rust sources produce: `SyncError::new("…"`, `self.error("…"` and `code: "…"` in
/// error events, and the bodies of the `code()` methods of the error types.
fn produced() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("core/src"), &mut files);
    let mut codes = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("readable source");
        literals_after(&text, "SyncError::new(", ",", &mut codes);
        // The read engine's error events.
        literals_after(&text, "self.error(", ",", &mut codes);
        for (start, _) in text.match_indices("code: \"") {
            let rest = &text[start + "code: \"".len()..];
            let code = &rest[..rest.find('"').unwrap_or(0)];
            if !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                codes.insert(code.to_owned());
            }
        }
        literals_after(
            &text,
            "fn code(&self) -> &'static str {",
            "\n    }",
            &mut codes,
        );
    }
    codes
}

/// The members of `export type SyncErrorCode = …;`.
fn declared() -> BTreeSet<String> {
    let types = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/api/types.d.ts");
    let text = fs::read_to_string(types).expect("types.d.ts");
    let start = text
        .find("export type SyncErrorCode =")
        .expect("the union is declared");
    let union = &text[start..start + text[start..].find(';').expect("terminated")];
    union
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_error_code_is_in_the_typescript_union_and_no_other() {
    let produced = produced();
    let declared = declared();
    assert!(
        produced.len() > 30,
        "the scan found too few codes: {produced:?}"
    );
    let missing: Vec<_> = produced.difference(&declared).collect();
    let stale: Vec<_> = declared.difference(&produced).collect();
    assert!(
        missing.is_empty(),
        "codes missing from SyncErrorCode: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "SyncErrorCode names codes nothing produces: {stale:?}"
    );
}
