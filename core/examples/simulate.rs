//! Runs the deterministic simulation of the sync engine.
//!
//! ```text
//! cargo run --release -p rockon-sync-core --example simulate -- --schedules 10000
//! cargo run --release -p rockon-sync-core --example simulate -- --seed 1234   # replay one
//! ```
//!
//! Prints `simulated N schedules: 0 lost, 0 duplicated, 0 diverged`; on a failure, the seed and
//! the end of its trace, and exits with status 1.

#[path = "../sim/mod.rs"]
mod sim;

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut schedules = 10_000u64;
    let mut first = 1u64;
    let mut single = false;
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--schedules", Some(n)) => schedules = n,
            ("--from", Some(n)) => first = n,
            ("--seed", Some(n)) => {
                first = n;
                schedules = 1;
                single = true;
            }
            _ => {
                eprintln!("usage: simulate [--schedules N] [--from SEED] [--seed SEED]");
                return ExitCode::from(2);
            }
        }
    }
    let started = Instant::now();
    let report = sim::run_many(first, schedules, sim::Settings::default(), single);
    println!(
        "simulated {} schedules: {} lost, {} duplicated, {} diverged ({} writes acknowledged, {} faults, {:.1} s)",
        report.schedules,
        report.lost,
        report.duplicated,
        report.diverged,
        report.acknowledged,
        report.faults,
        started.elapsed().as_secs_f64()
    );
    if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failed seeds: {:?}", report.failed);
        ExitCode::from(1)
    }
}
