//! `loupe tune SESSION --data EXPORT --base MODEL --name NAME` and `loupe tunes`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::{Format, Outcome};
use crate::store::{Store, TrainingRunRecord, format_time};
use crate::tune::{self, Done, Event, Options};

/// Arguments of `loupe tune`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session the tuned model is for (its store records the training run).
    pub session: PathBuf,
    /// An sft export folder (`loupe export SESSION --format sft --out DIR`).
    #[arg(long, value_name = "EXPORT_DIR")]
    pub data: PathBuf,
    /// The base model: an F32 GGUF (`scripts/tune.sh base` makes one from the shipped model).
    #[arg(long, value_name = "MODEL")]
    pub base: PathBuf,
    /// The training run's name; a session uses the model as `model: tuned:NAME`.
    #[arg(long)]
    pub name: String,
    /// Where to write the model (default: tuned/NAME.gguf beside the session's store).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Passes over the data.
    #[arg(long, default_value_t = 2)]
    pub epochs: u32,
    #[arg(long, default_value_t = 3e-5, help = "Learning rate (AdamW)")]
    pub lr: f64,
    /// Tokens per training window.
    #[arg(long, default_value_t = 256)]
    pub ctx: u32,
    /// Trainer threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<u32>,
    // `help` rather than a doc comment: the doc lint wants backticks `--help` would print.
    #[arg(
        long,
        value_name = "FILE",
        help = "The llama-finetune program (default: $LOUPE_TRAINER, \
                .loupe/tune/bin/llama-finetune, or llama-finetune on the PATH)"
    )]
    pub trainer: Option<PathBuf>,
    /// Train again even when a finished run of this name has the same inputs.
    #[arg(long)]
    pub force: bool,
    /// The copy to serve: `q8_0` writes `NAME.q8_0.gguf` beside the model (a third of the
    /// size, faster to serve, same weights to within half a step of 1/127 of each block's
    /// largest); `none` serves the F32 model itself.
    #[arg(long, value_enum, default_value_t = Quantize::Q8_0)]
    pub quantize: Quantize,
}

/// What `loupe tune` writes to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Quantize {
    #[value(name = "q8_0")]
    Q8_0,
    None,
}

pub fn main(store_flag: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    let session = crate::session::load(&args.session)?;
    let store = super::store_for_session(store_flag, &args.session);
    let out = args.out.clone().unwrap_or_else(|| {
        store
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("tuned")
            .join(format!("{}.gguf", args.name))
    });
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .ok()
            .and_then(|n| u32::try_from(n.get()).ok())
            .unwrap_or(1)
    });
    let opts = Options {
        name: args.name.clone(),
        session: session.file.name.clone(),
        data: args.data,
        base: args.base,
        out,
        trainer: args.trainer,
        epochs: args.epochs,
        learning_rate: args.lr,
        context: args.ctx,
        threads,
        force: args.force,
        quantize: args.quantize == Quantize::Q8_0,
    };
    let mut shown = Progress::new(opts.epochs);
    let done = tune::tune(&opts, &store, &mut |ev| shown.event(ev))?;
    shown.finish();
    let rec = match done {
        Done::Cached(rec) => {
            eprintln!(
                "tune {}: already trained on the same data, base and hyperparameters ({}); \
                 nothing to do (--force trains again)",
                rec.name,
                rec.finished_ms.map_or_else(String::new, format_time)
            );
            rec
        }
        Done::Trained(rec) => {
            eprintln!("{}", summary(&rec));
            eprintln!(
                "note: llama-finetune computes the loss on every token (system and user turns \
                 too), cuts the text into windows that cross rows, and validates on the end of \
                 the text (the export's validation rows)"
            );
            rec
        }
    };
    // The file to serve: the quantized copy when there is one.
    let path = rec
        .served
        .as_ref()
        .or(rec.output.as_ref())
        .map_or("", |o| o.path.as_str());
    println!("{path}");
    Ok(Outcome::Ok)
}

fn summary(rec: &TrainingRunRecord) -> String {
    let mut s = format!(
        "tune {}: {} epoch(s) on {} rows ({} train, {} valid{}) in {}",
        rec.name,
        rec.epochs.len(),
        rec.data.rows_out,
        rec.data.rows_train,
        rec.data.rows_valid,
        rec.data
            .tokens
            .map_or_else(String::new, |t| format!(", {t} tokens")),
        rec.wall_ms().map_or_else(|| "-".into(), duration)
    );
    if let Some(last) = rec.epochs.last() {
        s.push_str(&format!(", loss {:.3}", last.train_loss));
        if let Some(v) = last.val_loss {
            s.push_str(&format!(", val loss {v:.3}"));
        }
    }
    if let Some(r) = rec.tokens_per_s {
        s.push_str(&format!(", {r:.0} tokens/s"));
    }
    if let Some(o) = &rec.output {
        s.push_str(&format!("; model {} (sha256 {})", o.path, &o.sha256[..12]));
    }
    if let Some(o) = &rec.served {
        s.push_str(&format!(
            "; served as Q8_0 {} (sha256 {})",
            o.path,
            &o.sha256[..12]
        ));
    }
    s
}

fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// The live display: one line redrawn on a terminal, a line per step otherwise.
struct Progress {
    epochs: u32,
    tty: bool,
    start: Instant,
    /// Batches per epoch (training + validation), once known.
    per_epoch: Option<u64>,
    done: u64,
    tokens: u64,
    val_loss: Option<f64>,
    drawn: bool,
}

impl Progress {
    fn new(epochs: u32) -> Self {
        Self {
            epochs,
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            per_epoch: None,
            done: 0,
            tokens: 0,
            val_loss: None,
            drawn: false,
        }
    }

    fn event(&mut self, ev: &Event) {
        match ev {
            Event::Tokens(n) => {
                self.line(&format!("training text: {n} tokens"), true);
            }
            Event::Step {
                train,
                epoch,
                batch,
                batches,
                tokens,
                loss,
                ..
            } => {
                if *train {
                    self.tokens += tokens;
                    if self.per_epoch.is_none() && *batch == 1 {
                        // Validation batches are counted when they come; a first guess.
                        self.per_epoch = Some(*batches);
                    }
                } else if *epoch == 1 && *batch == 1 {
                    self.per_epoch = self.per_epoch.map(|p| p + batches);
                }
                self.done += 1;
                let elapsed = self.start.elapsed().as_secs_f64();
                let total = self.per_epoch.unwrap_or(*batches) * u64::from(self.epochs);
                #[allow(clippy::cast_precision_loss)] // step and token counts are small
                let (rate, eta) = (
                    self.tokens as f64 / elapsed.max(1e-3),
                    elapsed / self.done as f64 * total.saturating_sub(self.done) as f64,
                );
                let what = if *train { "loss" } else { "val loss" };
                let val = match (train, self.val_loss) {
                    (true, Some(v)) => format!(" (last val loss {v:.3})"),
                    _ => String::new(),
                };
                self.line(
                    &format!(
                        "epoch {epoch}/{} step {}/{total}: {what} {loss:.3}{val} · {rate:.0} tokens/s · ETA {}",
                        self.epochs,
                        self.done.min(total),
                        clock(eta)
                    ),
                    false,
                );
            }
            Event::Epoch {
                epoch,
                train_loss,
                val_loss,
            } => {
                self.val_loss = *val_loss;
                let val = val_loss.map_or_else(|| "none".into(), |v| format!("{v:.3}"));
                self.line(
                    &format!(
                        "epoch {epoch}/{}: loss {train_loss:.3}, val loss {val}",
                        self.epochs
                    ),
                    true,
                );
            }
        }
    }

    fn line(&mut self, text: &str, keep: bool) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{text}");
            if keep {
                let _ = writeln!(err);
            }
            self.drawn = !keep;
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.tty && self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn clock(secs: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a few hours at most
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// `loupe tunes`: every training run in the store.
pub fn list(store_path: &Path, format: Format) -> anyhow::Result<Outcome> {
    let store = Store::open(store_path)
        .with_context(|| format!("cannot open the store {}", store_path.display()))?;
    let mut runs = Vec::new();
    for r in store.tunes() {
        runs.push(r?);
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = runs
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("shown_status".into(), tune::shown_status(r).into());
                        o.insert("wall_ms".into(), r.wall_ms().into());
                    }
                    v
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        Format::Table => {
            if runs.is_empty() {
                eprintln!(
                    "no training runs in {}: train one with `loupe tune SESSION --data \
                     EXPORT_DIR --base MODEL --name NAME`",
                    store_path.display()
                );
                return Ok(Outcome::Ok);
            }
            writeln!(
                out,
                "{:<20} {:<12} {:>6} {:>6} {:>7} {:>9} {:>9} {:>8}  {:<12} {:<12} MODEL",
                "NAME",
                "STATUS",
                "ROWS",
                "EPOCHS",
                "LR",
                "LOSS",
                "VAL LOSS",
                "WALL",
                "DATA",
                "BASE",
            )?;
            for r in &runs {
                let last = r.epochs.last();
                writeln!(
                    out,
                    "{:<20} {:<12} {:>6} {:>6} {:>7} {:>9} {:>9} {:>8}  {:<12} {:<12} {}",
                    r.name,
                    tune::shown_status(r),
                    r.data.rows_out,
                    format!("{}/{}", r.epochs.len(), r.hyper.epochs),
                    format!("{:.0e}", r.hyper.learning_rate),
                    last.map_or_else(|| "-".into(), |e| format!("{:.3}", e.train_loss)),
                    last.and_then(|e| e.val_loss)
                        .map_or_else(|| "-".into(), |v| format!("{v:.3}")),
                    r.wall_ms().map_or_else(|| "-".into(), duration),
                    &r.data.manifest_sha256[..12.min(r.data.manifest_sha256.len())],
                    &r.base.sha256[..12.min(r.base.sha256.len())],
                    r.output.as_ref().map_or_else(
                        || "-".into(),
                        |o| format!("{} ({})", o.path, &o.sha256[..12])
                    ),
                )?;
            }
        }
    }
    Ok(Outcome::Ok)
}
