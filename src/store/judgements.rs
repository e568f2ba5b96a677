//! Judge verdicts: the records and their tree.
//!
//! Key scheme of the `judgements` tree: `run \0 judge \0 a \0 b \0 case \0 repeat_be(4)`, so a
//! run's judgements are one prefix scan, and one judge's within it another. NUL cannot occur
//! in YAML names, so the parts never run into each other.

use serde::{Deserialize, Serialize};

use super::{Result, Store, decode, get, put};
use crate::spec::{JudgeVerdict, Pick, Usage};

/// Addresses one judgement: a judge comparing variants `a` and `b` of a run on one case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JudgementKey {
    pub run_id: String,
    /// The judge's id, `template@model`.
    pub judge: String,
    pub a: String,
    pub b: String,
    pub case_id: String,
    pub repeat: u32,
}

impl JudgementKey {
    pub fn encode(&self) -> Vec<u8> {
        let mut key = judge_prefix(&self.run_id, &self.judge);
        for part in [&self.a, &self.b, &self.case_id] {
            key.extend_from_slice(part.as_bytes());
            key.push(0);
        }
        key.extend_from_slice(&self.repeat.to_be_bytes());
        key
    }
}

fn run_prefix(run_id: &str) -> Vec<u8> {
    let mut key = run_id.as_bytes().to_vec();
    key.push(0);
    key
}

fn judge_prefix(run_id: &str, judge: &str) -> Vec<u8> {
    let mut key = run_prefix(run_id);
    key.extend_from_slice(judge.as_bytes());
    key.push(0);
    key
}

/// One of the two questions a judgement asks: the pair in one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeAsk {
    /// The variant shown as answer A.
    pub shown_a: String,
    /// The variant shown as answer B.
    pub shown_b: String,
    /// The judge's answer as it came (untrusted: sanitise before showing it).
    pub answer: String,
    /// What the answer was read as; `None` when it could not be read.
    #[serde(default)]
    pub pick: Option<Pick>,
    #[serde(default)]
    pub error: Option<String>,
    pub request_hash: String,
    #[serde(default)]
    pub cached: bool,
    pub latency_ms: u64,
    #[serde(default)]
    pub usage: Usage,
    /// From the answer's token log-probabilities (when asked): P(the answer shown as A is
    /// better), P(A) / (P(A) + P(B)) at the first position offering either letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_first: Option<f64>,
}

/// A judge's verdict on one comparison, with both raw answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgementRecord {
    pub run_id: String,
    pub judge: String,
    pub template: String,
    /// The judge template's version (blake3), as for a variant's template.
    pub template_version: String,
    pub model_name: String,
    pub a: String,
    pub b: String,
    pub case_id: String,
    pub repeat: u32,
    /// `a` shown as answer A.
    pub ab: JudgeAsk,
    /// `b` shown as answer A.
    pub ba: JudgeAsk,
    /// In terms of the pair: `a`, `b` or a tie (also when the orders disagree).
    pub verdict: JudgeVerdict,
    /// Both orders named the same winner (or both said tie); with log-probabilities, both
    /// placements favoured the same variant.
    pub agreed: bool,
    /// With log-probabilities: P(variant `a` better), averaged over both placements, which
    /// cancels a position bias; the verdict is `a` or `b` only past the session's margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_a: Option<f64>,
    pub reason: String,
    /// A request failed: the verdict is not evidence and comparisons leave it out.
    #[serde(default)]
    pub error: Option<String>,
    pub finished_ms: u64,
}

impl JudgementRecord {
    pub fn key(&self) -> JudgementKey {
        JudgementKey {
            run_id: self.run_id.clone(),
            judge: self.judge.clone(),
            a: self.a.clone(),
            b: self.b.clone(),
            case_id: self.case_id.clone(),
            repeat: self.repeat,
        }
    }
}

impl Store {
    pub fn put_judgement(&self, rec: &JudgementRecord) -> Result<()> {
        put(&self.inner.judgements, &rec.key().encode(), rec)
    }

    pub fn judgement(&self, key: &JudgementKey) -> Result<Option<JudgementRecord>> {
        get(&self.inner.judgements, "judgements", &key.encode())
    }

    /// Whether a judgement is stored (without decoding it): a resumed run skips it.
    pub fn has_judgement(&self, key: &JudgementKey) -> Result<bool> {
        Ok(self.inner.judgements.contains_key(key.encode())?)
    }

    /// Every judgement of a run, in key order (judge, a, b, case, repeat).
    pub fn judgements(
        &self,
        run_id: &str,
    ) -> impl Iterator<Item = Result<JudgementRecord>> + use<> {
        self.inner
            .judgements
            .scan_prefix(run_prefix(run_id))
            .values()
            .map(|v| decode("judgements", &v?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(shown_a: &str, shown_b: &str, pick: Pick) -> JudgeAsk {
        JudgeAsk {
            shown_a: shown_a.into(),
            shown_b: shown_b.into(),
            answer: format!("{pick:?}"),
            pick: Some(pick),
            error: None,
            request_hash: "h".into(),
            cached: false,
            latency_ms: 5,
            usage: Usage::default(),
            p_first: None,
        }
    }

    fn record(run: &str, case: &str) -> JudgementRecord {
        JudgementRecord {
            run_id: run.into(),
            judge: "judge@m".into(),
            template: "judge".into(),
            template_version: "v".into(),
            model_name: "m".into(),
            a: "x".into(),
            b: "y".into(),
            case_id: case.into(),
            repeat: 0,
            ab: ask("x", "y", Pick::A),
            ba: ask("y", "x", Pick::B),
            verdict: JudgeVerdict::A,
            agreed: true,
            p_a: None,
            reason: "x wins".into(),
            error: None,
            finished_ms: 1,
        }
    }

    #[test]
    fn judgements_round_trip_per_run() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| super::super::StoreError::Open {
            path: std::path::PathBuf::new(),
            source: e.into(),
        })?;
        let store = Store::open(dir.path())?;
        store.put_judgement(&record("r1", "c2"))?;
        store.put_judgement(&record("r1", "c1"))?;
        store.put_judgement(&record("r10", "c1"))?;
        let all: Vec<_> = store.judgements("r1").collect::<Result<_>>()?;
        let cases: Vec<_> = all.iter().map(|j| j.case_id.as_str()).collect();
        assert_eq!(cases, ["c1", "c2"], "r10 is another run");
        assert!(store.has_judgement(&all[0].key())?);
        assert_eq!(store.judgement(&all[1].key())?, Some(record("r1", "c2")));
        let mut other = all[0].key();
        other.repeat = 1;
        assert!(!store.has_judgement(&other)?);
        Ok(())
    }
}
