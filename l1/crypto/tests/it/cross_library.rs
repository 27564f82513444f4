//! Cross-library agreement: SM2 signatures made by `sm-crypto` verify with
//! RustCrypto (through our suite) and the reverse; SM3 and SM4 outputs match.

use kaimeng_crypto::{CryptoSuite, SecretKey, alt_sm_crypto};
use rand::{RngCore, SeedableRng};
use sm4::cipher::{BlockEncrypt, KeyInit};

fn keys(count: u8) -> Vec<SecretKey> {
    (0..count)
        .map(|i| SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[i; 32]))
        .collect()
}

fn xy(key: &SecretKey) -> [u8; 64] {
    key.public_key().to_uncompressed()[1..].try_into().unwrap()
}

#[test]
fn both_libraries_derive_the_same_public_key() {
    for key in keys(4) {
        assert_eq!(alt_sm_crypto::public_key_xy(&key.to_bytes()), xy(&key));
    }
}

#[test]
fn sm_crypto_signatures_verify_with_rustcrypto() {
    let suite = CryptoSuite::Sm2Sm3;
    for (i, key) in keys(4).iter().enumerate() {
        let message = format!("vote for block {i}");
        let raw = alt_sm_crypto::sign(&key.to_bytes(), message.as_bytes()).unwrap();
        let signature = suite.signature_from_bytes(&raw).unwrap();
        suite
            .verify(&key.public_key(), message.as_bytes(), &signature)
            .unwrap();
        assert!(
            suite
                .verify(&key.public_key(), b"another message", &signature)
                .is_err()
        );
    }
}

#[test]
fn rustcrypto_signatures_verify_with_sm_crypto() {
    for (i, key) in keys(4).iter().enumerate() {
        let message = format!("vote for block {i}");
        let signature = key.sign(message.as_bytes()).to_bytes();
        assert!(alt_sm_crypto::verify(
            &xy(key),
            message.as_bytes(),
            &signature
        ));
        assert!(!alt_sm_crypto::verify(
            &xy(key),
            b"another message",
            &signature
        ));
        let mut tampered = signature;
        tampered[63] ^= 1;
        assert!(!alt_sm_crypto::verify(
            &xy(key),
            message.as_bytes(),
            &tampered
        ));
    }
}

#[test]
fn sm3_digests_agree_on_many_lengths() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    // Around the 64-byte block boundary and the 56-byte padding boundary.
    for len in (0..=200).chain([1000, 1024, 4096]) {
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        assert_eq!(
            alt_sm_crypto::sm3_hash(&data),
            CryptoSuite::Sm2Sm3.hash(&data),
            "length {len}"
        );
    }
}

#[test]
fn sm4_ecb_agrees_on_random_keys_and_blocks() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    for _ in 0..16 {
        let mut key = [0u8; 16];
        rng.fill_bytes(&mut key);
        let mut data = vec![0u8; 64];
        rng.fill_bytes(&mut data);
        let cipher = sm4::Sm4::new(&key.into());
        let mut ours = data.clone();
        for block in ours.chunks_exact_mut(16) {
            cipher.encrypt_block(block.into());
        }
        assert_eq!(
            alt_sm_crypto::sm4_encrypt_blocks(&key, &data).unwrap(),
            ours
        );
    }
}
