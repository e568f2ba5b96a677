//! The command line: parses arguments and hands each command to its module.
//!
//! Exit codes (STYLE.md): 0 success, 1 a problem was found (a failed gate), 2 a usage or
//! input error. Data goes to stdout; progress and errors to stderr.

mod check;
mod compare;
mod export;
mod gate;
mod online;
mod open;
mod rag;
mod rate;
mod ratings;
mod render;
mod run;
mod runs;
mod serve;
mod stats;
mod tune;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// How to call this program again in a hint the user can paste: the path it was started
/// by when that has a directory in it (`target/release/loupe`), else `loupe`.
pub fn exe() -> String {
    std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a.contains('/') && !a.contains(' '))
        .unwrap_or_else(|| "loupe".to_owned())
}

/// What a command reports back to `main` when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and found fine.
    Ok,
    /// The command ran but found a problem (exit 1).
    Problem,
}

#[derive(Debug, Parser)]
#[command(
    name = "loupe",
    version,
    about = "A terminal workbench for LLM teams",
    long_about = None
)]
pub struct Cli {
    // Written as `help` rather than a doc comment: the doc lint would put backticks around
    // the variable's name, and `--help` would print them.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        help = "Store directory (default: .loupe/store beside the session file; for commands \
                without a session: $LOUPE_STORE, ./.loupe/store, or the one store found one \
                level down)"
    )]
    pub store: Option<PathBuf>,
    /// Open the workbench on this session (same as `loupe open SESSION`).
    pub session: Option<PathBuf>,
    #[command(flatten)]
    pub ui: UiArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How the workbench looks.
#[derive(Debug, Clone, clap::Args)]
pub struct UiArgs {
    /// Theme name: dark, light, high-contrast, monochrome, or a file in ./themes.
    #[arg(long, default_value = "dark")]
    pub theme: String,
    /// Plain ASCII borders and marks.
    #[arg(long)]
    pub ascii: bool,
    /// A keymap YAML file overriding the default keys.
    #[arg(long, value_name = "FILE")]
    pub keymap: Option<PathBuf>,
}

/// Which part of the matrix `loupe run` executes.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Only these variants (repeatable).
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// Only cases with this tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only these cases, by id (repeatable).
    #[arg(long = "case", value_name = "ID")]
    pub cases: Vec<String>,
    /// Only the cases that failed in this earlier run.
    #[arg(long, value_name = "RUN")]
    pub failed_in: Option<String>,
    /// Run each cell this many times (default: the session's `repeats`).
    #[arg(long)]
    pub repeats: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the workbench TUI on a session.
    Open {
        session: PathBuf,
        #[command(flatten)]
        ui: UiArgs,
    },
    /// Run a session's variants x cases x repeats and store every output.
    Run {
        session: PathBuf,
        #[command(flatten)]
        select: SelectArgs,
        /// Resume this interrupted run instead of starting a new one (with the run's own
        /// selection: the selection options do not apply).
        #[arg(
            long,
            value_name = "RUN",
            conflicts_with_all = ["variants", "tags", "cases", "failed_in", "repeats"]
        )]
        resume: Option<String>,
        /// Send every request even when the response cache has it.
        #[arg(long)]
        no_cache: bool,
    },
    /// List the runs in the store.
    Runs {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Per-variant figures of a run.
    Report {
        /// Run id (default: the newest run).
        run: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Validate a session without calling any model.
    Check {
        session: PathBuf,
        /// Also ask each model's endpoint whether it answers and knows the model, and each
        /// embedder whether it embeds.
        #[arg(long)]
        online: bool,
    },
    /// Print the exact messages a variant sends for a case.
    Render {
        session: PathBuf,
        #[arg(long)]
        variant: String,
        /// Case id, or its 1-based row number.
        #[arg(long)]
        case: String,
        #[arg(long, value_enum, default_value = "text")]
        format: render::RenderFormat,
    },
    /// Head to head of two variants of a run, per case: wins, ties, losses, p-value.
    Compare(compare::Args),
    /// Statistics of pairwise verdicts from a JSONL file.
    Stats(stats::Args),
    /// Exit 0 only when a candidate beats a baseline significantly; records a release.
    Gate(gate::Args),
    /// Rate a session's comparisons blind, as one rater.
    Rate(rate::Args),
    /// Print every rating of a session.
    Ratings(ratings::Args),
    /// Export labeled data for fine-tuning.
    Export(export::Args),
    /// The passages a RAG config retrieves for a query, or `--index` to build its index.
    Rag(rag::Args),
    /// Serve the workbench and rating sessions over SSH, to everyone in a users file.
    Serve(serve::Args),
    /// Fine-tune a model on an sft export (llama.cpp's trainer) and record the training run.
    Tune(tune::Args),
    /// List the training runs in the store.
    Tunes {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
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
            eprintln!("error: {}", error_text(&err));
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

/// An error and its causes on one line, as `{:#}` would print them, but a cause already
/// quoted in the message before it (`cannot read x: {source}`) is not repeated.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

fn try_main(cli: Cli) -> anyhow::Result<Outcome> {
    let store_flag = cli.store.as_deref();
    let Some(command) = cli.command else {
        let Some(session) = cli.session else {
            anyhow::bail!(
                "no session given: `loupe SESSION` opens the workbench, `loupe --help` lists commands"
            );
        };
        return open::open(&session, &store_for_session(store_flag, &session), &cli.ui);
    };
    match command {
        Command::Open { session, ui } => {
            open::open(&session, &store_for_session(store_flag, &session), &ui)
        }
        Command::Run {
            session,
            select,
            resume,
            no_cache,
        } => run::run(&run::RunArgs {
            store: &store_for_session(store_flag, &session),
            session: &session,
            selection: crate::runner::Selection {
                variants: select.variants,
                case_ids: select.cases,
                tags: select.tags,
                failed_in: select.failed_in,
                repeats: select.repeats,
            },
            resume: resume.as_deref(),
            no_cache,
        }),
        Command::Runs { format } => runs::list(&find_store(store_flag)?, format),
        Command::Report { run, format } => {
            runs::report(&find_store(store_flag)?, run.as_deref(), format)
        }
        Command::Check { session, online } => check::check(&session, online),
        Command::Render {
            session,
            variant,
            case,
            format,
        } => render::render(&session, &variant, &case, format),
        Command::Compare(args) => compare::main(store_flag, args),
        Command::Stats(args) => stats::main(store_flag, args),
        Command::Gate(args) => gate::main(store_flag, args),
        Command::Rate(args) => rate::main(store_flag, args),
        Command::Ratings(args) => ratings::main(store_flag, args),
        Command::Export(args) => export::main(store_flag, args),
        Command::Rag(args) => rag::main(store_flag, &args),
        Command::Serve(args) => serve::main(store_flag, args),
        Command::Tune(args) => tune::main(store_flag, args),
        Command::Tunes { format } => tune::list(&find_store(store_flag)?, format),
    }
}

/// `.loupe/store` beside the session file, unless `--store` says otherwise.
pub fn store_for_session(flag: Option<&Path>, session: &Path) -> PathBuf {
    if let Some(p) = flag {
        return p.to_owned();
    }
    session
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(".loupe")
        .join("store")
}

/// The session's store for a command that only reads it: when there is none, the error
/// `missing(dir)` says, rather than an empty store created on the way.
pub fn existing_store_for_session(
    flag: Option<&Path>,
    session: &Path,
    missing: impl FnOnce(&Path) -> String,
) -> anyhow::Result<PathBuf> {
    let dir = store_for_session(flag, session);
    if !dir.is_dir() {
        anyhow::bail!(missing(&dir));
    }
    Ok(dir)
}

/// The store for commands that name no session: `--store`, `$LOUPE_STORE`,
/// `./.loupe/store`, or the single `*/.loupe/store` one level down.
pub fn find_store(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os("LOUPE_STORE") {
        return Ok(PathBuf::from(p));
    }
    let here = Path::new(".loupe").join("store");
    if here.is_dir() {
        return Ok(here);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(".")?.flatten() {
        let candidate = entry.path().join(".loupe").join("store");
        if candidate.is_dir() {
            found.push(candidate);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!(
            "no store here: pass --store DIR (a session's store is .loupe/store beside it)"
        ),
        _ => anyhow::bail!(
            "several stores here ({}): pass --store DIR",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
