//! 国密 benchmarks: RustCrypto `sm2`/`sm3`/`sm4` against `sm-crypto`, and the
//! secp256k1 / Keccak / SHA-256 operations the EVM already prices, so that
//! the SM precompile gas can be set relative to ecrecover and SHA-256.
//!
//! Run: `cargo bench -p kaimeng-benches --features crypto --bench crypto`
//! (numbers and machine in BENCHMARKS.md, "国密 crypto").

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use kaimeng_benches::calibration::{median, time_per_call};
use kaimeng_crypto::precompile::{sm2_verify, sm3_hash};
use kaimeng_crypto::sm2_digest::default_message_digest;
use kaimeng_crypto::{CryptoSuite, SecretKey, alt_sm_crypto};
use sm4::cipher::{BlockEncrypt, KeyInit};
use std::hint::black_box;
use std::time::Duration;

const MESSAGE: &[u8] = b"kaimeng consensus vote: height 42, view 7, block digest";

fn inputs() -> [(&'static str, Vec<u8>); 2] {
    [("32B", vec![0xa5; 32]), ("1KiB", vec![0x5a; 1024])]
}

fn hashes(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash");
    for (label, data) in inputs() {
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::new("sm3/rustcrypto", label), &data, |b, d| {
            b.iter(|| <sm3::Sm3 as sm3::Digest>::digest(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("sm3/sm-crypto", label), &data, |b, d| {
            b.iter(|| alt_sm_crypto::sm3_hash(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("keccak256", label), &data, |b, d| {
            b.iter(|| <sha3::Keccak256 as sha3::Digest>::digest(black_box(d)))
        });
        group.bench_with_input(
            BenchmarkId::new("sha256/revm-sha2", label),
            &data,
            |b, d| b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(black_box(d))),
        );
        group.bench_with_input(BenchmarkId::new("sm3/precompile", label), &data, |b, d| {
            b.iter(|| sm3_hash::run(black_box(d), u64::MAX))
        });
    }
    group.finish();
}

fn sm2(c: &mut Criterion) {
    let key = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[1; 32]);
    let secret = *key.to_bytes();
    let public = key.public_key();
    let xy: [u8; 64] = public.to_uncompressed()[1..]
        .try_into()
        .expect("65-byte SEC1");
    let signature = key.sign(MESSAGE);
    let sig_bytes = signature.to_bytes();
    let digest = default_message_digest(&xy, MESSAGE);
    let mut precompile_input = digest.to_vec();
    precompile_input.extend_from_slice(&sig_bytes);
    precompile_input.extend_from_slice(&xy);
    assert_eq!(
        sm2_verify::run(&precompile_input, u64::MAX)
            .unwrap()
            .output
            .len(),
        32
    );
    assert!(alt_sm_crypto::verify(&xy, MESSAGE, &sig_bytes));

    let mut group = c.benchmark_group("sm2");
    group.bench_function("sign/rustcrypto", |b| {
        b.iter(|| key.sign(black_box(MESSAGE)))
    });
    group.bench_function("sign/sm-crypto", |b| {
        b.iter(|| alt_sm_crypto::sign(&secret, black_box(MESSAGE)))
    });
    group.bench_function("verify/rustcrypto", |b| {
        b.iter(|| public.verify(black_box(MESSAGE), black_box(&signature)))
    });
    group.bench_function("verify/sm-crypto", |b| {
        b.iter(|| alt_sm_crypto::verify(&xy, black_box(MESSAGE), black_box(&sig_bytes)))
    });
    group.bench_function("verify-digest/precompile", |b| {
        b.iter(|| sm2_verify::run(black_box(&precompile_input), u64::MAX))
    });
    group.bench_function("verify-digest/sm-crypto", |b| {
        b.iter(|| alt_sm_crypto::verify_digest(&xy, black_box(&digest), black_box(&sig_bytes)))
    });
    group.finish();
}

fn secp256k1(c: &mut Criterion) {
    let key = SecretKey::from_seed(CryptoSuite::Secp256k1Keccak, &[1; 32]);
    let public = key.public_key();
    let signature = key.sign(MESSAGE);

    // ecrecover as revm runs it: libsecp256k1 recovery + keccak of the key.
    let secret = secp256k1::SecretKey::from_byte_array(*key.to_bytes()).expect("valid key");
    let digest: [u8; 32] = <sha3::Keccak256 as sha3::Digest>::digest(MESSAGE).into();
    let message = secp256k1::Message::from_digest(digest);
    let recoverable = secp256k1::SECP256K1.sign_ecdsa_recoverable(message, &secret);

    let mut group = c.benchmark_group("secp256k1");
    group.bench_function("sign/k256", |b| b.iter(|| key.sign(black_box(MESSAGE))));
    group.bench_function("verify/k256", |b| {
        b.iter(|| public.verify(black_box(MESSAGE), black_box(&signature)))
    });
    group.bench_function("ecrecover/libsecp256k1", |b| {
        b.iter(|| {
            let public = secp256k1::SECP256K1
                .recover_ecdsa(black_box(message), black_box(&recoverable))
                .expect("recovers");
            <sha3::Keccak256 as sha3::Digest>::digest(&public.serialize_uncompressed()[1..])
        })
    });
    group.finish();
}

fn sm4(c: &mut Criterion) {
    let key = [0x42u8; 16];
    let data = vec![0x17u8; 1024];
    let cipher = sm4::Sm4::new(&key.into());
    let mut group = c.benchmark_group("sm4-ecb-encrypt");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("1KiB/rustcrypto", |b| {
        b.iter(|| {
            let mut out = black_box(&data).clone();
            for block in out.chunks_exact_mut(16) {
                cipher.encrypt_block(block.into());
            }
            out
        })
    });
    group.bench_function("1KiB/sm-crypto", |b| {
        b.iter(|| alt_sm_crypto::sm4_encrypt_blocks(&key, black_box(&data)))
    });
    group.finish();
}

/// PBKDF2-HMAC-SM3 dominates keystore decryption; 10,000 iterations here,
/// scale linearly to the default (`DEFAULT_ITERATIONS`).
fn keystore(c: &mut Criterion) {
    use kaimeng_crypto::keystore::Keystore;
    let secret = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[1; 32]).to_bytes();
    let keystore = Keystore::encrypt_with(
        &secret[..],
        "password",
        CryptoSuite::Sm2Sm3,
        10_000,
        &[3; 32],
        [4; 16],
    )
    .expect("valid parameters");
    let mut group = c.benchmark_group("keystore");
    group.bench_function("decrypt/pbkdf2-hmac-sm3-10k-iterations", |b| {
        b.iter(|| {
            keystore
                .decrypt(black_box("password"))
                .expect("right password")
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = hashes, sm2, secp256k1, sm4, keystore
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    gas_calibration();
}

/// Gas calibration for the precompiles: cost ratios measured by interleaving
/// the two operations in short rounds, so that load from other processes hits
/// both alike (criterion runs benchmarks one after another). Prints the
/// median ratio over the rounds and the gas it implies.
fn gas_calibration() {
    const ROUNDS: usize = 31;
    let key = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[1; 32]);
    let xy: [u8; 64] = key.public_key().to_uncompressed()[1..]
        .try_into()
        .expect("65-byte SEC1");
    let mut sm2_input = default_message_digest(&xy, MESSAGE).to_vec();
    sm2_input.extend_from_slice(&key.sign(MESSAGE).to_bytes());
    sm2_input.extend_from_slice(&xy);

    let k1 = SecretKey::from_seed(CryptoSuite::Secp256k1Keccak, &[1; 32]);
    let secret = secp256k1::SecretKey::from_byte_array(*k1.to_bytes()).expect("valid key");
    let digest: [u8; 32] = <sha3::Keccak256 as sha3::Digest>::digest(MESSAGE).into();
    let message = secp256k1::Message::from_digest(digest);
    let recoverable = secp256k1::SECP256K1.sign_ecdsa_recoverable(message, &secret);
    let ecrecover = || {
        let public = secp256k1::SECP256K1
            .recover_ecdsa(message, &recoverable)
            .expect("recovers");
        <sha3::Keccak256 as sha3::Digest>::digest(&public.serialize_uncompressed()[1..])
    };
    let kib = vec![0x5au8; 1024];

    let (mut verify, mut hash) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let sm2 = time_per_call(20, || sm2_verify::run(&sm2_input, u64::MAX));
        let recover = time_per_call(100, ecrecover);
        verify.push(sm2 / recover);
        let sm3 = time_per_call(200, || sm3_hash::run(&kib, u64::MAX));
        let sha256 = time_per_call(200, || <sha2::Sha256 as sha2::Digest>::digest(&kib));
        hash.push(sm3 / sha256);
    }
    let (verify, hash) = (median(verify), median(hash));
    println!("gas calibration (median of {ROUNDS} interleaved rounds):");
    println!(
        "  SM2VERIFY precompile / ecrecover (libsecp256k1) = {verify:.2}  -> {:.0} gas at ecrecover's 3000",
        verify * 3000.0
    );
    println!(
        "  SM3 precompile / SHA-256 (sha2), 1 KiB           = {hash:.2}  -> {:.1} gas per word at SHA-256's 12",
        hash * 12.0
    );
}
