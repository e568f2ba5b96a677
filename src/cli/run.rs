//! `loupe run`: execute a session's matrix (or resume one), with progress on stderr.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::runner::{self, RunEvent, RunOptions, Selection};
use crate::services::Services;
use crate::store::{RunStatus, Store};

pub struct RunArgs<'a> {
    pub session: &'a Path,
    pub store: &'a Path,
    pub selection: Selection,
    pub resume: Option<&'a str>,
    pub no_cache: bool,
}

pub fn run(args: &RunArgs<'_>) -> anyhow::Result<Outcome> {
    let session = crate::session::load(args.session)?;
    let services = Services::new(Store::open(args.store)?);
    let store = services.store();
    let plan = match args.resume {
        Some(id) => runner::plan_resume(&session, store, id)?,
        None => runner::plan_new_run(&session, store, &args.selection, args.no_cache)?,
    };
    let endpoints = runner::endpoints(services.models(), &plan)?;
    let run_id = plan.run.id.clone();
    let opts = RunOptions {
        no_cache: args.no_cache || plan.run.no_cache,
        deltas: false,
    };

    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let run = rt.block_on(async {
        let cancel = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let progress = tokio::spawn(show_progress(rx));
        let ctrl_c = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("\ninterrupting: finishing the cells in flight is not waited for");
                    cancel.cancel();
                }
            })
        };
        let result = runner::execute(store, plan, &endpoints, opts, &cancel, &tx).await;
        drop(tx);
        ctrl_c.abort();
        let _ = progress.await;
        result
    })?;

    if run.status == RunStatus::Complete {
        eprintln!("run {run_id} complete; see `loupe report {run_id}`");
        println!("{run_id}");
        Ok(Outcome::Ok)
    } else {
        eprintln!(
            "run {run_id} interrupted; resume with `loupe run {} --resume {run_id}`",
            args.session.display()
        );
        println!("{run_id}");
        Ok(Outcome::Problem)
    }
}

/// Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
async fn show_progress(mut rx: mpsc::UnboundedReceiver<RunEvent>) {
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let (mut total, mut done, mut errors, mut cached) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut fresh = 0usize;
    while let Some(ev) = rx.recv().await {
        match ev {
            RunEvent::Started {
                run_id,
                total: t,
                already_done,
            } => {
                total = t;
                done = already_done;
                eprintln!("run {run_id}: {total} cells, {already_done} already done");
                if tty {
                    let b = ProgressBar::new(total as u64);
                    b.set_style(
                        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} eta {eta}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b.set_position(done as u64);
                    bar = Some(b);
                }
            }
            RunEvent::CellDone {
                cached: c, error, ..
            } => {
                done += 1;
                fresh += 1;
                cached += usize::from(c);
                errors += usize::from(error.is_some());
                if let Some(b) = &bar {
                    b.set_position(done as u64);
                    // The rate of cells actually done in this process (not resumed ones).
                    let rate = fresh as f64 / started.elapsed().as_secs_f64().max(0.001);
                    b.set_message(format!("{rate:.1}/s, {errors} errors, {cached} cached"));
                } else if last_line.elapsed() >= Duration::from_secs(2) {
                    last_line = Instant::now();
                    eprintln!(
                        "{}",
                        plain_line(done, total, errors, cached, fresh, started)
                    );
                }
            }
            RunEvent::Finished { .. } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                eprintln!(
                    "{}",
                    plain_line(done, total, errors, cached, fresh, started)
                );
            }
            RunEvent::Delta { .. } | RunEvent::Restart { .. } => {}
            RunEvent::Judging { judge, comparisons } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                eprintln!(
                    "judge {judge}: comparing {comparisons} pairs of outputs, each in both orders"
                );
            }
        }
    }
}

fn plain_line(
    done: usize,
    total: usize,
    errors: usize,
    cached: usize,
    fresh: usize,
    started: Instant,
) -> String {
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    let rate = fresh as f64 / secs;
    let eta = if rate > 0.0 {
        format!("{:.0}s", (total - done.min(total)) as f64 / rate)
    } else {
        "?".into()
    };
    format!("{done}/{total} done, {errors} errors, {cached} cached, {rate:.1}/s, eta {eta}")
}
