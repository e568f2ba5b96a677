//! `loupe run`: execute a session's matrix (or resume one), with progress on stderr.

use std::io::{IsTerminal, Write};
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

    // One thread drives every request: the work is waiting on sockets, and a second worker
    // only adds cross-thread wake-ups (futex and eventfd calls by the tens of thousands per
    // run, measured with the run bench). Store writes have their own thread (the runner's
    // writer) and blocking work the runtime's blocking pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (run, summary) = rt.block_on(async {
        let cancel = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let progress = tokio::spawn(show_progress(rx));
        let stop = tokio::spawn(interrupted(cancel.clone()));
        let result = runner::execute(store, plan, &endpoints, opts, &cancel, &tx).await;
        drop(tx);
        stop.abort();
        let summary = progress.await.ok().flatten();
        result.map(|run| (run, summary))
    })?;
    // Which models were unreachable for how long (what failed is said below, by cause
    // and model, with an example cell each).
    for line in summary.iter().flat_map(runner::RunSummary::outage_lines) {
        say(&line);
    }

    // stdout and stderr may be gone (a dropped SSH connection): what is said here must not
    // panic, the run's status is already in the store.
    // Only the failed outputs are kept: a run of thousands need not be held whole for them.
    let failed_outputs = store
        .outputs(&run_id)
        .filter(|o| {
            o.as_ref()
                .map_or(true, crate::store::OutputRecord::is_error)
        })
        .collect::<Result<Vec<_>, _>>();
    let groups = match failed_outputs {
        Ok(outputs) => errors_by_model(&run, &outputs),
        Err(e) => {
            say(&format!("cannot read the run's outputs back: {e}"));
            Vec::new()
        }
    };
    let failed: usize = groups.iter().map(|g| g.count).sum();
    if failed > 0 {
        say(crate::report::render_errors(&groups).trim_end());
    }
    let _ = writeln!(std::io::stdout(), "{run_id}");
    // Hints name the program as it was started and the store, so they work when pasted.
    let exe = super::exe();
    let session = args.session.display();
    let store = args.store.display();
    let report = format!("`{exe} report --store {store} {run_id}`");
    if run.status != RunStatus::Complete {
        say(&format!(
            "run {run_id} interrupted; resume with `{exe} run {session} --store {store} --resume {run_id}`"
        ));
        return Ok(Outcome::Problem);
    }
    if failed > 0 {
        say(&format!(
            "run {run_id} finished with {failed} failed cell{} of {}; see {report}, and rerun \
             them with `{exe} run {session} --store {store} --failed-in {run_id}`",
            if failed == 1 { "" } else { "s" },
            run.cell_count(),
        ));
        return Ok(Outcome::Problem);
    }
    say(&format!("run {run_id} complete; see {report}"));
    Ok(Outcome::Ok)
}

/// The run's failed cells grouped by cause and model, most frequent first: each cause
/// says which model it came from ("HTTP 500 ... from main").
fn errors_by_model(
    run: &crate::store::RunRecord,
    outputs: &[crate::store::OutputRecord],
) -> Vec<crate::report::ErrorGroup> {
    let mut models: Vec<&str> = run.variants.iter().map(|v| v.model_name.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    let mut groups = Vec::new();
    for model in models {
        let mine = outputs.iter().filter(|o| {
            run.variants
                .iter()
                .any(|v| v.name == o.variant && v.model_name == model)
        });
        groups.extend(crate::report::error_groups(mine).into_iter().map(|mut g| {
            g.cause = format!("{} from {model}", g.cause);
            g
        }));
    }
    groups.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.cause.cmp(&y.cause)));
    groups
}

/// A line on stderr that is dropped, not a panic, when stderr is gone.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Waits for Ctrl-C, SIGTERM or SIGHUP (a dropped SSH connection) and cancels the run, which
/// then ends as interrupted and resumable, its status recorded.
async fn interrupted(cancel: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            // Without the handlers the default action stays: the process ends unrecorded,
            // as a SIGKILL would, and `--resume` still finishes it.
            let _ = tokio::signal::ctrl_c().await;
            say("\ninterrupting: finishing the cells in flight is not waited for");
            cancel.cancel();
            return;
        };
        let why = tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupting",
            _ = term.recv() => "terminated",
            _ = hup.recv() => "hung up",
        };
        say(&format!(
            "\n{why}: the run stops and is recorded as interrupted (cells in flight are not waited for)"
        ));
        cancel.cancel();
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            say("\ninterrupting: finishing the cells in flight is not waited for");
            cancel.cancel();
        }
    }
}

/// Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
/// A model that stops answering is said on the bar, counting down to the next probe, or
/// as one line per probe without a terminal. Returns the run's summary.
async fn show_progress(mut rx: mpsc::UnboundedReceiver<RunEvent>) -> Option<runner::RunSummary> {
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let (mut total, mut done, mut errors, mut cached) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut fresh = 0usize;
    let mut judging: Option<JudgeProgress> = None;
    let mut summary = None;
    // Unreachable models, with the wait last announced (a longer one is a new probe).
    let mut unreachable = std::collections::BTreeMap::<String, u64>::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            RunEvent::Started {
                run_id,
                total: t,
                already_done,
            } => {
                total = t;
                done = already_done;
                say(&format!(
                    "run {run_id}: {total} cells, {already_done} already done"
                ));
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
                    say(&plain_line(done, total, errors, cached, fresh, started));
                }
            }
            RunEvent::Unreachable {
                model,
                retry_in_ms,
                error,
                ..
            } => {
                let line = runner::unreachable_line(&model, retry_in_ms);
                let before = unreachable.insert(model.clone(), retry_in_ms);
                if let Some(b) = bar
                    .as_ref()
                    .or(judging.as_ref().and_then(|j| j.bar.as_ref()))
                {
                    // Why, once above the bar; the bar counts down to the next probe.
                    if before.is_none() {
                        b.println(format!(
                            "model {model} unreachable ({error}); its cells wait"
                        ));
                    }
                    b.set_message(line);
                } else if before.is_none_or(|b| retry_in_ms > b) {
                    say(&format!("{line} ({error}); its cells wait"));
                }
            }
            RunEvent::Reachable { model, down_ms } => {
                unreachable.remove(&model);
                let line = format!(
                    "model {model} answers again after {}; its cells go on",
                    runner::secs(down_ms)
                );
                match &bar {
                    Some(b) => b.println(line),
                    None => say(&line),
                }
            }
            RunEvent::Summary(s) => summary = Some(s),
            RunEvent::Finished { .. } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                say(&plain_line(done, total, errors, cached, fresh, started));
            }
            RunEvent::Delta { .. } | RunEvent::Restart { .. } => {}
            RunEvent::Judging { judge, comparisons } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                say(&format!(
                    "judge {judge}: comparing {comparisons} pairs of outputs, each in both orders"
                ));
                if let Some(j) = judging.take() {
                    j.finish();
                }
                judging = Some(JudgeProgress::new(judge, comparisons, tty));
            }
            RunEvent::Judged { agreed, failed, .. } => {
                if let Some(j) = &mut judging {
                    j.done(agreed, failed);
                }
            }
        }
    }
    if let Some(j) = judging {
        j.finish();
    }
    summary
}

/// The judge's progress: a bar on a terminal, a line every few seconds otherwise, and a
/// summary at the end.
struct JudgeProgress {
    judge: String,
    total: usize,
    done: usize,
    agreed: usize,
    failed: usize,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl JudgeProgress {
    fn new(judge: String, total: usize, tty: bool) -> Self {
        let bar = tty.then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("judge {bar:30} {pos}/{len} {msg} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        Self {
            judge,
            total,
            done: 0,
            agreed: 0,
            failed: 0,
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    fn done(&mut self, agreed: bool, failed: bool) {
        self.done += 1;
        self.agreed += usize::from(agreed && !failed);
        self.failed += usize::from(failed);
        if let Some(b) = &self.bar {
            b.set_position(self.done as u64);
            b.set_message(format!("{} agreed, {} failed", self.agreed, self.failed));
        } else if self.last_line.elapsed() >= Duration::from_secs(2) {
            self.last_line = Instant::now();
            say(&self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "judge {}: {}/{} compared, {} agreed in both orders, {} failed, {:.1}/s",
            self.judge,
            self.done,
            self.total,
            self.agreed,
            self.failed,
            self.done as f64 / secs
        )
    }

    fn finish(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        say(&self.line());
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
