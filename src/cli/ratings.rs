//! `loupe ratings SESSION --format jsonl|csv|stats|owner`: every rating of a session, with
//! its placement, rater and times, on stdout; `stats` is exactly `loupe stats` input;
//! `owner` is the owner's view as JSON.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Outcome;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RatingsFormat {
    /// One rating a line, every field.
    Jsonl,
    /// One rating a row, a column per rubric side and dimension.
    Csv,
    /// `loupe stats` input: the verdicts the owner's view analyses (gold items left out).
    Stats,
    /// The owner's view as JSON: `loupe stats`'s figures plus progress per rater, failure
    /// labels per variant and each judge's calibration against the raters.
    Owner,
}

/// Arguments of `loupe ratings`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session file.
    pub session: PathBuf,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: RatingsFormat,
    /// Only this rater's ratings.
    #[arg(long, value_name = "NAME")]
    pub rater: Option<String>,
}

pub fn main(store: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    let Args {
        session: session_path,
        format,
        rater,
    } = args;
    let session = crate::session::load(&session_path)?;
    let dir = super::existing_store_for_session(store, &session_path, |dir| {
        format!(
            "no store at {}: rate first (`loupe rate {} --rater NAME`), or pass --store DIR",
            dir.display(),
            session_path.display()
        )
    })?;
    let store = Store::open(&dir)?;
    let name = &session.file.name;
    let ratings = match &rater {
        Some(r) => store.ratings_by(name, r).collect::<Result<Vec<_>, _>>()?,
        None => store.ratings(name).collect::<Result<Vec<_>, _>>()?,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if format == RatingsFormat::Owner {
        let report = crate::tui::screens::rate::host::owner_report(&store, &session)?;
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(Outcome::Ok);
    }
    match format {
        RatingsFormat::Jsonl => crate::rating::rows::write_jsonl(&mut out, &ratings)?,
        RatingsFormat::Stats => {
            let gold = crate::rating::rows::write_stats(&mut out, &ratings)?;
            if gold > 0 {
                eprintln!(
                    "note: {gold} of {} ratings are on gold items and left out: they measure raters, not variants",
                    ratings.len()
                );
            }
        }
        RatingsFormat::Owner => {}
        RatingsFormat::Csv => {
            let dims: Vec<String> = session.file.rubric.iter().map(|d| d.key.clone()).collect();
            crate::rating::rows::write_csv(&mut out, &ratings, &dims)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
