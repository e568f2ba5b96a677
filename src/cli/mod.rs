//! The command line: parses arguments and hands each command to its module.
//!
//! Exit codes (STYLE.md): 0 success, 1 a problem was found (a failed gate), 2 a usage or
//! input error. Data goes to stdout; progress and errors to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// What a command reports back to `main` when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and found fine.
    Ok,
    /// The command ran but found a problem (exit 1).
    Problem,
}

#[derive(Debug, Parser)]
#[command(name = "loupe", version, about = "A terminal workbench for LLM teams", long_about = None)]
pub struct Cli {
    /// Store directory (default: .loupe/store beside the session file).
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a session without calling any model.
    Check {
        session: PathBuf,
    },
    /// Print the exact messages a variant sends for a case.
    Render {
        session: PathBuf,
        #[arg(long)]
        variant: String,
        /// Case id, or its 1-based row number.
        #[arg(long)]
        case: String,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with exit 0; real usage errors exit 2.
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match try_main(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problem) => ExitCode::from(1),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A closed stdout (`loupe runs | head`) is a normal end, as in ripgrep.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn try_main(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Check { .. } | Command::Render { .. } => {
            anyhow::bail!("not wired yet")
        }
    }
}
