//! Files an export writes: each written under a temporary name while its sha256 is computed
//! on the way out, and renamed into place only when the whole export succeeded, so a failed
//! export never leaves half a dataset that looks whole.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Compact JSON that also escapes the C1 controls U+0080..U+009F as `\u0080`..`\u009f`.
/// `serde_json` escapes only U+0000..U+001F; a raw C1 character is valid JSON, but `cat` of
/// the file on a terminal may act on it (U+009B is a CSI). Decoded, the value is the same.
pub struct C1Escaping;

impl serde_json::ser::Formatter for C1Escaping {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if ('\u{80}'..='\u{9f}').contains(&c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// What the manifest says about one file written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// The file name, relative to the export folder.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// One output file being written.
pub struct OutFile {
    name: String,
    tmp: PathBuf,
    dest: PathBuf,
    w: BufWriter<Hashing<File>>,
    rows: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl OutFile {
    pub fn create(dir: &Path, name: &str) -> Result<Self, WriteError> {
        let dest = dir.join(name);
        let tmp = dir.join(format!(".{name}.partial"));
        let file = File::create(&tmp).map_err(|source| WriteError {
            path: tmp.clone(),
            source,
        })?;
        Ok(Self {
            name: name.to_owned(),
            tmp,
            dest,
            w: BufWriter::with_capacity(
                64 * 1024,
                Hashing {
                    inner: file,
                    hasher: Sha256::new(),
                    bytes: 0,
                },
            ),
            rows: 0,
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The file's name in the export folder.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, source: io::Error) -> WriteError {
        WriteError {
            path: self.tmp.clone(),
            source,
        }
    }

    /// Writes one JSON value and a newline, C1 controls escaped (see [`C1Escaping`]).
    pub fn json_line<T: Serialize>(&mut self, row: &T) -> Result<(), WriteError> {
        let mut ser = serde_json::Serializer::with_formatter(&mut self.w, C1Escaping);
        row.serialize(&mut ser).map_err(|e| {
            let e = io::Error::other(e);
            self.err(e)
        })?;
        self.w.write_all(b"\n").map_err(|e| self.err(e))?;
        self.rows += 1;
        Ok(())
    }

    /// Writes raw bytes (a CSV record already encoded); `row` says whether it is a data row.
    pub fn bytes(&mut self, data: &[u8], row: bool) -> Result<(), WriteError> {
        self.w.write_all(data).map_err(|e| self.err(e))?;
        if row {
            self.rows += 1;
        }
        Ok(())
    }

    /// Flushes and syncs the temporary file; the file is renamed by [`Staged::commit`].
    pub fn finish(self) -> Result<Staged, WriteError> {
        let tmp = self.tmp.clone();
        let hashing = self.w.into_inner().map_err(|e| WriteError {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        hashing.inner.sync_all().map_err(|source| WriteError {
            path: tmp.clone(),
            source,
        })?;
        Ok(Staged {
            entry: FileEntry {
                path: self.name,
                rows: self.rows,
                bytes: hashing.bytes,
                sha256: hex(&hashing.hasher.finalize()),
            },
            tmp,
            dest: self.dest,
        })
    }

    /// Removes the temporary file of an export that failed.
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A finished file waiting to be moved into place.
pub struct Staged {
    pub entry: FileEntry,
    tmp: PathBuf,
    dest: PathBuf,
}

impl Staged {
    pub fn commit(self) -> Result<FileEntry, WriteError> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| WriteError {
            path: self.dest.clone(),
            source,
        })?;
        Ok(self.entry)
    }

    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// sha256 hex of a file's bytes, read in blocks.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h)?;
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c1_controls_are_escaped_and_decode_to_the_same_text() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut f = OutFile::create(dir.path(), "c1.jsonl").expect("create");
        let text = "csi\u{9b}31m red\u{85}nel \u{80}\u{9f} é\u{1b}";
        f.json_line(&serde_json::json!({"t": text, "k\u{9b}": 1}))
            .expect("write");
        let path = dir.path().join("c1.jsonl");
        f.finish().expect("finish").commit().expect("commit");
        let written = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            written,
            "{\"t\":\"csi\\u009b31m red\\u0085nel \\u0080\\u009f é\\u001b\",\"k\\u009b\":1}\n"
        );
        assert!(!written.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)));
        let back: serde_json::Value = serde_json::from_str(&written).expect("json");
        assert_eq!(back["t"], text);
    }

    #[test]
    fn files_appear_only_when_committed_with_their_hash() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut f = OutFile::create(dir.path(), "a.jsonl").expect("create");
        f.json_line(&serde_json::json!({"x": 1})).expect("write");
        f.json_line(&serde_json::json!({"x": 2})).expect("write");
        let staged = f.finish().expect("finish");
        assert!(!dir.path().join("a.jsonl").exists());
        let entry = staged.commit().expect("commit");
        let path = dir.path().join("a.jsonl");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"x\":1}\n{\"x\":2}\n"
        );
        assert_eq!(entry.rows, 2);
        assert_eq!(entry.bytes, 16);
        assert_eq!(entry.sha256, sha256_file(&path).expect("hash"));
        assert_eq!(
            sha256_file(&path).expect("hash"),
            // sha256 of the 16 bytes above, from `sha256sum`.
            hex(&Sha256::digest(b"{\"x\":1}\n{\"x\":2}\n"))
        );
        let g = OutFile::create(dir.path(), "b.jsonl").expect("create");
        g.abandon();
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
