//! A deterministic simulation of the sync engine: several users, several tabs per device
//! sharing one store with one leader, reloads, against a model of the server, with faults
//! drawn from a seed, in virtual time. The guarantees are checked after every schedule.

mod check;
pub mod outputs;
mod realtime;
pub mod server;
mod world;

pub use check::Outcome;
pub use world::World;

/// What a schedule may do.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Draw faults (lost answers, dropped requests, 5xx, 401s, storage failures, reloads,
    /// offline spells) during the fault window.
    pub faults: bool,
    /// Commands each tab issues.
    pub commands_per_tab: u32,
    /// A planted bug in the server model: updates ignore their version condition.
    pub unconditional_updates: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            faults: true,
            commands_per_tab: 14,
            unconditional_updates: false,
        }
    }
}

/// Runs schedule `seed` to the end and checks it.
pub fn run(seed: u64, settings: Settings) -> Outcome {
    let mut world = World::new(seed, settings);
    world.run();
    world.final_pull();
    check::check(&world)
}

/// The tally of many schedules.
#[derive(Debug, Default)]
pub struct Report {
    /// Schedules run.
    pub schedules: u64,
    /// Lost writes over all schedules.
    pub lost: usize,
    /// Duplicated writes.
    pub duplicated: usize,
    /// Divergences.
    pub diverged: usize,
    /// Writes acknowledged.
    pub acknowledged: usize,
    /// Faults injected.
    pub faults: u64,
    /// Seeds that failed.
    pub failed: Vec<u64>,
}

/// Runs `count` schedules from seed `first`; prints the first failure's seed, what broke and
/// the end of its trace (the whole trace when `full_trace`).
pub fn run_many(first: u64, count: u64, settings: Settings, full_trace: bool) -> Report {
    let mut report = Report::default();
    for seed in first..first + count {
        let outcome = run(seed, settings);
        report.schedules += 1;
        report.acknowledged += outcome.acknowledged;
        report.faults += u64::from(outcome.faults);
        let verdict = &outcome.verdict;
        report.lost += verdict.lost.len();
        report.duplicated += verdict.duplicated.len();
        report.diverged += verdict.diverged.len();
        if !verdict.is_ok() {
            if report.failed.is_empty() {
                let shown = if full_trace { outcome.trace.len() } else { 40 };
                let start = outcome.trace.len().saturating_sub(shown);
                let seed = outcome.seed;
                eprintln!("schedule {seed} failed (replay: --seed {seed}): {verdict:#?}");
                eprintln!(
                    "last {} of {} steps:",
                    outcome.trace.len() - start,
                    outcome.trace.len()
                );
                for line in &outcome.trace[start..] {
                    eprintln!("  {line}");
                }
            }
            report.failed.push(seed);
        }
    }
    report
}
