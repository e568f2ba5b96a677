//! `loupe runs` and `loupe report`.

use std::io::Write;
use std::path::Path;

use super::{Format, Outcome};
use crate::store::{Store, format_time};

pub fn list(store: &Path, format: Format) -> anyhow::Result<Outcome> {
    let store = Store::open(store)?;
    let runs = store.runs()?;
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &runs)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    let mut rows = vec![
        ["run", "session", "status", "started", "variants", "cells"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in &runs {
        rows.push(vec![
            r.id.clone(),
            r.session_name.clone(),
            format!("{:?}", r.status).to_lowercase(),
            format_time(r.created_ms),
            r.variants
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            r.cell_count().to_string(),
        ]);
    }
    let mut text = String::new();
    // Text left, the count right, header over its column.
    crate::report::push_table_aligned(&mut text, &rows, &[false, false, false, false, false, true]);
    out.write_all(text.as_bytes())?;
    Ok(Outcome::Ok)
}

pub fn report(store: &Path, run: Option<&str>, format: Format) -> anyhow::Result<Outcome> {
    let store = Store::open(store)?;
    let run = match run {
        Some(id) => store.run(id)?,
        None => store.latest_run(None, false)?.ok_or_else(|| {
            anyhow::anyhow!("the store has no runs yet: start one with `loupe run SESSION`")
        })?,
    };
    let outputs = store.outputs(&run.id).collect::<Result<Vec<_>, _>>()?;
    let mut report = crate::report::build(&run, &outputs);
    report.training = crate::tune::lineage(&store, &run)?;
    let judgements = store.judgements(&run.id).collect::<Result<Vec<_>, _>>()?;
    report.judges = crate::report::judge_summaries(&judgements);
    if run.variants.iter().any(|v| v.rag.is_some()) {
        let retrievals = store.rag_index()?.retrievals(&run.id)?;
        report.retrieval = crate::report::retrieval_report(&run, &outputs, &retrievals);
    }
    let ratings: Vec<crate::store::RatingRecord> = store
        .ratings(&run.session_name)
        .filter(|r| r.as_ref().map_or(true, |r| r.comparison.run_id == run.id))
        .collect::<Result<_, _>>()?;
    if !ratings.is_empty() {
        // The session's own labels, when its file is still where the run was made from;
        // else the built-in ones (labels the ratings carry are listed either way).
        let names = crate::session::load(std::path::Path::new(&run.session_path)).map_or_else(
            |_| {
                crate::rating::labels::BUILT_IN
                    .iter()
                    .map(|l| (*l).to_owned())
                    .collect()
            },
            |s| crate::rating::labels::of_session(&s),
        );
        report.labels = crate::rating::labels::counts_of(names, &ratings, 0.95);
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Table => out.write_all(crate::report::render_table(&report).as_bytes())?,
    }
    Ok(Outcome::Ok)
}
