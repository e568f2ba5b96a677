//! Just enough of a GGUF header to check a base model before training: the magic, the
//! file type (the trainer updates F32 weights only) and the chat template (training rows are
//! written in it). Values the check does not need are skipped, not kept.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// What the check reads from a GGUF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GgufInfo {
    pub version: u32,
    pub tensors: u64,
    pub architecture: Option<String>,
    pub name: Option<String>,
    /// `general.file_type`: 0 all F32, 1 mostly F16, 3 `Q4_1`, ... (llama.cpp's `llama_ftype`).
    pub file_type: Option<u32>,
    pub chat_template: Option<String>,
}

impl GgufInfo {
    /// The file type's name, for messages.
    pub fn file_type_name(&self) -> String {
        match self.file_type {
            None => "unknown".into(),
            Some(0) => "F32".into(),
            Some(1) => "F16".into(),
            Some(2) => "Q4_0".into(),
            Some(3) => "Q4_1".into(),
            Some(7) => "Q8_0".into(),
            Some(8) => "Q5_0".into(),
            Some(9) => "Q5_1".into(),
            Some(32) => "BF16".into(),
            Some(n) => format!("quantized (type {n})"),
        }
    }
}

/// Why a file is not a GGUF model this can read.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a GGUF model file (it does not start with `GGUF`)")]
    NotGguf { path: String },
    #[error("{path}: unreadable GGUF header ({what})")]
    Corrupt { path: String, what: String },
}

/// GGUF's value types, numbered as in the format.
pub(super) const STRING: u32 = 8;
pub(super) const ARRAY: u32 = 9;

/// Strings longer than this in a header are not a model's (a corrupt length field).
const MAX_STRING: u64 = 64 * 1024 * 1024;

/// Reads the header of the GGUF file at `path`.
pub fn read(path: &Path) -> Result<GgufInfo, GgufError> {
    let shown = path.display().to_string();
    let io_err = |source| GgufError::Io {
        path: shown.clone(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 4];
    if r.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Err(GgufError::NotGguf { path: shown });
    }
    let corrupt = |what: String| GgufError::Corrupt {
        path: shown.clone(),
        what,
    };
    let mut h = Header { r: &mut r };
    let version = h.u32().map_err(|e| corrupt(e.to_string()))?;
    if !(2..=3).contains(&version) {
        return Err(corrupt(format!("version {version}; GGUF 2 and 3 are read")));
    }
    let tensors = h.u64().map_err(|e| corrupt(e.to_string()))?;
    let kvs = h.u64().map_err(|e| corrupt(e.to_string()))?;
    let mut info = GgufInfo {
        version,
        tensors,
        ..GgufInfo::default()
    };
    for _ in 0..kvs {
        let key = h.string().map_err(|e| corrupt(e.to_string()))?;
        let ty = h.u32().map_err(|e| corrupt(e.to_string()))?;
        match (key.as_str(), ty) {
            ("general.architecture", STRING) => {
                info.architecture = Some(h.string().map_err(|e| corrupt(e.to_string()))?);
            }
            ("general.name", STRING) => {
                info.name = Some(h.string().map_err(|e| corrupt(e.to_string()))?);
            }
            ("tokenizer.chat_template", STRING) => {
                info.chat_template = Some(h.string().map_err(|e| corrupt(e.to_string()))?);
            }
            ("general.file_type", 4 | 5) => {
                info.file_type = Some(h.u32().map_err(|e| corrupt(e.to_string()))?);
            }
            _ => h.skip(ty).map_err(|e| corrupt(format!("key {key}: {e}")))?,
        }
    }
    Ok(info)
}

struct Header<'a, R: Read + Seek> {
    r: &'a mut R,
}

impl<R: Read + Seek> Header<'_, R> {
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.r.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.r.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn len(&mut self) -> io::Result<u64> {
        let n = self.u64()?;
        if n > MAX_STRING {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a length of {n}"),
            ));
        }
        Ok(n)
    }

    fn string(&mut self) -> io::Result<String> {
        let n = self.len()?;
        let mut b = vec![0u8; usize::try_from(n).unwrap_or(usize::MAX)];
        self.r.read_exact(&mut b)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    fn seek(&mut self, n: u64) -> io::Result<()> {
        let n = i64::try_from(n)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a value past the file"))?;
        self.r.seek(SeekFrom::Current(n))?;
        Ok(())
    }

    /// Skips a value of type `ty`.
    fn skip(&mut self, ty: u32) -> io::Result<()> {
        match ty {
            STRING => {
                let n = self.len()?;
                self.seek(n)
            }
            ARRAY => {
                let item = self.u32()?;
                let count = self.u64()?;
                if let Some(size) = fixed_size(item) {
                    let bytes = count.checked_mul(size).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "an array too long")
                    })?;
                    self.seek(bytes)
                } else {
                    for _ in 0..count {
                        self.skip(item)?;
                    }
                    Ok(())
                }
            }
            other => match fixed_size(other) {
                Some(size) => self.seek(size),
                None => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown value type {other}"),
                )),
            },
        }
    }
}

/// Bytes of a fixed-size value type.
pub(super) fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// A header as llama.cpp writes one: a string array and numbers around the keys read.
    fn header() -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&5u64.to_le_bytes());
        string(&mut b, "general.architecture");
        b.extend_from_slice(&STRING.to_le_bytes());
        string(&mut b, "llama");
        string(&mut b, "tokenizer.ggml.tokens");
        b.extend_from_slice(&ARRAY.to_le_bytes());
        b.extend_from_slice(&STRING.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        string(&mut b, "<|im_start|>");
        string(&mut b, "hi");
        string(&mut b, "llama.rope.freq_base");
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(&1.0f32.to_le_bytes());
        string(&mut b, "general.file_type");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        string(&mut b, "tokenizer.chat_template");
        b.extend_from_slice(&STRING.to_le_bytes());
        string(&mut b, "{{'<|im_start|>'}}");
        b
    }

    #[test]
    fn reads_the_keys_it_needs_past_the_ones_it_skips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.gguf");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&header()))
            .expect("write");
        let info = read(&path).expect("read");
        assert_eq!(info.architecture.as_deref(), Some("llama"));
        assert_eq!(info.file_type, Some(3));
        assert_eq!(info.file_type_name(), "Q4_1");
        assert_eq!(info.chat_template.as_deref(), Some("{{'<|im_start|>'}}"));
    }

    #[test]
    fn a_file_that_is_not_gguf_or_is_cut_short_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").expect("write");
        let err = read(&text).expect_err("not gguf").to_string();
        assert!(err.contains("is not a GGUF model file"), "{err}");
        let cut = dir.path().join("cut.gguf");
        let whole = header();
        std::fs::write(&cut, &whole[..whole.len() - 5]).expect("write");
        let err = read(&cut).expect_err("cut").to_string();
        assert!(err.contains("unreadable GGUF header"), "{err}");
    }
}
