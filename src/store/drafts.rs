//! Unsaved template edits kept per template and per person: the workbench writes one when
//! its user leaves (quits, or an SSH connection drops) with edits not yet saved as a
//! version, and offers it back the next time that person opens the session.
//!
//! Key scheme of the `drafts` tree: `session \0 template \0 user`. NUL cannot occur in YAML
//! names, so the parts never run into each other.

use serde::{Deserialize, Serialize};

use super::{DRAFTS, Result, Store, decode, get, put};
use crate::spec::TemplateSpec;

/// One person's unsaved edit of one template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftRecord {
    pub session: String,
    pub template: String,
    /// Who edited: the OS user locally, the name the SSH key maps to over `loupe serve`.
    pub user: String,
    /// The template as edited, as the session file would hold it.
    pub spec: TemplateSpec,
    /// When the draft was last written.
    pub saved_ms: u64,
}

fn draft_key(session: &str, template: &str, user: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(session.len() + template.len() + user.len() + 2);
    key.extend_from_slice(session.as_bytes());
    key.push(0);
    key.extend_from_slice(template.as_bytes());
    key.push(0);
    key.extend_from_slice(user.as_bytes());
    key
}

impl Store {
    /// Keeps (replaces) `rec` as its user's draft of its template.
    pub fn put_draft(&self, rec: &DraftRecord) -> Result<()> {
        put(
            &self.inner.drafts,
            &draft_key(&rec.session, &rec.template, &rec.user),
            rec,
        )
    }

    pub fn draft(&self, session: &str, template: &str, user: &str) -> Result<Option<DraftRecord>> {
        get(
            &self.inner.drafts,
            DRAFTS,
            &draft_key(session, template, user),
        )
    }

    /// Forgets a draft (once it is saved as a version, or discarded).
    pub fn delete_draft(&self, session: &str, template: &str, user: &str) -> Result<()> {
        self.inner
            .drafts
            .remove(draft_key(session, template, user))?;
        Ok(())
    }

    /// Every draft of `session`, of anyone.
    pub fn drafts(&self, session: &str) -> Result<Vec<DraftRecord>> {
        let mut prefix = session.as_bytes().to_vec();
        prefix.push(0);
        self.inner
            .drafts
            .scan_prefix(prefix)
            .values()
            .map(|v| decode(DRAFTS, &v?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_are_kept_per_template_and_per_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let draft = |template: &str, user: &str, text: &str| DraftRecord {
            session: "s".into(),
            template: template.into(),
            user: user.into(),
            spec: TemplateSpec {
                user: Some(text.into()),
                ..TemplateSpec::default()
            },
            saved_ms: 1,
        };
        store.put_draft(&draft("t", "ana", "ana's")).expect("put");
        store.put_draft(&draft("t", "olu", "olu's")).expect("put");
        store.put_draft(&draft("u", "ana", "other")).expect("put");
        store
            .put_draft(&draft("t", "ana", "ana's newer"))
            .expect("put");
        let got = store.draft("s", "t", "ana").expect("get").expect("a draft");
        assert_eq!(got.spec.user.as_deref(), Some("ana's newer"));
        assert_eq!(store.drafts("s").expect("list").len(), 3);
        store.delete_draft("s", "t", "ana").expect("delete");
        assert!(store.draft("s", "t", "ana").expect("get").is_none());
        assert!(store.draft("s", "t", "olu").expect("get").is_some());
    }
}
