//! The published examples of GM/T 0004 (SM3), GM/T 0003.5 (SM2 signature on the
//! recommended curve) and GM/T 0002 (SM4), run against both libraries.

use crate::{unhex, unhex_array};
use kaimeng_crypto::alt_sm_crypto;
use kaimeng_crypto::sm2_digest::{DEFAULT_SM2_ID, message_digest, user_identity_hash};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use sm2::dsa::signature::Verifier;
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm4::cipher::{BlockEncrypt, KeyInit};

// GM/T 0004-2012, Appendix A.
const SM3_ABC: &str = "66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0";
const SM3_ABCD16: &str = "debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732";

// GM/T 0003.5-2012 example: signature on the recommended curve.
const SM2_D: &str = "3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8";
const SM2_XA: &str = "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020";
const SM2_YA: &str = "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13";
const SM2_MESSAGE: &[u8] = b"message digest";
const SM2_ZA: &str = "B2E14C5C 79C6DF5B 85F4FE7E D8DB7A26 2B9DA7E0 7CCB0EA9 F4747B8C CDA8A4F3";
const SM2_E: &str = "F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640";
const SM2_K: &str = "59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21";
const SM2_R: &str = "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3";
const SM2_S: &str = "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA";

// GM/T 0002-2012, Appendix A.
const SM4_KEY_AND_PLAIN: &str = "01234567 89abcdef fedcba98 76543210";
const SM4_ONCE: &str = "681edf34 d206965e 86b3e94f 536e4246";
const SM4_MILLION: &str = "595298c7 c6fd271f 0402f804 c33d3f66";

fn sm2_public_xy() -> [u8; 64] {
    unhex_array(&format!("{SM2_XA}{SM2_YA}"))
}

fn sm2_signature() -> [u8; 64] {
    unhex_array(&format!("{SM2_R}{SM2_S}"))
}

#[test]
fn sm3_standard_vectors_in_both_libraries_and_the_suite_hash() {
    let abcd16 = b"abcd".repeat(16);
    for (input, expected) in [(&b"abc"[..], SM3_ABC), (&abcd16[..], SM3_ABCD16)] {
        let expected = unhex(expected);
        let rustcrypto: [u8; 32] = <sm3::Sm3 as sm3::Digest>::digest(input).into();
        assert_eq!(rustcrypto.to_vec(), expected);
        assert_eq!(alt_sm_crypto::sm3_hash(input).to_vec(), expected);
        assert_eq!(CryptoSuite::Sm2Sm3.hash(input).to_vec(), expected);
    }
}

#[test]
fn sm2_standard_key_pair_and_digest() {
    let key = SecretKey::from_bytes(CryptoSuite::Sm2Sm3, &unhex(SM2_D)).unwrap();
    let uncompressed = key.public_key().to_uncompressed();
    assert_eq!(uncompressed[0], 0x04);
    assert_eq!(uncompressed[1..], sm2_public_xy());
    assert_eq!(
        alt_sm_crypto::public_key_xy(&unhex_array(SM2_D)),
        sm2_public_xy()
    );

    let za = user_identity_hash(DEFAULT_SM2_ID, &sm2_public_xy()).unwrap();
    assert_eq!(za.to_vec(), unhex(SM2_ZA));
    let e = message_digest(DEFAULT_SM2_ID, &sm2_public_xy(), SM2_MESSAGE).unwrap();
    assert_eq!(e.to_vec(), unhex(SM2_E));
}

/// Neither library lets a caller fix the nonce k, so the standard's signing
/// steps A4-A6 are replayed here on RustCrypto's curve arithmetic with the
/// standard's k; the result must be the standard's (r, s).
#[test]
fn sm2_standard_signature_is_reproduced_from_the_standard_nonce() {
    use sm2::elliptic_curve::PrimeField;
    use sm2::elliptic_curve::ops::{MulByGenerator, Reduce};
    use sm2::elliptic_curve::point::AffineCoordinates;
    use sm2::{ProjectivePoint, Scalar, U256};

    let scalar = |hex: &str| {
        let bytes: [u8; 32] = unhex_array(hex);
        Option::<Scalar>::from(Scalar::from_repr(bytes.into())).unwrap()
    };
    let d = scalar(SM2_D);
    let k = scalar(SM2_K);
    let e_bytes: [u8; 32] = unhex_array(SM2_E);
    let e = <Scalar as Reduce<U256>>::reduce_bytes(&e_bytes.into());

    let x1 = ProjectivePoint::mul_by_generator(&k).to_affine().x();
    let r = e + <Scalar as Reduce<U256>>::reduce_bytes(&x1);
    let s = Option::<Scalar>::from((d + Scalar::ONE).invert()).unwrap() * (k - r * d);

    assert_eq!(r.to_repr().to_vec(), unhex(SM2_R));
    assert_eq!(s.to_repr().to_vec(), unhex(SM2_S));
}

#[test]
fn sm2_standard_signature_verifies_in_both_libraries_and_the_suite() {
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(&sm2_public_xy());
    let signature = sm2_signature();

    // Our suite (RustCrypto underneath, Z_A computed by the library).
    let suite = CryptoSuite::Sm2Sm3;
    let public = suite.public_key_from_bytes(&sec1).unwrap();
    let parsed = suite.signature_from_bytes(&signature).unwrap();
    suite.verify(&public, SM2_MESSAGE, &parsed).unwrap();
    assert!(suite.verify(&public, b"message digesT", &parsed).is_err());

    // RustCrypto directly, over the message and over the digest e.
    let verifying = sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", &sec1).unwrap();
    let sig = sm2::dsa::Signature::from_bytes(&signature).unwrap();
    verifying.verify(SM2_MESSAGE, &sig).unwrap();
    verifying.verify_prehash(&unhex(SM2_E), &sig).unwrap();

    // sm-crypto, over the message and over the digest e.
    assert!(alt_sm_crypto::verify(
        &sm2_public_xy(),
        SM2_MESSAGE,
        &signature
    ));
    assert!(alt_sm_crypto::verify_digest(
        &sm2_public_xy(),
        &unhex_array(SM2_E),
        &signature
    ));
    assert!(!alt_sm_crypto::verify(
        &sm2_public_xy(),
        b"message digesT",
        &signature
    ));
}

fn rustcrypto_sm4_block(key: &[u8; 16], block: &mut [u8; 16]) {
    let cipher = sm4::Sm4::new(key.into());
    cipher.encrypt_block(block.into());
}

#[test]
fn sm4_standard_vector_once_in_both_libraries() {
    let key: [u8; 16] = unhex_array(SM4_KEY_AND_PLAIN);
    let mut block = key;
    rustcrypto_sm4_block(&key, &mut block);
    assert_eq!(block.to_vec(), unhex(SM4_ONCE));
    assert_eq!(
        alt_sm_crypto::sm4_encrypt_blocks(&key, &key).unwrap(),
        unhex(SM4_ONCE)
    );
}

/// GM/T 0002 example 2: encrypt the block 1,000,000 times under the same key.
/// RustCrypto does this in well under a second.
#[test]
fn sm4_standard_vector_million_iterations_rustcrypto() {
    let key: [u8; 16] = unhex_array(SM4_KEY_AND_PLAIN);
    let cipher = sm4::Sm4::new(&key.into());
    let mut block = key.into();
    for _ in 0..1_000_000 {
        cipher.encrypt_block(&mut block);
    }
    assert_eq!(block.to_vec(), unhex(SM4_MILLION));
}

/// The same for `sm-crypto`, which schedules the key and pads on every call:
/// about 5 s on the shared 2-core machine (longer than the rest of the suite
/// together), so it is ignored by default. Run it with
/// `cargo test -p kaimeng-crypto --test it -- --ignored sm4_standard_vector_million_iterations_sm_crypto`.
#[test]
#[ignore = "slow with sm-crypto (~5 s); run with --ignored"]
fn sm4_standard_vector_million_iterations_sm_crypto() {
    let key: [u8; 16] = unhex_array(SM4_KEY_AND_PLAIN);
    let mut block = key.to_vec();
    for _ in 0..1_000_000 {
        block = alt_sm_crypto::sm4_encrypt_blocks(&key, &block).unwrap();
    }
    assert_eq!(block, unhex(SM4_MILLION));
}
