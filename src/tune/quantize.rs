//! A `Q8_0` copy of a trained model, for serving. The trainer writes full F32 weights (540 MB
//! for SmolLM2-135M, served at about 60 tokens/s on two cores); the same weights in `Q8_0`
//! (32 values per block, one f16 scale and 32 signed bytes) are under a third of the size,
//! serve faster and lose well under 1% of each weight's range.
//!
//! The copy keeps the file as it is apart from the weights: every metadata key byte for byte
//! (but `general.file_type`, which becomes 7, "mostly `Q8_0`"), the tensors in the same order
//! with the same names and shapes. Matrices whose rows are whole blocks become `Q8_0`; vectors
//! (norms, biases) and anything already quantized are copied unchanged, as llama.cpp's own
//! quantizer does for this type.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::gguf::{ARRAY, GgufError, STRING, fixed_size};

/// GGUF tensor types this reads or writes.
const TYPE_F32: u32 = 0;
const TYPE_Q8_0: u32 = 8;
/// llama.cpp's `LLAMA_FTYPE_MOSTLY_Q8_0`.
const FTYPE_Q8_0: u32 = 7;
const BLOCK: usize = 32;
/// One block: an f16 scale and 32 signed bytes.
const BLOCK_BYTES: usize = 2 + BLOCK;
/// GGUF's default alignment of tensor data.
const DEFAULT_ALIGNMENT: u64 = 32;
const UINT32: u32 = 4;
/// Header strings and arrays longer than this are a corrupt length field, not a model.
const MAX_LEN: u64 = 1 << 30;

/// What a copy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantized {
    /// Tensors stored as `Q8_0` in the copy.
    pub quantized: usize,
    /// Tensors copied unchanged.
    pub kept: usize,
    /// Bytes of the copy.
    pub bytes: u64,
}

struct TensorInfo {
    name: Vec<u8>,
    dims: Vec<u64>,
    ty: u32,
    offset: u64,
    /// Bytes of the tensor in the source (up to the next tensor or the end of the file).
    size: u64,
    /// Type in the copy.
    out_ty: u32,
}

impl TensorInfo {
    fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    fn quantizable(&self) -> bool {
        self.ty == TYPE_F32
            && self.dims.len() >= 2
            && self.dims[0].is_multiple_of(BLOCK as u64)
            && self.size == self.elements() * 4
    }

    fn out_size(&self) -> u64 {
        if self.out_ty == TYPE_Q8_0 {
            self.elements() / BLOCK as u64 * BLOCK_BYTES as u64
        } else {
            self.size
        }
    }
}

/// Writes a `Q8_0` copy of the GGUF model `src` to `dst`.
pub fn q8_0(src: &Path, dst: &Path) -> Result<Quantized, GgufError> {
    let shown = src.display().to_string();
    let corrupt = |what: String| GgufError::Corrupt {
        path: shown.clone(),
        what,
    };
    let io_src = |source| GgufError::Io {
        path: shown.clone(),
        source,
    };
    let file = File::open(src).map_err(io_src)?;
    let file_len = file.metadata().map_err(io_src)?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 4];
    if r.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Err(GgufError::NotGguf { path: shown });
    }
    let version = u32_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
    if !(2..=3).contains(&version) {
        return Err(corrupt(format!("version {version}; GGUF 2 and 3 are read")));
    }
    let n_tensors = u64_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
    let n_kv = u64_le(&mut r).map_err(|e| corrupt(e.to_string()))?;

    // Metadata: kept as raw bytes, key by key, but for the file type and the alignment.
    let mut kv_bytes: Vec<u8> = Vec::new();
    let mut alignment = DEFAULT_ALIGNMENT;
    let mut has_file_type = false;
    for _ in 0..n_kv {
        let key = string(&mut r).map_err(|e| corrupt(e.to_string()))?;
        let ty = u32_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
        if key == b"general.file_type" && (ty == UINT32 || ty == 5) {
            let _ = u32_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
            put_string(&mut kv_bytes, &key);
            kv_bytes.extend_from_slice(&ty.to_le_bytes());
            kv_bytes.extend_from_slice(&FTYPE_Q8_0.to_le_bytes());
            has_file_type = true;
            continue;
        }
        put_string(&mut kv_bytes, &key);
        kv_bytes.extend_from_slice(&ty.to_le_bytes());
        if key == b"general.alignment" && ty == UINT32 {
            let a = u32_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
            if a == 0 || !a.is_power_of_two() {
                return Err(corrupt(format!("general.alignment {a}")));
            }
            alignment = u64::from(a);
            kv_bytes.extend_from_slice(&a.to_le_bytes());
            continue;
        }
        copy_value(&mut r, ty, &mut kv_bytes)
            .map_err(|e| corrupt(format!("key {}: {e}", String::from_utf8_lossy(&key))))?;
    }
    let mut n_kv_out = n_kv;
    if !has_file_type {
        put_string(&mut kv_bytes, b"general.file_type");
        kv_bytes.extend_from_slice(&UINT32.to_le_bytes());
        kv_bytes.extend_from_slice(&FTYPE_Q8_0.to_le_bytes());
        n_kv_out += 1;
    }

    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let name = string(&mut r).map_err(|e| corrupt(e.to_string()))?;
        let n_dims = u32_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
        if n_dims == 0 || n_dims > 8 {
            return Err(corrupt(format!("a tensor with {n_dims} dimensions")));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(u64_le(&mut r).map_err(|e| corrupt(e.to_string()))?);
        }
        let ty = u32_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
        let offset = u64_le(&mut r).map_err(|e| corrupt(e.to_string()))?;
        tensors.push(TensorInfo {
            name,
            dims,
            ty,
            offset,
            size: 0,
            out_ty: ty,
        });
    }
    let header_end = r.stream_position().map_err(io_src)?;
    let data_start = align(header_end, alignment);
    // A tensor's bytes run to the next tensor's start (or the end of the data): that holds
    // for any type, so tensors of types this does not quantize are copied whole.
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| tensors[i].offset);
    for (k, &i) in order.iter().enumerate() {
        let end = order
            .get(k + 1)
            .map_or(file_len - data_start, |&j| tensors[j].offset);
        let t = &mut tensors[i];
        if end < t.offset || data_start + end > file_len {
            return Err(corrupt(format!(
                "tensor {} lies past the end of the file",
                String::from_utf8_lossy(&t.name)
            )));
        }
        t.size = end - t.offset;
        // Padding between tensors belongs to neither: an F32 tensor's own bytes are 4 a value.
        if t.ty == TYPE_F32 {
            let own = t.elements() * 4;
            if t.size < own {
                return Err(corrupt(format!(
                    "tensor {} is cut short ({} of {own} bytes)",
                    String::from_utf8_lossy(&t.name),
                    t.size
                )));
            }
            t.size = own;
        }
        if t.quantizable() {
            t.out_ty = TYPE_Q8_0;
        }
    }

    let io_dst = |source| GgufError::Io {
        path: dst.display().to_string(),
        source,
    };
    let out = File::create(dst).map_err(io_dst)?;
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let mut head = Vec::with_capacity(kv_bytes.len() + 4096);
    head.extend_from_slice(b"GGUF");
    head.extend_from_slice(&version.to_le_bytes());
    head.extend_from_slice(&n_tensors.to_le_bytes());
    head.extend_from_slice(&n_kv_out.to_le_bytes());
    head.extend_from_slice(&kv_bytes);
    let mut offset = 0u64;
    let mut offsets = Vec::with_capacity(tensors.len());
    for t in &tensors {
        put_string(&mut head, &t.name);
        head.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            head.extend_from_slice(&d.to_le_bytes());
        }
        head.extend_from_slice(&t.out_ty.to_le_bytes());
        head.extend_from_slice(&offset.to_le_bytes());
        offsets.push(offset);
        offset = align(offset + t.out_size(), alignment);
    }
    let pad = align(head.len() as u64, alignment) - head.len() as u64;
    head.resize(head.len() + pad as usize, 0);
    w.write_all(&head).map_err(io_dst)?;

    let mut written = 0u64;
    let mut quantized = 0;
    let mut row = Vec::new();
    let mut block_out = Vec::new();
    for (t, &at) in tensors.iter().zip(&offsets) {
        // Tensors are written in header order, each at its aligned offset.
        let gap = at - written;
        w.write_all(&vec![0u8; gap as usize]).map_err(io_dst)?;
        written = at;
        r.seek(SeekFrom::Start(data_start + t.offset))
            .map_err(io_src)?;
        if t.out_ty == TYPE_Q8_0 {
            quantized += 1;
            let row_len = t.dims[0] as usize;
            let rows = t.elements() / t.dims[0];
            row.resize(row_len * 4, 0);
            for _ in 0..rows {
                r.read_exact(&mut row).map_err(io_src)?;
                block_out.clear();
                quantize_row(&row, &mut block_out);
                w.write_all(&block_out).map_err(io_dst)?;
            }
        } else {
            let mut left = t.size;
            let mut buf = vec![0u8; 1 << 20];
            while left > 0 {
                let n = left.min(buf.len() as u64) as usize;
                r.read_exact(&mut buf[..n]).map_err(io_src)?;
                w.write_all(&buf[..n]).map_err(io_dst)?;
                left -= n as u64;
            }
        }
        written += t.out_size();
    }
    w.flush().map_err(io_dst)?;
    let file = w.into_inner().map_err(|e| io_dst(e.into_error()))?;
    file.sync_all().map_err(io_dst)?;
    Ok(Quantized {
        quantized,
        kept: tensors.len() - quantized,
        bytes: head.len() as u64 + written,
    })
}

/// `Q8_0` of one row of little-endian f32 values (a whole number of blocks): per block the
/// scale `d = max|x| / 127` as f16, then each `round(x / d)` as a signed byte.
fn quantize_row(row: &[u8], out: &mut Vec<u8>) {
    for block in row.chunks_exact(BLOCK * 4) {
        let mut x = [0f32; BLOCK];
        for (v, b) in x.iter_mut().zip(block.chunks_exact(4)) {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        for v in x {
            // In range by construction: |v * id| <= 127.
            #[allow(clippy::cast_possible_truncation)]
            let q = (v * id).round().clamp(-127.0, 127.0) as i8;
            out.push(q.to_le_bytes()[0]);
        }
    }
}

fn align(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

fn u32_le(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn u64_le(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn len(r: &mut impl Read) -> io::Result<u64> {
    let n = u64_le(r)?;
    if n > MAX_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a length of {n}"),
        ));
    }
    Ok(n)
}

fn string(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let n = len(r)?;
    let mut b = vec![0u8; n as usize];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

/// Copies one value of type `ty` from `r` to `out`, as it is.
fn copy_value(r: &mut impl Read, ty: u32, out: &mut Vec<u8>) -> io::Result<()> {
    match ty {
        STRING => {
            let s = string(r)?;
            put_string(out, &s);
        }
        ARRAY => {
            let item = u32_le(r)?;
            let count = len(r)?;
            out.extend_from_slice(&item.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if let Some(size) = fixed_size(item) {
                let mut b = vec![0u8; (count * size) as usize];
                r.read_exact(&mut b)?;
                out.extend_from_slice(&b);
            } else {
                for _ in 0..count {
                    copy_value(r, item, out)?;
                }
            }
        }
        other => {
            let size = fixed_size(other).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown value type {other}"),
                )
            })?;
            let mut b = vec![0u8; size as usize];
            r.read_exact(&mut b)?;
            out.extend_from_slice(&b);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    type Keys = Vec<(String, u32)>;
    type Tensors = Vec<(String, u32, Vec<f32>)>;

    /// A GGUF file the way llama.cpp's writer lays one out: header, metadata, tensor infos,
    /// padding to the alignment, then each tensor at an aligned offset.
    fn gguf(kvs: &[(&str, u32, Vec<u8>)], tensors: &[(&str, Vec<u64>, Vec<f32>)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(kvs.len() as u64).to_le_bytes());
        for (k, ty, v) in kvs {
            put_string(&mut out, k.as_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(v);
        }
        let mut offset = 0u64;
        for (name, dims, data) in tensors {
            put_string(&mut out, name.as_bytes());
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&TYPE_F32.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = align(offset + data.len() as u64 * 4, DEFAULT_ALIGNMENT);
        }
        out.resize(align(out.len() as u64, DEFAULT_ALIGNMENT) as usize, 0);
        let start = out.len();
        for (_, _, data) in tensors {
            out.resize(
                align((out.len() - start) as u64, DEFAULT_ALIGNMENT) as usize + start,
                0,
            );
            for v in data {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    fn string_value(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        put_string(&mut v, s.as_bytes());
        v
    }

    /// Reads a copy back: metadata keys with types, and each tensor's type and values
    /// (dequantized for `Q8_0`).
    fn read_back(bytes: &[u8]) -> (Keys, Tensors) {
        let mut r = io::Cursor::new(bytes);
        let mut magic = [0u8; 4];
        r.read_exact(&mut magic).unwrap();
        assert_eq!(&magic, b"GGUF");
        u32_le(&mut r).unwrap();
        let n_t = u64_le(&mut r).unwrap();
        let n_kv = u64_le(&mut r).unwrap();
        let mut keys = Vec::new();
        for _ in 0..n_kv {
            let k = String::from_utf8(string(&mut r).unwrap()).unwrap();
            let ty = u32_le(&mut r).unwrap();
            let mut sink = Vec::new();
            copy_value(&mut r, ty, &mut sink).unwrap();
            if k == "general.file_type" {
                assert_eq!(sink, FTYPE_Q8_0.to_le_bytes());
            }
            keys.push((k, ty));
        }
        let mut infos = Vec::new();
        for _ in 0..n_t {
            let name = String::from_utf8(string(&mut r).unwrap()).unwrap();
            let nd = u32_le(&mut r).unwrap();
            let dims: Vec<u64> = (0..nd).map(|_| u64_le(&mut r).unwrap()).collect();
            let ty = u32_le(&mut r).unwrap();
            let off = u64_le(&mut r).unwrap();
            assert_eq!(off % DEFAULT_ALIGNMENT, 0, "{name} aligned");
            infos.push((name, dims, ty, off));
        }
        let start = align(r.position(), DEFAULT_ALIGNMENT) as usize;
        let tensors = infos
            .into_iter()
            .map(|(name, dims, ty, off)| {
                let n: u64 = dims.iter().product();
                let at = start + off as usize;
                let values = if ty == TYPE_Q8_0 {
                    bytes[at..at + (n as usize / BLOCK) * BLOCK_BYTES]
                        .chunks_exact(BLOCK_BYTES)
                        .flat_map(|b| {
                            let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
                            b[2..]
                                .iter()
                                .map(move |&q| f32::from(i8::from_le_bytes([q])) * d)
                        })
                        .collect()
                } else {
                    bytes[at..at + n as usize * 4]
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                };
                (name, ty, values)
            })
            .collect();
        (keys, tensors)
    }

    #[test]
    fn matrices_become_q8_0_within_half_a_step_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("m.gguf");
        let dst = dir.path().join("m.q8_0.gguf");
        // A 3 x 64 matrix with values of very different sizes per block, a norm vector, and
        // a matrix whose rows are not whole blocks (kept as F32).
        let matrix: Vec<f32> = (0..192)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * if i < 32 { 0.001 } else { 0.3 })
            .collect();
        let norm: Vec<f32> = (0..64).map(|i| 1.0 + i as f32 / 64.0).collect();
        let odd: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let kvs = [
            ("general.architecture", STRING, string_value("llama")),
            ("general.file_type", UINT32, 0u32.to_le_bytes().to_vec()),
            (
                "tokenizer.ggml.tokens",
                ARRAY,
                [
                    STRING.to_le_bytes().to_vec(),
                    2u64.to_le_bytes().to_vec(),
                    string_value("<|im_start|>"),
                    string_value("hi"),
                ]
                .concat(),
            ),
        ];
        std::fs::write(
            &src,
            gguf(
                &kvs,
                &[
                    ("blk.0.attn_q.weight", vec![64, 3], matrix.clone()),
                    ("blk.0.attn_norm.weight", vec![64], norm.clone()),
                    ("odd.weight", vec![20, 2], odd.clone()),
                ],
            ),
        )
        .unwrap();
        let done = q8_0(&src, &dst).unwrap();
        assert_eq!(
            (done.quantized, done.kept),
            (1, 2),
            "one matrix quantized, the vector and the odd matrix kept"
        );
        let bytes = std::fs::read(&dst).unwrap();
        assert_eq!(done.bytes, bytes.len() as u64);
        let (keys, tensors) = read_back(&bytes);
        assert_eq!(
            keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            [
                "general.architecture",
                "general.file_type",
                "tokenizer.ggml.tokens"
            ]
        );
        assert_eq!(tensors[0].1, TYPE_Q8_0);
        for (block_in, block_out) in matrix.chunks(BLOCK).zip(tensors[0].2.chunks(BLOCK)) {
            let step = block_in.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (a, b) in block_in.iter().zip(block_out) {
                // Half a quantization step, plus the f16 scale's rounding.
                assert!(
                    (a - b).abs() <= step * 0.5 + step * 127.0 / 1024.0,
                    "{a} vs {b}"
                );
            }
        }
        assert_eq!((tensors[1].1, &tensors[1].2), (TYPE_F32, &norm));
        assert_eq!((tensors[2].1, &tensors[2].2), (TYPE_F32, &odd));
        assert!(bytes.len() < std::fs::metadata(&src).unwrap().len() as usize);
    }

    #[test]
    fn a_file_type_key_is_added_when_missing_and_bad_input_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("m.gguf");
        let dst = dir.path().join("out.gguf");
        let data: Vec<f32> = (0..64).map(|i| i as f32 - 32.0).collect();
        std::fs::write(
            &src,
            gguf(
                &[("general.architecture", STRING, string_value("llama"))],
                &[("w", vec![32, 2], data)],
            ),
        )
        .unwrap();
        q8_0(&src, &dst).unwrap();
        let (keys, tensors) = read_back(&std::fs::read(&dst).unwrap());
        assert!(
            keys.iter()
                .any(|(k, ty)| k == "general.file_type" && *ty == UINT32)
        );
        assert_eq!(tensors[0].1, TYPE_Q8_0);
        // -32 is the largest magnitude: it is 127 steps, off only by the f16 scale's rounding.
        assert!(
            (tensors[0].2[0] + 32.0).abs() <= 32.0 / 2048.0,
            "{}",
            tensors[0].2[0]
        );

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a model").unwrap();
        let err = q8_0(&text, &dst).expect_err("not gguf").to_string();
        assert!(err.contains("not a GGUF model"), "{err}");
        let full = std::fs::read(&src).unwrap();
        let cut = dir.path().join("cut.gguf");
        std::fs::write(&cut, &full[..full.len() - 100]).unwrap();
        let err = q8_0(&cut, &dst).expect_err("cut short").to_string();
        assert!(err.contains("cut.gguf"), "{err}");
    }
}
