//! Failpoints: the named steps of the write protocol ([`super::protocol`]) at which a test can crash
//! the process or fail the step, instead of replaying the protocol by hand.
//!
//! Compiled only with the `failpoints` cargo feature (`cargo build -p cloudvault-s3-api --features
//! failpoints`); in every other build [`hit`] is an empty inline function. A failpoint binary reads
//! `CLOUDVAULT_FAILPOINTS`, a comma-separated list of `step=action`:
//! - `exit`: the process ends on the spot with status [`EXIT_CODE`], running no destructor and sending
//!   no response (the kernel closes its files and sockets, as after SIGKILL);
//! - `error`: the step fails with an I/O error, as a failing disk would;
//! - `error-once` / `exit-once`: the same, the first time the step is reached only;
//! - `pause-once:<ms>`: the step stalls for `<ms>` milliseconds, once (a stopped process, a slow disk),
//!   then goes on: what a write that outlives the janitor's grace period meets.
//!
//! The steps are the [`STEPS`] constants; an unknown name in the variable makes the process refuse to
//! start, so a test cannot silently arm nothing.

/// Exit status of a process ended by an `exit` failpoint.
pub const EXIT_CODE: i32 = 86;

/// Every named step, in protocol order.
pub const STEPS: &[&str] = &[
    "put.staged",
    "put.intent_recorded",
    "put.placed",
    "put.committed",
    "inline.staged",
    "inline.committed",
    "part.staged",
    "part.intent_recorded",
    "part.placed",
    "part.committed",
    "complete.before_commit",
    "complete.committed",
    "delete.before_commit",
    "delete.committed",
    "janitor.claimed",
    "janitor.removed",
    "batch.before_commit",
    "batch.committed",
];

/// The hook the metadata store calls at a group commit's steps (`batch.before_commit`,
/// `batch.committed`, SQLite only): the step is hit only for a batch of at least two members, so a
/// test that arms it crashes in the middle of a real batch.
pub fn batch_hook(step: &'static str, members: usize) -> std::io::Result<()> {
    if members >= 2 { hit(step) } else { Ok(()) }
}

/// Reached step `name`: crash or fail here when the test armed it.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &'static str) -> std::io::Result<()> {
    Ok(())
}

/// Checks `CLOUDVAULT_FAILPOINTS` (nothing to check without the `failpoints` feature).
#[cfg(not(feature = "failpoints"))]
pub fn validate() -> Result<(), String> {
    match std::env::var_os("CLOUDVAULT_FAILPOINTS") {
        Some(_) => Err("CLOUDVAULT_FAILPOINTS is set but this build has no failpoints".to_owned()),
        None => Ok(()),
    }
}

#[cfg(feature = "failpoints")]
mod armed {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::OnceLock;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Action {
        Exit,
        Error,
        /// Stall for this many milliseconds.
        Pause(u64),
    }

    fn table() -> &'static Mutex<HashMap<String, (Action, bool)>> {
        static TABLE: OnceLock<Mutex<HashMap<String, (Action, bool)>>> = OnceLock::new();
        TABLE.get_or_init(|| Mutex::new(parse().unwrap_or_default()))
    }

    fn parse() -> Result<HashMap<String, (Action, bool)>, String> {
        let mut out = HashMap::new();
        let spec = std::env::var("CLOUDVAULT_FAILPOINTS").unwrap_or_default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, action) = item.split_once('=').ok_or_else(|| format!("failpoint {item:?}: want step=action"))?;
            if !super::STEPS.contains(&name) {
                return Err(format!("unknown failpoint step {name:?} (steps: {})", super::STEPS.join(", ")));
            }
            let parsed = match action {
                "exit" => (Action::Exit, false),
                "exit-once" => (Action::Exit, true),
                "error" => (Action::Error, false),
                "error-once" => (Action::Error, true),
                other => match other.strip_prefix("pause-once:").map(str::parse::<u64>) {
                    Some(Ok(ms)) => (Action::Pause(ms), true),
                    _ => return Err(format!("failpoint {name}: unknown action {other:?}")),
                },
            };
            out.insert(name.to_owned(), parsed);
        }
        Ok(out)
    }

    /// Checks `CLOUDVAULT_FAILPOINTS` at start-up.
    pub fn validate() -> Result<(), String> {
        let armed = parse()?;
        if !armed.is_empty() {
            tracing::warn!(failpoints = ?armed.keys().collect::<Vec<_>>(), "failpoints armed");
        }
        Ok(())
    }

    /// Reached step `name`.
    pub fn hit(name: &'static str) -> std::io::Result<()> {
        let action = {
            let mut table = table().lock().map_err(|_| std::io::Error::other("failpoint table poisoned"))?;
            match table.get(name).copied() {
                Some((action, true)) => {
                    table.remove(name);
                    Some(action)
                }
                Some((action, false)) => Some(action),
                None => None,
            }
        };
        match action {
            Some(Action::Exit) => {
                eprintln!("failpoint {name}: exiting");
                std::process::exit(super::EXIT_CODE)
            }
            Some(Action::Error) => Err(std::io::Error::other(format!("failpoint {name}"))),
            Some(Action::Pause(ms)) => {
                eprintln!("failpoint {name}: pausing {ms} ms");
                pause(std::time::Duration::from_millis(ms));
                eprintln!("failpoint {name}: resumed");
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Blocks this thread for `how_long`, telling a multi-threaded runtime first so that its other
    /// tasks (the janitor among them) move to another worker meanwhile.
    fn pause(how_long: std::time::Duration) {
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| std::thread::sleep(how_long));
        } else {
            std::thread::sleep(how_long);
        }
    }
}

#[cfg(feature = "failpoints")]
pub use armed::{hit, validate};
