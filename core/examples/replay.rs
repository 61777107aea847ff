//! Replays transcript files given on the command line and reports the first mismatch of each.
//!
//! `cargo run -p rockon-sync-core --example replay -- core/tests/transcripts/*.txt`

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let script = std::fs::read_to_string(&path).expect("readable transcript");
        match rockon_sync_core::transcript::run(&script) {
            Ok(summary) => println!(
                "ok   {path}: {} steps, {} outputs, {} ms simulated",
                summary.steps, summary.outputs, summary.elapsed_ms
            ),
            Err(error) => {
                failed = true;
                println!("FAIL {path}: {error}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}
