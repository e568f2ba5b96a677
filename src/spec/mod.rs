//! The pure specification types every other module speaks: what a session may say (models,
//! templates, checks, rating), what a model answered (usage, completion), a verdict's
//! `Winner`, and the clock.
//!
//! This module is the ground floor: it imports nothing of Loupe's, so session, template,
//! eval, providers and store can all stand on it without standing on each other.

pub mod check;
pub mod clock;
pub mod completion;
pub mod schema;
pub mod session;
pub mod verdict;

pub use check::*;
pub use clock::{format_time, now_ms};
pub use completion::{Completion, Usage, cost_usd};
pub use session::*;
pub use verdict::{JudgeVerdict, Pick, Winner};

#[cfg(test)]
mod tests {
    /// The ground floor stands on nothing of Loupe's: a `crate::` path here would let the
    /// modules above it import each other through it again.
    #[test]
    fn imports_nothing_of_loupes() {
        for (file, text) in [
            ("check.rs", include_str!("check.rs")),
            ("clock.rs", include_str!("clock.rs")),
            ("completion.rs", include_str!("completion.rs")),
            ("schema.rs", include_str!("schema.rs")),
            ("session.rs", include_str!("session.rs")),
            ("verdict.rs", include_str!("verdict.rs")),
        ] {
            assert!(
                !text.contains("crate::"),
                "src/spec/{file} imports from the crate"
            );
        }
    }
}
