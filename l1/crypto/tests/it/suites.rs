//! Behaviour of both suites through the public API: sign/verify, determinism,
//! seeded keys, encodings and their typed rejections.

use kaimeng_crypto::{CryptoSuite, EncodingError, PublicKey, SecretKey, VerifyError};
use rand::SeedableRng;
use std::collections::HashSet;

#[test]
fn sign_then_verify_and_reject_other_messages_and_keys() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    for suite in CryptoSuite::ALL {
        let key = SecretKey::generate(suite, &mut rng);
        let other = SecretKey::generate(suite, &mut rng);
        let message = suite.hash(b"proposal digest");
        let signature = key.sign(&message);
        assert_eq!(signature.suite(), suite);
        suite
            .verify(&key.public_key(), &message, &signature)
            .unwrap();
        assert_eq!(
            suite.verify(&key.public_key(), b"other", &signature),
            Err(VerifyError::BadSignature { suite })
        );
        assert_eq!(
            suite.verify(&other.public_key(), &message, &signature),
            Err(VerifyError::BadSignature { suite })
        );
    }
}

#[test]
fn signatures_are_deterministic() {
    for suite in CryptoSuite::ALL {
        let key = SecretKey::from_seed(suite, &[9; 32]);
        assert_eq!(key.sign(b"same vote"), key.sign(b"same vote"));
        assert_ne!(key.sign(b"same vote"), key.sign(b"other vote"));
    }
}

#[test]
fn seeded_keys_are_reproducible_and_distinct() {
    for suite in CryptoSuite::ALL {
        let a = SecretKey::from_seed(suite, &[1; 32]);
        assert_eq!(
            *a.to_bytes(),
            *SecretKey::from_seed(suite, &[1; 32]).to_bytes()
        );
        let distinct: HashSet<PublicKey> = (0..=255u8)
            .map(|i| SecretKey::from_seed(suite, &[i; 32]).public_key())
            .collect();
        assert_eq!(distinct.len(), 256);
    }
    // The same seed gives unrelated keys in the two suites.
    assert_ne!(
        *SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[1; 32]).to_bytes(),
        *SecretKey::from_seed(CryptoSuite::Secp256k1Keccak, &[1; 32]).to_bytes()
    );
}

#[test]
fn random_keys_differ() {
    for suite in CryptoSuite::ALL {
        assert_ne!(suite.generate().public_key(), suite.generate().public_key());
    }
}

#[test]
fn byte_encodings_round_trip() {
    for suite in CryptoSuite::ALL {
        let key = SecretKey::from_seed(suite, &[2; 32]);
        let public = key.public_key();
        let signature = key.sign(b"m");

        let again = suite.secret_key_from_bytes(&key.to_bytes()[..]).unwrap();
        assert_eq!(again.public_key(), public);
        assert_eq!(
            suite.public_key_from_bytes(&public.to_bytes()).unwrap(),
            public
        );
        assert_eq!(
            suite
                .public_key_from_bytes(&public.to_uncompressed())
                .unwrap(),
            public
        );
        assert_eq!(
            suite.signature_from_bytes(&signature.to_bytes()).unwrap(),
            signature
        );
    }
}

/// The secp256k1 suite is ordinary Ethereum-style ECDSA over keccak256:
/// a signature verifies with `k256` directly.
#[test]
fn secp256k1_suite_is_plain_ecdsa_over_keccak() {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha3::Digest;
    let key = SecretKey::from_seed(CryptoSuite::Secp256k1Keccak, &[5; 32]);
    let signature = key.sign(b"hello");
    let verifying =
        k256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_key().to_bytes()).unwrap();
    let sig = k256::ecdsa::Signature::from_slice(&signature.to_bytes()).unwrap();
    verifying
        .verify_prehash(&sha3::Keccak256::digest(b"hello"), &sig)
        .unwrap();
}

#[test]
fn suites_do_not_mix() {
    let sm2 = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[3; 32]);
    let k1 = SecretKey::from_seed(CryptoSuite::Secp256k1Keccak, &[3; 32]);
    let signature = sm2.sign(b"m");
    assert_eq!(
        k1.public_key().verify(b"m", &signature),
        Err(VerifyError::SuiteMismatch {
            what: "signature",
            expected: CryptoSuite::Secp256k1Keccak,
            got: CryptoSuite::Sm2Sm3
        })
    );
    assert!(matches!(
        CryptoSuite::Secp256k1Keccak.verify(&sm2.public_key(), b"m", &signature),
        Err(VerifyError::SuiteMismatch {
            what: "public key",
            ..
        })
    ));
    // Bytes of an SM2 signature are not accepted as a secp256k1 signature
    // of the same message either (they parse only if in range, then fail).
    if let Ok(reparsed) = CryptoSuite::Secp256k1Keccak.signature_from_bytes(&signature.to_bytes()) {
        assert!(k1.public_key().verify(b"m", &reparsed).is_err());
    }
}

#[test]
fn malformed_secret_keys_are_rejected_with_typed_errors() {
    for suite in CryptoSuite::ALL {
        assert_eq!(
            suite.secret_key_from_bytes(&[1; 31]).unwrap_err(),
            EncodingError::SecretKeyLength { suite, got: 31 }
        );
        assert_eq!(
            suite.secret_key_from_bytes(&[0; 32]).unwrap_err(),
            EncodingError::SecretKeyOutOfRange { suite }
        );
        assert_eq!(
            suite.secret_key_from_bytes(&[0xff; 32]).unwrap_err(),
            EncodingError::SecretKeyOutOfRange { suite }
        );
    }
}

#[test]
fn malformed_public_keys_are_rejected_with_typed_errors() {
    for suite in CryptoSuite::ALL {
        let good = SecretKey::from_seed(suite, &[4; 32]).public_key();
        assert_eq!(
            suite.public_key_from_bytes(&[]).unwrap_err(),
            EncodingError::PublicKeyLength { suite, got: 0 }
        );
        assert_eq!(
            suite
                .public_key_from_bytes(&good.to_bytes()[..32])
                .unwrap_err(),
            EncodingError::PublicKeyLength { suite, got: 32 }
        );
        let mut bad_prefix = good.to_bytes();
        bad_prefix[0] = 0x04;
        assert_eq!(
            suite.public_key_from_bytes(&bad_prefix).unwrap_err(),
            EncodingError::PublicKeyPrefix {
                suite,
                prefix: 0x04
            }
        );
        // Flip y: (x, y') with y' != ±y is off the curve.
        let mut off_curve = good.to_uncompressed();
        off_curve[64] ^= 1;
        assert_eq!(
            suite.public_key_from_bytes(&off_curve).unwrap_err(),
            EncodingError::PublicKeyNotOnCurve { suite }
        );
        // An x coordinate of all 0xff bytes is above the field prime.
        let mut big_x = [0xffu8; 33];
        big_x[0] = 0x02;
        assert_eq!(
            suite.public_key_from_bytes(&big_x).unwrap_err(),
            EncodingError::PublicKeyNotOnCurve { suite }
        );
    }
}

#[test]
fn malformed_signatures_are_rejected_with_typed_errors() {
    for suite in CryptoSuite::ALL {
        let signature = SecretKey::from_seed(suite, &[6; 32]).sign(b"m").to_bytes();
        assert_eq!(
            suite.signature_from_bytes(&signature[..63]).unwrap_err(),
            EncodingError::SignatureLength { suite, got: 63 }
        );
        let mut zero_r = signature;
        zero_r[..32].fill(0);
        assert_eq!(
            suite.signature_from_bytes(&zero_r).unwrap_err(),
            EncodingError::SignatureScalarOutOfRange {
                suite,
                component: "r"
            }
        );
        let mut big_s = signature;
        big_s[32..].fill(0xff);
        assert_eq!(
            suite.signature_from_bytes(&big_s).unwrap_err(),
            EncodingError::SignatureScalarOutOfRange {
                suite,
                component: "s"
            }
        );
    }
}

#[test]
fn high_s_secp256k1_signatures_are_rejected() {
    use k256::elliptic_curve::PrimeField;
    let signature = SecretKey::from_seed(CryptoSuite::Secp256k1Keccak, &[8; 32])
        .sign(b"m")
        .to_bytes();
    let s_bytes: [u8; 32] = signature[32..].try_into().unwrap();
    let s = k256::Scalar::from_repr(s_bytes.into()).unwrap();
    let mut high = signature;
    high[32..].copy_from_slice(&(-s).to_repr());
    assert_eq!(
        CryptoSuite::Secp256k1Keccak
            .signature_from_bytes(&high)
            .unwrap_err(),
        EncodingError::SignatureHighS
    );
}

#[test]
fn debug_output_never_shows_the_secret() {
    let key = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[7; 32]);
    let printed = format!("{key:?}");
    assert!(!printed.contains(&hex::encode(*key.to_bytes())));
    assert!(printed.contains("sm2-sm3"));
}
