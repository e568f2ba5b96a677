//! The trainer process: llama.cpp's `llama-finetune`, built by `scripts/tune.sh` with
//! Loupe's patch, which prints one machine-readable line per batch and per epoch on stdout.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::TuneError;

/// What the trainer reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Tokens of the whole training text.
    Tokens(u64),
    /// A batch done: `batch` of `batches` of the epoch's training or validation part.
    Step {
        train: bool,
        /// 1-based.
        epoch: u32,
        batch: u64,
        batches: u64,
        /// Tokens per batch.
        tokens: u64,
        /// Mean loss so far in this part of the epoch.
        loss: f64,
        /// Since this part of the epoch started.
        elapsed_ms: u64,
    },
    /// An epoch's mean losses.
    Epoch {
        epoch: u32,
        train_loss: f64,
        val_loss: Option<f64>,
    },
}

/// Parses one line of the patched trainer's stdout; other lines are not events.
pub fn parse(line: &str) -> Option<Event> {
    let mut words = line.split_whitespace();
    match words.next()? {
        "loupe-tokens" => words.next()?.parse().ok().map(Event::Tokens),
        "loupe-step" => {
            let train = match words.next()? {
                "train" => true,
                "val" => false,
                _ => return None,
            };
            let mut ev = (None, None, None, None, None);
            for w in words {
                let (k, v) = w.split_once('=')?;
                match k {
                    "epoch" => ev.0 = v.parse::<u32>().ok(),
                    "batch" => {
                        let (a, b) = v.split_once('/')?;
                        ev.1 = Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?));
                    }
                    "tokens" => ev.2 = v.parse::<u64>().ok(),
                    "loss" => ev.3 = v.parse::<f64>().ok(),
                    "elapsed_ms" => ev.4 = v.parse::<u64>().ok(),
                    _ => {}
                }
            }
            let (batch, batches) = ev.1?;
            Some(Event::Step {
                train,
                epoch: ev.0? + 1,
                batch,
                batches,
                tokens: ev.2?,
                loss: ev.3?,
                elapsed_ms: ev.4?,
            })
        }
        "loupe-epoch" => {
            let (mut epoch, mut train_loss, mut val_loss) = (None, None, None);
            for w in words {
                let (k, v) = w.split_once('=')?;
                match k {
                    "epoch" => epoch = v.parse::<u32>().ok(),
                    "train_loss" => train_loss = v.parse::<f64>().ok(),
                    // `nan` when the validation share held no window.
                    "val_loss" => val_loss = v.parse::<f64>().ok().filter(|x| x.is_finite()),
                    _ => {}
                }
            }
            Some(Event::Epoch {
                epoch: epoch? + 1,
                train_loss: train_loss?,
                val_loss,
            })
        }
        _ => None,
    }
}

/// One training: what to run.
pub struct Job<'a> {
    pub trainer: &'a Path,
    pub base: &'a Path,
    pub text: &'a Path,
    pub out: &'a Path,
    pub log: &'a Path,
    pub epochs: u32,
    pub learning_rate: f64,
    pub context: u32,
    pub val_split: f64,
    pub threads: u32,
}

/// Runs the trainer to the end, handing each event to `on_event`. The model is written to
/// `job.out` by the trainer; the caller moves it into place only when this returns Ok.
pub fn run(job: &Job<'_>, on_event: &mut dyn FnMut(&Event)) -> Result<(), TuneError> {
    let log = std::fs::File::create(job.log)
        .map_err(|e| TuneError::Io(format!("cannot create {}: {e}", job.log.display())))?;
    let ctx = job.context.to_string();
    let mut child = Command::new(job.trainer)
        .arg("-m")
        .arg(job.base)
        .arg("-f")
        .arg(job.text)
        .arg("-o")
        .arg(job.out)
        // One window per batch: the trainer's batch is the context.
        .args(["-c", &ctx, "-b", &ctx, "-ub", &ctx])
        .args(["-t", &job.threads.to_string()])
        .args(["--epochs", &job.epochs.to_string()])
        .args(["-lr", &job.learning_rate.to_string()])
        .args(["-val-split", &format!("{:.4}", job.val_split)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| TuneError::Trainer(format!("cannot start {}: {e}", job.trainer.display())))?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(ev) = parse(&line) {
                on_event(&ev);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| TuneError::Trainer(format!("lost the trainer: {e}")))?;
    if status.success() && job.out.is_file() {
        return Ok(());
    }
    let how = if let Some(code) = status.code() {
        format!("exited with status {code}")
    } else {
        use std::os::unix::process::ExitStatusExt;
        format!(
            "was killed (signal {})",
            status
                .signal()
                .map_or_else(|| "?".into(), |s| s.to_string())
        )
    };
    Err(TuneError::Trainer(format!(
        "the trainer {how}{}; its log is {}",
        last_error(job.log).map_or_else(String::new, |l| format!(": {l}")),
        job.log.display()
    )))
}

/// The trainer's last error line, when its log has one.
fn last_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find(|l| l.contains("error") || l.contains("failed") || l.contains("needs at least"))
        .map(|l| crate::sanitize::sanitize(l.trim()).into_owned())
}

/// Where the trainer is: `--trainer`, `$LOUPE_TRAINER`, `.loupe/tune/bin/llama-finetune`
/// under the current folder (where `scripts/tune.sh` builds it), or `llama-finetune` on the
/// PATH.
pub fn locate(flag: Option<&Path>) -> Result<PathBuf, TuneError> {
    if let Some(p) = flag {
        return if p.is_file() {
            Ok(p.to_owned())
        } else {
            Err(TuneError::Usage(format!(
                "--trainer {}: no such file",
                p.display()
            )))
        };
    }
    if let Some(p) = std::env::var_os("LOUPE_TRAINER") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(TuneError::Usage(format!(
                "LOUPE_TRAINER={}: no such file",
                p.display()
            )))
        };
    }
    let built = Path::new(".loupe")
        .join("tune")
        .join("bin")
        .join("llama-finetune");
    if built.is_file() {
        return Ok(built);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("llama-finetune");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(TuneError::Usage(
        "no trainer found: build llama.cpp's llama-finetune once with `scripts/tune.sh trainer` \
         in Loupe's source folder (about 5 minutes), then run this there or pass --trainer \
         .loupe/tune/bin/llama-finetune"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patched_trainers_lines_parse() {
        assert_eq!(parse("loupe-tokens 4991"), Some(Event::Tokens(4991)));
        assert_eq!(
            parse("loupe-step train epoch=0 batch=3/10 tokens=256 loss=2.500000 elapsed_ms=9300"),
            Some(Event::Step {
                train: true,
                epoch: 1,
                batch: 3,
                batches: 10,
                tokens: 256,
                loss: 2.5,
                elapsed_ms: 9300
            })
        );
        assert_eq!(
            parse("loupe-epoch epoch=1 train_loss=1.250000 val_loss=nan"),
            Some(Event::Epoch {
                epoch: 2,
                train_loss: 1.25,
                val_loss: None
            })
        );
        assert_eq!(
            parse("loupe-epoch epoch=0 train_loss=1.5 val_loss=1.75"),
            Some(Event::Epoch {
                epoch: 1,
                train_loss: 1.5,
                val_loss: Some(1.75)
            })
        );
        assert_eq!(parse("llama_model_loader: loaded meta data"), None);
        assert_eq!(parse("loupe-step train epoch=x"), None);
    }
}
