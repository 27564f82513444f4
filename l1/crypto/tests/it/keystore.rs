//! Keystores: round trips, wrong passwords, malformed files naming the bad
//! field, and the file helpers (atomic, 0600, no accidental overwrite).
//! Tests use a low iteration count; the default is exercised once.

use kaimeng_crypto::keystore::{
    DEFAULT_ITERATIONS, Keystore, KeystoreError, load_keystore, read_keystore, save_keystore,
};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use serde_json::Value;

const FAST: u32 = 16;

fn sealed(suite: CryptoSuite, password: &str) -> (SecretKey, Keystore) {
    let key = SecretKey::from_seed(suite, &[11; 32]);
    let keystore = Keystore::encrypt_with(
        &key.to_bytes()[..],
        password,
        suite,
        FAST,
        &[5; 32],
        [9; 16],
    )
    .unwrap();
    (key, keystore)
}

#[test]
fn round_trip_in_both_suites() {
    for suite in CryptoSuite::ALL {
        let (key, keystore) = sealed(suite, "correct horse");
        assert_eq!(keystore.suite, suite);
        assert_eq!(keystore.public_key, Some(key.public_key().to_bytes()));
        assert_ne!(
            keystore.ciphertext,
            key.to_bytes().to_vec(),
            "secret must not be stored in clear"
        );

        let parsed = Keystore::from_json(&keystore.to_json()).unwrap();
        assert_eq!(parsed, keystore);
        let decrypted = parsed.decrypt_secret_key("correct horse").unwrap();
        assert_eq!(decrypted.public_key(), key.public_key());
        assert_eq!(
            *parsed.decrypt("correct horse").unwrap(),
            key.to_bytes().to_vec()
        );
    }
}

#[test]
fn encrypt_draws_fresh_salt_and_iv() {
    let key = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[12; 32]);
    let a = Keystore::encrypt_with_iterations(&key.to_bytes()[..], "pw", CryptoSuite::Sm2Sm3, FAST)
        .unwrap();
    let b = Keystore::encrypt_with_iterations(&key.to_bytes()[..], "pw", CryptoSuite::Sm2Sm3, FAST)
        .unwrap();
    assert_ne!(a.salt, b.salt);
    assert_ne!(a.iv, b.iv);
    assert_ne!(a.ciphertext, b.ciphertext);
    assert_eq!(
        a.decrypt_secret_key("pw").unwrap().public_key(),
        key.public_key()
    );
    assert_eq!(
        b.decrypt_secret_key("pw").unwrap().public_key(),
        key.public_key()
    );
}

/// One run of the default KDF cost (about a second in release builds).
#[test]
fn default_encrypt_uses_the_default_iterations() {
    let key = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[13; 32]);
    let keystore = Keystore::encrypt(&key.to_bytes()[..], "pw", CryptoSuite::Sm2Sm3);
    assert_eq!(keystore.iterations, DEFAULT_ITERATIONS);
    assert_eq!(keystore.salt.len(), 32);
    assert_eq!(keystore.public_key, Some(key.public_key().to_bytes()));
}

#[test]
fn wrong_password_is_detected_by_the_mac() {
    let (_, keystore) = sealed(CryptoSuite::Sm2Sm3, "right");
    assert!(matches!(
        keystore.decrypt("wrong"),
        Err(KeystoreError::WrongPassword)
    ));
    assert!(matches!(
        keystore.decrypt(""),
        Err(KeystoreError::WrongPassword)
    ));
    assert!(matches!(
        keystore.decrypt_secret_key("Right"),
        Err(KeystoreError::WrongPassword)
    ));
}

#[test]
fn tampering_is_detected() {
    let (_, keystore) = sealed(CryptoSuite::Sm2Sm3, "pw");
    let mut flipped = keystore.clone();
    flipped.ciphertext[0] ^= 1;
    assert!(matches!(
        flipped.decrypt("pw"),
        Err(KeystoreError::WrongPassword)
    ));

    let mut relabelled = keystore.clone();
    relabelled.suite = CryptoSuite::Secp256k1Keccak;
    relabelled.public_key = None;
    assert!(matches!(
        relabelled.decrypt("pw"),
        Err(KeystoreError::WrongPassword)
    ));

    let mut other_iv = keystore.clone();
    other_iv.iv[15] ^= 1;
    assert!(matches!(
        other_iv.decrypt("pw"),
        Err(KeystoreError::WrongPassword)
    ));

    let mut other_key = keystore;
    other_key.public_key = Some(
        SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[1; 32])
            .public_key()
            .to_bytes(),
    );
    assert!(matches!(
        other_key.decrypt_secret_key("pw"),
        Err(KeystoreError::PublicKeyMismatch { .. })
    ));
}

/// Edits one field of a valid keystore's JSON and returns the parse error.
fn parse_with(edit: impl FnOnce(&mut Value)) -> KeystoreError {
    let (_, keystore) = sealed(CryptoSuite::Sm2Sm3, "pw");
    let mut json: Value = serde_json::from_str(&keystore.to_json()).unwrap();
    edit(&mut json);
    Keystore::from_json(&json.to_string()).unwrap_err()
}

fn field_of(error: KeystoreError) -> &'static str {
    match error {
        KeystoreError::InvalidField { field, .. } | KeystoreError::MissingField { field } => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn malformed_files_name_the_bad_field() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("suite", Box::new(|j| j["suite"] = "rsa".into())),
        (
            "public_key",
            Box::new(|j| j["public_key"] = "02abcd".into()),
        ),
        (
            "public_key",
            Box::new(|j| j["public_key"] = format!("02{}", "ff".repeat(32)).into()),
        ),
        ("kdf", Box::new(|j| j["kdf"] = "scrypt".into())),
        ("kdfparams", Box::new(|j| j["kdfparams"] = 5.into())),
        (
            "kdfparams.iterations",
            Box::new(|j| j["kdfparams"]["iterations"] = 0.into()),
        ),
        (
            "kdfparams.iterations",
            Box::new(|j| j["kdfparams"]["iterations"] = "many".into()),
        ),
        (
            "kdfparams.iterations",
            Box::new(|j| j["kdfparams"]["iterations"] = 4_000_000_000u64.into()),
        ),
        (
            "kdfparams.salt",
            Box::new(|j| j["kdfparams"]["salt"] = "zz".into()),
        ),
        (
            "kdfparams.salt",
            Box::new(|j| j["kdfparams"]["salt"] = "00".into()),
        ),
        ("cipher", Box::new(|j| j["cipher"] = "aes-128-ctr".into())),
        (
            "cipherparams.iv",
            Box::new(|j| j["cipherparams"]["iv"] = "0011".into()),
        ),
        ("ciphertext", Box::new(|j| j["ciphertext"] = "".into())),
        ("ciphertext", Box::new(|j| j["ciphertext"] = 12.into())),
        ("mac", Box::new(|j| j["mac"] = "00".repeat(31).into())),
        (
            "mac",
            Box::new(|j| {
                j.as_object_mut().unwrap().remove("mac");
            }),
        ),
        (
            "cipherparams",
            Box::new(|j| {
                j.as_object_mut().unwrap().remove("cipherparams");
            }),
        ),
    ];
    for (field, edit) in cases {
        let error = parse_with(edit);
        let message = error.to_string();
        assert_eq!(field_of(error), field, "{message}");
        assert!(message.contains(field), "message {message:?} names {field}");
    }
}

#[test]
fn other_malformed_files_give_typed_errors() {
    assert!(matches!(
        Keystore::from_json("not json"),
        Err(KeystoreError::Json(_))
    ));
    assert!(matches!(
        Keystore::from_json("[]"),
        Err(KeystoreError::Json(_))
    ));
    assert!(matches!(
        parse_with(|j| j["version"] = 2.into()),
        KeystoreError::UnsupportedVersion(2)
    ));
    let unknown = parse_with(|j| j["extra"] = true.into());
    assert!(unknown.to_string().contains("\"extra\""), "{unknown}");
    // A public key from the other suite's curve may still parse on this one,
    // but the hex of a wrong-length key never does.
    assert_eq!(
        field_of(parse_with(|j| j["public_key"] = "0x".into())),
        "public_key"
    );
}

#[test]
fn encrypt_with_checks_its_parameters() {
    let secret = [1u8; 32];
    let suite = CryptoSuite::Sm2Sm3;
    let err = Keystore::encrypt_with(&secret, "pw", suite, 0, &[0; 32], [0; 16]).unwrap_err();
    assert_eq!(field_of(err), "kdfparams.iterations");
    let err = Keystore::encrypt_with(&secret, "pw", suite, 1, &[0; 8], [0; 16]).unwrap_err();
    assert_eq!(field_of(err), "kdfparams.salt");
    let err = Keystore::encrypt_with(&[], "pw", suite, 1, &[0; 16], [0; 16]).unwrap_err();
    assert_eq!(field_of(err), "ciphertext");
}

#[test]
fn non_key_secrets_round_trip_but_do_not_parse_as_keys() {
    let keystore = Keystore::encrypt_with(
        &[0u8; 32],
        "pw",
        CryptoSuite::Sm2Sm3,
        FAST,
        &[1; 16],
        [2; 16],
    )
    .unwrap();
    assert_eq!(keystore.public_key, None);
    assert_eq!(*keystore.decrypt("pw").unwrap(), vec![0u8; 32]);
    assert!(matches!(
        keystore.decrypt_secret_key("pw"),
        Err(KeystoreError::InvalidSecret { .. })
    ));
}

#[test]
fn files_are_written_private_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validator.json");
    let (key, keystore) = sealed(CryptoSuite::Sm2Sm3, "pw");
    save_keystore(&path, &keystore, false).unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(read_keystore(&path).unwrap(), keystore);
    assert_eq!(
        load_keystore(&path, "pw").unwrap().public_key(),
        key.public_key()
    );
    assert!(matches!(
        load_keystore(&path, "nope"),
        Err(KeystoreError::WrongPassword)
    ));
    // Only the keystore is left in the directory (no temporary files).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn saving_refuses_to_overwrite_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validator.json");
    let (_, first) = sealed(CryptoSuite::Sm2Sm3, "one");
    let (_, second) = sealed(CryptoSuite::Secp256k1Keccak, "two");
    save_keystore(&path, &first, false).unwrap();
    assert!(matches!(
        save_keystore(&path, &second, false),
        Err(KeystoreError::AlreadyExists { .. })
    ));
    assert_eq!(read_keystore(&path).unwrap(), first);
    save_keystore(&path, &second, true).unwrap();
    assert_eq!(read_keystore(&path).unwrap(), second);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let error = read_keystore(&missing).unwrap_err();
    assert!(matches!(error, KeystoreError::Io { .. }));
    assert!(error.to_string().contains("missing.json"));

    let huge = dir.path().join("huge.json");
    std::fs::write(&huge, vec![b' '; 100_000]).unwrap();
    assert!(matches!(
        read_keystore(&huge),
        Err(KeystoreError::TooLarge { .. })
    ));

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"version\": 1}").unwrap();
    assert!(matches!(
        read_keystore(&garbage),
        Err(KeystoreError::MissingField { field: "suite" })
    ));
}

/// HMAC (RFC 2104) over SM3, built here on `sm-crypto`'s SM3 so that it shares
/// no code with the `hmac`/`pbkdf2` crates the keystore uses.
fn independent_hmac_sm3(key: &[u8], message: &[u8]) -> [u8; 32] {
    use kaimeng_crypto::alt_sm_crypto::sm3_hash;
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sm3_hash(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = sm3_hash(&[&inner_key[..], message].concat());
    sm3_hash(&[&outer_key[..], &inner[..]].concat())
}

/// Rebuilds a keystore from the documented format with independent code:
/// PBKDF2 (RFC 8018) over the HMAC above, SM4-CTR from `sm-crypto`'s SM4 on
/// big-endian counter blocks, and the documented MAC input.
#[test]
fn keystore_matches_the_documented_construction() {
    use kaimeng_crypto::alt_sm_crypto::sm4_encrypt_blocks;
    let (password, salt, iv, iterations) = (b"pw".as_slice(), [6u8; 32], [0xffu8; 16], 3u32);
    // A 40-byte secret spans three counter blocks, and the all-ones IV wraps the counter.
    let secret: Vec<u8> = (0..40u8).collect();
    let keystore = Keystore::encrypt_with(
        &secret,
        password,
        CryptoSuite::Sm2Sm3,
        iterations,
        &salt,
        iv,
    )
    .unwrap();

    let mut u = independent_hmac_sm3(password, &[&salt[..], &1u32.to_be_bytes()].concat());
    let mut derived = u;
    for _ in 1..iterations {
        u = independent_hmac_sm3(password, &u);
        derived.iter_mut().zip(u).for_each(|(d, x)| *d ^= x);
    }
    let (encryption_key, mac_key) = derived.split_at(16);

    let mut counter = u128::from_be_bytes(iv);
    let mut keystream = Vec::new();
    while keystream.len() < secret.len() {
        keystream.extend(
            sm4_encrypt_blocks(encryption_key.try_into().unwrap(), &counter.to_be_bytes()).unwrap(),
        );
        counter = counter.wrapping_add(1);
    }
    let ciphertext: Vec<u8> = secret.iter().zip(&keystream).map(|(s, k)| s ^ k).collect();
    assert_eq!(keystore.ciphertext, ciphertext);

    let suite = b"sm2-sm3";
    let mac_input = [
        b"kaimeng-keystore-v1".as_slice(),
        &[suite.len() as u8],
        suite,
        &iv,
        &ciphertext,
    ]
    .concat();
    assert_eq!(keystore.mac, independent_hmac_sm3(mac_key, &mac_input));
}

#[test]
fn serde_matches_to_json_and_from_json() {
    let (_, keystore) = sealed(CryptoSuite::Secp256k1Keccak, "pw");
    let value = serde_json::to_value(&keystore).unwrap();
    assert_eq!(
        value,
        serde_json::from_str::<Value>(&keystore.to_json()).unwrap()
    );
    assert_eq!(
        serde_json::from_value::<Keystore>(value.clone()).unwrap(),
        keystore
    );

    let mut bad = value;
    bad["cipherparams"]["iv"] = "00".into();
    let error = serde_json::from_value::<Keystore>(bad).unwrap_err();
    assert!(error.to_string().contains("cipherparams.iv"), "{error}");
}
