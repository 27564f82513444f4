//! Public parameters: generated deterministically (halo2's IPA setup hashes to the curve, so
//! there is no trusted setup), cached on disk, verified on load, with a progress bar while
//! they are generated.
//!
//! A cache file is `KMPARAMS`, format version (u32), `k` (u32), payload length (u64), the
//! Blake2b-256 digest of the payload, then the payload: the bytes of halo2's `Params::write`.
//! Anything that does not match (truncation, bit flips, another `k`) is a typed error, never a
//! panic. Generation reproduces `Params::new(k)` point by point so it can report progress; a
//! test checks the bytes are identical.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ff::{Field, PrimeField};
use group::{Curve, CurveAffine as _, Group, GroupEncoding};
use halo2_proofs::arithmetic::{CurveExt, best_fft};
use halo2_proofs::poly::commitment::Params;
use indicatif::{ProgressBar, ProgressStyle};
use pasta_curves::vesta;
use rayon::prelude::*;

use crate::error::ProverError;

/// Smallest supported `k`.
pub const MIN_K: u32 = 4;
/// Largest supported `k`.
pub const MAX_K: u32 = 22;

const MAGIC: &[u8; 8] = b"KMPARAMS";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 4 + 8 + 32;

/// The parameters type of the chunk circuit (commitments on Vesta, circuit over Pallas' base).
pub type ChunkParams = Params<vesta::Affine>;

fn digest(bytes: &[u8]) -> [u8; 32] {
    let h = blake2b_simd::Params::new()
        .hash_length(32)
        .personal(b"Kaimeng-Params01")
        .hash(bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(h.as_bytes());
    out
}

/// Generates the payload of `Params::new(k)`, calling `progress(done, total)` as it goes.
pub fn generate_bytes(
    k: u32,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<u8>, ProverError> {
    if !(MIN_K..=MAX_K).contains(&k) {
        return Err(ProverError::UnsupportedK(k));
    }
    let n = 1usize << k;
    // Hashing to the curve dominates; the Lagrange transform is reported as the last tenth.
    let total = n as u64 + n as u64 / 10 + 1;
    let done = AtomicU64::new(0);
    let hasher = vesta::Point::hash_to_curve("Halo2-Parameters");
    let mut g_projective = vec![vesta::Point::identity(); n];
    g_projective
        .par_chunks_mut(1024)
        .enumerate()
        .for_each(|(chunk, points)| {
            let hasher = vesta::Point::hash_to_curve("Halo2-Parameters");
            for (j, p) in points.iter_mut().enumerate() {
                let i = (chunk * 1024 + j) as u32;
                let mut message = [0u8; 5];
                message[1..5].copy_from_slice(&i.to_le_bytes());
                *p = hasher(&message);
            }
            let now = done.fetch_add(points.len() as u64, Ordering::Relaxed) + points.len() as u64;
            progress(now, total);
        });
    drop(hasher);
    let mut g = vec![vesta::Affine::identity(); n];
    vesta::Point::batch_normalize(&g_projective, &mut g);

    let mut alpha_inv = <vesta::Scalar as PrimeField>::ROOT_OF_UNITY_INV;
    for _ in k..<vesta::Scalar as PrimeField>::S {
        alpha_inv = alpha_inv.square();
    }
    let mut lagrange = g_projective;
    best_fft(&mut lagrange, alpha_inv, k);
    let minv = vesta::Scalar::TWO_INV.pow_vartime([u64::from(k)]);
    lagrange.par_iter_mut().for_each(|p| *p *= minv);
    let mut g_lagrange = vec![vesta::Affine::identity(); n];
    vesta::Point::batch_normalize(&lagrange, &mut g_lagrange);
    progress(total - 1, total);

    let hasher = vesta::Point::hash_to_curve("Halo2-Parameters");
    let w = hasher(&[1]).to_affine();
    let u = hasher(&[2]).to_affine();
    let mut out = Vec::with_capacity(4 + 64 * n + 64);
    out.extend_from_slice(&k.to_le_bytes());
    for p in g.iter().chain(g_lagrange.iter()) {
        out.extend_from_slice(p.to_bytes().as_ref());
    }
    out.extend_from_slice(w.to_bytes().as_ref());
    out.extend_from_slice(u.to_bytes().as_ref());
    progress(total, total);
    Ok(out)
}

/// Parameters cached in a directory, one file per `k`.
#[derive(Clone, Debug)]
pub struct ParamsCache {
    dir: PathBuf,
    show_progress: bool,
}

impl ParamsCache {
    /// A cache in `dir` (created on first write). Shows a progress bar while generating.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            show_progress: true,
        }
    }

    /// Disables the progress bar (tests, logs).
    pub fn quiet(mut self) -> Self {
        self.show_progress = false;
        self
    }

    /// The file holding parameters for `k`.
    pub fn path(&self, k: u32) -> PathBuf {
        self.dir.join(format!("kaimeng-chunk-params-k{k}.bin"))
    }

    /// Loads parameters for `k`, generating and caching them if the file is missing.
    /// A file that exists but is damaged is an error (delete it to regenerate).
    pub fn load_or_generate(&self, k: u32) -> Result<ChunkParams, ProverError> {
        let path = self.path(k);
        match fs::read(&path) {
            Ok(bytes) => decode(&path, k, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let payload = self.generate(k)?;
                self.store(&path, k, &payload)?;
                decode_payload(&path, &payload)
            }
            Err(source) => Err(ProverError::Io {
                what: "reading",
                path,
                source,
            }),
        }
    }

    fn generate(&self, k: u32) -> Result<Vec<u8>, ProverError> {
        let bar = if self.show_progress {
            let bar = ProgressBar::new(1);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{elapsed_precise}] {wide_bar} {percent}% (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("generating prover parameters, k = {k}"));
            bar
        } else {
            ProgressBar::hidden()
        };
        let payload = generate_bytes(k, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })?;
        bar.finish_and_clear();
        Ok(payload)
    }

    fn store(&self, path: &Path, k: u32, payload: &[u8]) -> Result<(), ProverError> {
        let io = |what, source| ProverError::Io {
            what,
            path: path.to_path_buf(),
            source,
        };
        fs::create_dir_all(&self.dir).map_err(|e| io("creating the directory for", e))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = fs::File::create(&tmp).map_err(|e| io("creating", e))?;
        file.write_all(&encode_header(k, payload))
            .and_then(|_| file.write_all(payload))
            .and_then(|_| file.sync_all())
            .map_err(|e| io("writing", e))?;
        fs::rename(&tmp, path).map_err(|e| io("renaming into place", e))
    }
}

fn encode_header(k: u32, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&k.to_le_bytes());
    h.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    h.extend_from_slice(&digest(payload));
    h
}

/// Encodes a payload as a cache file (exposed for tests of corrupted files).
pub fn encode_file(k: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = encode_header(k, payload);
    out.extend_from_slice(payload);
    out
}

fn corrupt(path: &Path, reason: impl Into<String>) -> ProverError {
    ProverError::CorruptParams {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn decode(path: &Path, k: u32, bytes: &[u8]) -> Result<ChunkParams, ProverError> {
    if bytes.len() < HEADER {
        return Err(corrupt(
            path,
            format!("{} bytes is shorter than the header", bytes.len()),
        ));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt(path, "not a Kaimeng parameter file (bad magic)"));
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let version = word(8);
    if version != VERSION {
        return Err(corrupt(
            path,
            format!("format version {version}, expected {VERSION}"),
        ));
    }
    let file_k = word(12);
    if file_k != k {
        return Err(corrupt(
            path,
            format!("holds k = {file_k}, expected k = {k}"),
        ));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[16..24]);
    let len = u64::from_le_bytes(len);
    let expected_len = 4 + 64 * (1u64 << k) + 64;
    let payload = &bytes[HEADER..];
    if len != expected_len || payload.len() as u64 != len {
        return Err(corrupt(
            path,
            format!(
                "payload is {} bytes (header says {len}), k = {k} needs {expected_len}",
                payload.len()
            ),
        ));
    }
    if digest(payload) != bytes[24..56] {
        return Err(corrupt(path, "checksum mismatch"));
    }
    decode_payload(path, payload)
}

fn decode_payload(path: &Path, payload: &[u8]) -> Result<ChunkParams, ProverError> {
    ChunkParams::read(&mut &payload[..]).map_err(|e| corrupt(path, format!("invalid points: {e}")))
}

/// Reads a cache file's bytes for `k` (exposed so tools can validate a file).
pub fn decode_file(path: &Path, k: u32, bytes: &[u8]) -> Result<ChunkParams, ProverError> {
    decode(path, k, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_reproduces_halo2_params() {
        let k = 5;
        let ours = generate_bytes(k, &|_, _| {}).unwrap();
        let mut theirs = Vec::new();
        ChunkParams::new(k).write(&mut theirs).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn cache_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParamsCache::new(dir.path()).quiet();
        let k = 5;
        let first = cache.load_or_generate(k).unwrap();
        let again = cache.load_or_generate(k).unwrap();
        assert_eq!(first.get_g(), again.get_g());

        let path = cache.path(k);
        let good = fs::read(&path).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() - 7].to_vec(), "payload is"),
            (good[..10].to_vec(), "shorter than the header"),
            (
                {
                    let mut b = good.clone();
                    let last = b.len() - 100;
                    b[last] ^= 1;
                    b
                },
                "checksum",
            ),
            (
                {
                    let mut b = good.clone();
                    b[0] = b'X';
                    b
                },
                "bad magic",
            ),
        ];
        for (bytes, reason) in cases {
            fs::write(&path, &bytes).unwrap();
            match cache.load_or_generate(k) {
                Err(ProverError::CorruptParams { reason: r, .. }) => {
                    assert!(r.contains(reason), "{r} should mention {reason}")
                }
                other => panic!("expected a corrupt-params error, got {other:?}"),
            }
        }
        // Another k's file under this name.
        fs::write(
            &path,
            encode_file(6, &generate_bytes(6, &|_, _| {}).unwrap()),
        )
        .unwrap();
        assert!(matches!(
            cache.load_or_generate(k),
            Err(ProverError::CorruptParams { .. })
        ));
        // Valid header and checksum but garbage points.
        let mut payload = good[HEADER..].to_vec();
        for b in payload[4..68].iter_mut() {
            *b = 0xff;
        }
        fs::write(&path, encode_file(k, &payload)).unwrap();
        match cache.load_or_generate(k) {
            Err(ProverError::CorruptParams { reason, .. }) => {
                assert!(reason.contains("invalid points"))
            }
            other => panic!("expected invalid points, got {other:?}"),
        }
    }

    #[test]
    fn unsupported_k_is_refused() {
        assert!(matches!(
            generate_bytes(40, &|_, _| {}),
            Err(ProverError::UnsupportedK(40))
        ));
    }
}
