//! The sled store: the only module that touches sled.
//!
//! Typed trees, values as JSON (readable with any sled dump tool, and small enough at
//! these sizes), keys that sort by time, a schema version checked on open, and a holder
//! file that says which process has the store when another one tries to open it.

mod drafts;
mod exports;
mod judgements;
mod models;
mod rag;
mod ratings;
mod records;
mod releases;
mod tunes;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use drafts::*;
pub use exports::*;
pub use judgements::*;
pub use models::*;
pub use rag::*;
pub use ratings::*;
pub use records::*;
pub use releases::*;
pub use tunes::*;
pub use writer::Writer;

/// Bumped when a stored record changes shape incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

const META: &str = "meta";
const SESSIONS: &str = "sessions";
const TEMPLATE_VERSIONS: &str = "template_versions";
const TEMPLATE_HISTORY: &str = "template_history";
const RUNS: &str = "runs";
const OUTPUTS: &str = "outputs";
const CACHE: &str = "cache";
const RATINGS: &str = "ratings";
const RATERS: &str = "raters";
const EXPORTS: &str = "exports";
const RELEASES: &str = "releases";
const JUDGEMENTS: &str = "judgements";
const DRAFTS: &str = "drafts";
const TUNES: &str = "tunes";
const RUN_ORDER: &str = "run_order";
const HOLDER_FILE: &str = "loupe-holder.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store {path} is in use by {holder}; close that first")]
    Locked { path: PathBuf, holder: String },
    #[error(
        "the store {path} is served by `loupe serve` (process {pid}) on {listen}: \
         connect with `{hint}` to work in it, or stop that server first",
        hint = ssh_hint(listen)
    )]
    Served {
        path: PathBuf,
        pid: u32,
        listen: String,
    },
    #[error(
        "the store {path} has schema version {found}, this Loupe reads version {expected}: \
         use a Loupe that matches, or point --store at a new directory"
    )]
    SchemaMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: corrupt record in {tree}: {source}")]
    Decode {
        tree: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("no run {0} in the store (see `loupe runs`)")]
    NoRun(String),
    #[error("a release {0} is already recorded; releases are never overwritten")]
    ReleaseExists(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One handle for the whole process; cheap to clone (sled's trees are shared handles).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    sessions: sled::Tree,
    template_versions: sled::Tree,
    template_history: sled::Tree,
    runs: sled::Tree,
    outputs: sled::Tree,
    cache: sled::Tree,
    ratings: sled::Tree,
    raters: sled::Tree,
    exports: sled::Tree,
    releases: sled::Tree,
    judgements: sled::Tree,
    drafts: sled::Tree,
    /// Training runs (`loupe tune`), by name.
    tunes: sled::Tree,
    /// Run id -> the order it was first stored in (u64, big-endian; see `put_run`).
    run_order: sled::Tree,
    /// Held while a rater's queue is worked out and stored: a queue depends on what the
    /// other raters hold, so two openings at once (two people on one `loupe serve`) must
    /// take turns, or both would take the same comparisons past the k-raters rule.
    queues: std::sync::Mutex<()>,
    /// Counts rating writes and removals by anyone in this process, so a view of everyone's
    /// progress (the owner's) can follow them live. A watch channel never blocks a writer.
    ratings_changed: tokio::sync::watch::Sender<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.db.flush();
        let _ = std::fs::remove_file(self.path.join(HOLDER_FILE));
    }
}

/// Who holds a store, written beside it so a second process can say so.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Holder {
    pid: u32,
    command: String,
    since_ms: u64,
    /// The address `loupe serve` listens on, when this process serves the store over SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serving: Option<String>,
}

/// The command that connects to a `loupe serve` listening on `listen` (`host:port`). The
/// user name does not matter: the server knows people by their key.
pub fn ssh_hint(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) => {
            let host = if addr.ip().is_unspecified() {
                "localhost".to_owned()
            } else {
                addr.ip().to_string()
            };
            format!("ssh -p {} {host}", addr.port())
        }
        Err(_) => format!("ssh {listen}"),
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_cache(path, None)
    }

    /// Opens the store with sled's page cache capped at `cache_bytes` (sled's default is
    /// 1 GiB): a one-pass reader such as an export keeps its memory flat that way.
    pub fn open_with_cache(path: &Path, cache_bytes: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::Open {
            path: path.to_owned(),
            source: e.into(),
        })?;
        let mut config = sled::Config::new().path(path).flush_every_ms(Some(200));
        if let Some(bytes) = cache_bytes {
            config = config.cache_capacity(bytes);
        }
        let db = open_waiting_for_our_own_close(&config, path).map_err(|source| {
            if is_lock_error(&source) {
                match read_holder(path) {
                    Some(Holder {
                        pid,
                        serving: Some(listen),
                        ..
                    }) => StoreError::Served {
                        path: path.to_owned(),
                        pid,
                        listen,
                    },
                    _ => StoreError::Locked {
                        path: path.to_owned(),
                        holder: describe_holder(path),
                    },
                }
            } else {
                StoreError::Open {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let tree = |name: &str| db.open_tree(name);
        let inner = Inner {
            path: path.to_owned(),
            meta: tree(META)?,
            sessions: tree(SESSIONS)?,
            template_versions: tree(TEMPLATE_VERSIONS)?,
            template_history: tree(TEMPLATE_HISTORY)?,
            runs: tree(RUNS)?,
            outputs: tree(OUTPUTS)?,
            cache: tree(CACHE)?,
            ratings: tree(RATINGS)?,
            raters: tree(RATERS)?,
            exports: tree(EXPORTS)?,
            releases: tree(RELEASES)?,
            judgements: tree(JUDGEMENTS)?,
            drafts: tree(DRAFTS)?,
            tunes: tree(TUNES)?,
            run_order: tree(RUN_ORDER)?,
            queues: std::sync::Mutex::new(()),
            ratings_changed: tokio::sync::watch::Sender::new(0),
            db,
        };
        check_schema(&inner)?;
        write_holder(path);
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Taken while a rater's queue is worked out from the others' and stored (see
    /// `rating::open_rater`).
    pub fn queue_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Says, in the holder file, that this process serves the store over SSH on `listen`,
    /// so `loupe rate` or `loupe SESSION` started beside it can say how to connect.
    pub fn announce_server(&self, listen: &str) {
        write_holder_serving(&self.inner.path, Some(listen.to_owned()));
    }

    /// Waits until everything written so far is on disk.
    pub fn flush(&self) -> Result<()> {
        self.inner.db.flush()?;
        Ok(())
    }

    // ---- sessions and template versions ----

    pub fn put_session(&self, rec: &SessionRecord) -> Result<()> {
        put(&self.inner.sessions, rec.hash.as_bytes(), rec)
    }

    pub fn session(&self, hash: &str) -> Result<Option<SessionRecord>> {
        get(&self.inner.sessions, SESSIONS, hash.as_bytes())
    }

    /// Records a template version (idempotent: the hash names the content) and lists it in
    /// the template's history once. A version keeps the time it was first recorded:
    /// recording it again (each run of it does) changes neither its record nor its place.
    pub fn put_template_version(&self, rec: &TemplateVersionRecord) -> Result<()> {
        let stored: Option<TemplateVersionRecord> = get(
            &self.inner.template_versions,
            TEMPLATE_VERSIONS,
            rec.hash.as_bytes(),
        )?;
        let first = if let Some(old) = stored {
            old.created_ms
        } else {
            put(&self.inner.template_versions, rec.hash.as_bytes(), rec)?;
            rec.created_ms
        };
        let prefix = history_prefix(&rec.session, &rec.template);
        for item in self.inner.template_history.scan_prefix(&prefix).values() {
            if item?.as_ref() == rec.hash.as_bytes() {
                return Ok(());
            }
        }
        let mut key = prefix;
        key.extend_from_slice(&time_key(first));
        // Two versions first recorded in the same millisecond keep both entries.
        key.extend_from_slice(rec.hash.as_bytes());
        self.inner
            .template_history
            .insert(key, rec.hash.as_bytes())?;
        Ok(())
    }

    /// Remembers `hash` as the version of `template` a person last saved or wrote: the one
    /// the workbench opens on.
    pub fn set_template_head(
        &self,
        session: &str,
        template: &str,
        hash: &str,
        spec: &crate::spec::TemplateSpec,
    ) -> Result<()> {
        let head = TemplateHead {
            hash: hash.to_owned(),
            saved_ms: records::now_ms(),
            spec: spec.clone(),
        };
        put(&self.inner.meta, &head_key(session, template), &head)
    }

    /// The version of `template` a person last saved or wrote, if any.
    pub fn template_head(&self, session: &str, template: &str) -> Result<Option<TemplateHead>> {
        get(&self.inner.meta, META, &head_key(session, template))
    }

    pub fn template_version(&self, hash: &str) -> Result<Option<TemplateVersionRecord>> {
        get(
            &self.inner.template_versions,
            TEMPLATE_VERSIONS,
            hash.as_bytes(),
        )
    }

    /// A template's versions, oldest first.
    pub fn template_history(
        &self,
        session: &str,
        template: &str,
    ) -> Result<Vec<TemplateVersionRecord>> {
        let mut out = Vec::new();
        for item in self
            .inner
            .template_history
            .scan_prefix(history_prefix(session, template))
        {
            let (_, hash) = item?;
            if let Some(rec) = get(&self.inner.template_versions, TEMPLATE_VERSIONS, &hash)? {
                out.push(rec);
            }
        }
        Ok(out)
    }

    // ---- runs and outputs ----

    pub fn put_run(&self, run: &RunRecord) -> Result<()> {
        // The first time a run is stored it takes the next number of the store's monotonic
        // sequence: ids and start times name the second (or millisecond) a run began, too
        // coarse to order two runs started together, and a wall clock can step back.
        let key = run.id.as_bytes();
        if !self.inner.run_order.contains_key(key)? {
            let seq = self.inner.db.generate_id()? + 1;
            // A second writer of the same new run keeps the number the first one gave it.
            let _ = self.inner.run_order.compare_and_swap(
                key,
                None::<&[u8]>,
                Some(&seq.to_be_bytes()[..]),
            )?;
        }
        put(&self.inner.runs, key, run)
    }

    pub fn run(&self, id: &str) -> Result<RunRecord> {
        get(&self.inner.runs, RUNS, id.as_bytes())?.ok_or_else(|| StoreError::NoRun(id.into()))
    }

    /// All runs, oldest first: in the order they were first stored; runs stored before that
    /// order was kept come first, by start time, then id.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut runs = self
            .inner
            .runs
            .iter()
            .values()
            .map(|v| {
                let run: RunRecord = decode(RUNS, &v?)?;
                let seq = self
                    .inner
                    .run_order
                    .get(run.id.as_bytes())?
                    .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
                    .map_or(0, u64::from_be_bytes);
                Ok((seq, run))
            })
            .collect::<Result<Vec<(u64, RunRecord)>>>()?;
        runs.sort_by(|(sa, a), (sb, b)| {
            sa.cmp(sb)
                .then(a.created_ms.cmp(&b.created_ms))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(runs.into_iter().map(|(_, run)| run).collect())
    }

    /// The newest run, optionally only a complete one of the named session.
    pub fn latest_run(
        &self,
        session: Option<&str>,
        complete_only: bool,
    ) -> Result<Option<RunRecord>> {
        Ok(self.runs()?.into_iter().rev().find(|run| {
            session.is_none_or(|s| s == run.session_name)
                && (!complete_only || run.status == RunStatus::Complete)
        }))
    }

    pub fn put_output(&self, out: &OutputRecord) -> Result<()> {
        put(&self.inner.outputs, &out.key().encode(), out)
    }

    pub fn output(&self, key: &CellKey) -> Result<Option<OutputRecord>> {
        get(&self.inner.outputs, OUTPUTS, &key.encode())
    }

    /// Whether a cell already has an output (without decoding it).
    pub fn has_output(&self, key: &CellKey) -> Result<bool> {
        Ok(self.inner.outputs.contains_key(key.encode())?)
    }

    /// Every output of a run, in key order (variant, case, repeat).
    pub fn outputs(&self, run_id: &str) -> impl Iterator<Item = Result<OutputRecord>> + use<> {
        self.inner
            .outputs
            .scan_prefix(CellKey::run_prefix(run_id))
            .values()
            .map(|v| decode(OUTPUTS, &v?))
    }

    // ---- response cache ----

    pub fn cached(&self, request_hash: &str) -> Result<Option<CacheRecord>> {
        get(&self.inner.cache, CACHE, request_hash.as_bytes())
    }

    pub fn put_cached(&self, request_hash: &str, rec: &CacheRecord) -> Result<()> {
        put(&self.inner.cache, request_hash.as_bytes(), rec)
    }

    // ---- trees the rating, export and gate steps fill ----

    pub fn exports_tree(&self) -> &sled::Tree {
        &self.inner.exports
    }

    pub fn releases_tree(&self) -> &sled::Tree {
        &self.inner.releases
    }
}

fn check_schema(inner: &Inner) -> Result<()> {
    let key = b"schema_version";
    match inner.meta.get(key)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref()).map_or(0, u32::from_be_bytes);
            if found != SCHEMA_VERSION {
                return Err(StoreError::SchemaMismatch {
                    path: inner.path.clone(),
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        None => {
            inner.meta.insert(key, &SCHEMA_VERSION.to_be_bytes())?;
        }
    }
    Ok(())
}

fn is_lock_error(err: &sled::Error) -> bool {
    // sled reports a held lock as an io error from its lock file (fs2's try_lock_exclusive).
    match err {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.raw_os_error() == Some(11)
                || io.to_string().contains("lock")
        }
        _ => false,
    }
}

/// Opens sled, waiting up to a second while the lock is held but nobody says they hold it
/// (no holder file, or one naming this process): a handle dropped a moment ago in this
/// process (a finished run, a closed App) releases its lock only once sled's own I/O
/// threads let go. A store another process says it holds is refused at once.
fn open_waiting_for_our_own_close(
    config: &sled::Config,
    path: &Path,
) -> std::result::Result<sled::Db, sled::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match config.open() {
            Err(e)
                if is_lock_error(&e)
                    && std::time::Instant::now() < deadline
                    && read_holder(path).is_none_or(|h| h.pid == std::process::id()) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path.join(HOLDER_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn describe_holder(path: &Path) -> String {
    match read_holder(path) {
        Some(h) => format!(
            "process {} (`{}`, since {})",
            h.pid,
            h.command,
            records::format_time(h.since_ms)
        ),
        None => "another process".into(),
    }
}

fn write_holder(path: &Path) {
    write_holder_serving(path, None);
}

fn write_holder_serving(path: &Path, serving: Option<String>) {
    let holder = Holder {
        pid: std::process::id(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        since_ms: records::now_ms(),
        serving,
    };
    // Best effort: the holder file only improves the message another process prints.
    if let Ok(text) = serde_json::to_string(&holder) {
        let _ = std::fs::write(path.join(HOLDER_FILE), text);
    }
}

fn head_key(session: &str, template: &str) -> Vec<u8> {
    let mut key = b"head\0".to_vec();
    key.extend_from_slice(&history_prefix(session, template));
    key
}

fn history_prefix(session: &str, template: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(session.len() + template.len() + 2);
    key.extend_from_slice(session.as_bytes());
    key.push(0);
    key.extend_from_slice(template.as_bytes());
    key.push(0);
    key
}

/// Big-endian milliseconds: byte order is time order.
fn time_key(ms: u64) -> [u8; 8] {
    ms.to_be_bytes()
}

fn put<T: Serialize>(tree: &sled::Tree, key: &[u8], value: &T) -> Result<()> {
    // Serialising our own plain records cannot fail (string keys, finite floats are
    // written as null by serde_json when not finite).
    let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Decode {
        tree: "write",
        source,
    })?;
    tree.insert(key, bytes)?;
    Ok(())
}

fn get<T: DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    key: &[u8],
) -> Result<Option<T>> {
    tree.get(key)?.map(|v| decode(name, &v)).transpose()
}

fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode { tree, source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod run_order_tests {
    use super::*;

    fn run(id: &str, created_ms: u64) -> RunRecord {
        RunRecord {
            id: id.into(),
            session_name: "s".into(),
            session_path: "s.yaml".into(),
            session_hash: "h".into(),
            created_ms,
            finished_ms: None,
            status: RunStatus::Complete,
            variants: Vec::new(),
            case_ids: Vec::new(),
            repeats: 1,
            no_cache: false,
        }
    }

    #[test]
    fn the_latest_run_is_the_last_started_even_within_one_second() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Both started in one second (and millisecond): their ids differ only by the random
        // suffix, and the second run's sorts first.
        store
            .put_run(&run("20261205-040000-ffff", 1_796_000_000_000))
            .unwrap();
        store
            .put_run(&run("20261205-040000-0001", 1_796_000_000_000))
            .unwrap();
        // Storing the first again (a status update) does not move it.
        store
            .put_run(&run("20261205-040000-ffff", 1_796_000_000_000))
            .unwrap();
        let latest = store.latest_run(Some("s"), false).unwrap().unwrap();
        assert_eq!(latest.id, "20261205-040000-0001");
        let ids: Vec<String> = store.runs().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["20261205-040000-ffff", "20261205-040000-0001"]);
        // The order survives reopening the store.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let latest = store.latest_run(None, true).unwrap().unwrap();
        assert_eq!(latest.id, "20261205-040000-0001");
    }

    #[test]
    fn runs_stored_before_the_order_was_kept_stay_readable_and_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Written as an older Loupe wrote them: in the runs tree only.
        for (id, ms) in [
            ("20261101-100000-bbbb", 2_000),
            ("20261101-100000-aaaa", 1_000),
        ] {
            put(&store.inner.runs, id.as_bytes(), &run(id, ms)).unwrap();
        }
        store.put_run(&run("20261101-090000-0000", 500)).unwrap();
        let ids: Vec<String> = store.runs().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "20261101-100000-aaaa",
                "20261101-100000-bbbb",
                "20261101-090000-0000"
            ],
            "old runs by start time, then the runs stored since"
        );
        assert_eq!(store.run("20261101-100000-bbbb").unwrap().created_ms, 2_000);
    }
}
