//! Replays every recorded session in `tests/transcripts/` against the engine.

use rockon_sync_core::transcript;
use std::fs;
use std::path::Path;

fn transcript_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("transcripts directory")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_transcript_replays_exactly() {
    let files = transcript_files();
    assert!(files.len() >= 10, "transcripts missing: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let script = fs::read_to_string(path).expect("readable transcript");
        match transcript::run(&script) {
            Ok(summary) => assert!(summary.outputs > 0, "{} checks nothing", path.display()),
            Err(error) => failures.push(format!("{}: {error}", path.display())),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The browser tests replay the same transcripts inside WebAssembly; they must list them all.
#[test]
fn the_browser_suite_replays_every_transcript() {
    let browser_suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/core_in_browser.rs");
    let suite = fs::read_to_string(&browser_suite).expect("browser suite exists");
    for path in transcript_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            suite.contains(&name),
            "{name} is not replayed in the browser"
        );
    }
}

#[test]
fn a_wrong_expectation_fails_with_its_line() {
    let script = "connect\nexpect state connected\n";
    let error = transcript::run(script).unwrap_err();
    assert_eq!(error.line, 2);
    assert!(
        error.message.contains("expected `state connected`"),
        "{error}"
    );
    let unexpected = transcript::run("connect\n").unwrap_err();
    assert!(
        unexpected.message.contains("unexpected output: connect 1"),
        "{unexpected}"
    );
}
