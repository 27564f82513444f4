//! The keystore's JSON form. Reading goes field by field so that every error
//! names the field at fault (`"kdfparams.salt"`, `"mac"`, ...).
//!
//! ```json
//! {
//!   "version": 1,
//!   "suite": "sm2-sm3",
//!   "public_key": "03…(33 bytes)",
//!   "kdf": "pbkdf2-hmac-sm3",
//!   "kdfparams": { "iterations": 1000000, "salt": "…(32 bytes)" },
//!   "cipher": "sm4-ctr",
//!   "cipherparams": { "iv": "…(16 bytes)" },
//!   "ciphertext": "…",
//!   "mac": "…(32 bytes)"
//! }
//! ```
//!
//! Byte strings are lowercase hex; a `0x` prefix is accepted when reading.

use super::{
    CIPHER_NAME, IV_LEN, KDF_NAME, KEYSTORE_VERSION, Keystore, KeystoreError, MAC_LEN,
    MAX_ITERATIONS, MAX_SECRET_LEN,
};
use crate::suite::CryptoSuite;
use serde_json::{Map, Value, json};

pub(super) fn to_json(keystore: &Keystore) -> String {
    // Serialising a map of strings and numbers cannot fail.
    serde_json::to_string_pretty(&to_value(keystore)).unwrap_or_default()
}

pub(super) fn to_value(keystore: &Keystore) -> Value {
    let mut object = Map::new();
    object.insert("version".into(), json!(keystore.version));
    object.insert("suite".into(), json!(keystore.suite.name()));
    if let Some(public_key) = keystore.public_key {
        object.insert("public_key".into(), json!(hex::encode(public_key)));
    }
    object.insert("kdf".into(), json!(KDF_NAME));
    object.insert(
        "kdfparams".into(),
        json!({ "iterations": keystore.iterations, "salt": hex::encode(&keystore.salt) }),
    );
    object.insert("cipher".into(), json!(CIPHER_NAME));
    object.insert(
        "cipherparams".into(),
        json!({ "iv": hex::encode(keystore.iv) }),
    );
    object.insert(
        "ciphertext".into(),
        json!(hex::encode(&keystore.ciphertext)),
    );
    object.insert("mac".into(), json!(hex::encode(keystore.mac)));
    Value::Object(object)
}

pub(super) fn from_json(text: &str) -> Result<Keystore, KeystoreError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| KeystoreError::Json(e.to_string()))?;
    from_value(&value)
}

pub(super) fn from_value(value: &Value) -> Result<Keystore, KeystoreError> {
    let root = value
        .as_object()
        .ok_or_else(|| KeystoreError::Json("expected a JSON object".into()))?;
    reject_unknown(
        root,
        "",
        &[
            "version",
            "suite",
            "public_key",
            "kdf",
            "kdfparams",
            "cipher",
            "cipherparams",
            "ciphertext",
            "mac",
        ],
    )?;

    let version = required(root, "version", "version")?
        .as_u64()
        .ok_or_else(|| invalid("version", "expected a non-negative integer"))?;
    if version != u64::from(KEYSTORE_VERSION) {
        return Err(KeystoreError::UnsupportedVersion(version));
    }

    let suite_name = string(root, "suite", "suite")?;
    let suite: CryptoSuite = suite_name
        .parse()
        .map_err(|e: crate::UnknownSuite| invalid("suite", e.to_string()))?;

    let public_key = match root.get("public_key") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let bytes = hex_field(root, "public_key", "public_key")?;
            let key: [u8; 33] = exact(bytes, "public_key")?;
            crate::PublicKey::from_bytes(suite, &key)
                .map_err(|e| invalid("public_key", e.to_string()))?;
            Some(key)
        }
    };

    let kdf = string(root, "kdf", "kdf")?;
    if kdf != KDF_NAME {
        return Err(invalid(
            "kdf",
            format!("unsupported KDF {kdf:?}; expected {KDF_NAME:?}"),
        ));
    }
    let kdfparams = object(root, "kdfparams", "kdfparams")?;
    reject_unknown(kdfparams, "kdfparams.", &["iterations", "salt"])?;
    let iterations = required(kdfparams, "iterations", "kdfparams.iterations")?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| invalid("kdfparams.iterations", "expected an integer 1..=4294967295"))?;
    check_iterations(iterations)?;
    let salt = hex_field(kdfparams, "salt", "kdfparams.salt")?;
    check_salt(&salt)?;

    let cipher = string(root, "cipher", "cipher")?;
    if cipher != CIPHER_NAME {
        return Err(invalid(
            "cipher",
            format!("unsupported cipher {cipher:?}; expected {CIPHER_NAME:?}"),
        ));
    }
    let cipherparams = object(root, "cipherparams", "cipherparams")?;
    reject_unknown(cipherparams, "cipherparams.", &["iv"])?;
    let iv: [u8; IV_LEN] = exact(
        hex_field(cipherparams, "iv", "cipherparams.iv")?,
        "cipherparams.iv",
    )?;

    let ciphertext = hex_field(root, "ciphertext", "ciphertext")?;
    if ciphertext.is_empty() || ciphertext.len() > MAX_SECRET_LEN {
        return Err(invalid(
            "ciphertext",
            format!(
                "expected 1..={MAX_SECRET_LEN} bytes, got {}",
                ciphertext.len()
            ),
        ));
    }
    let mac: [u8; MAC_LEN] = exact(hex_field(root, "mac", "mac")?, "mac")?;

    Ok(Keystore {
        version: KEYSTORE_VERSION,
        suite,
        public_key,
        iterations,
        salt,
        iv,
        ciphertext,
        mac,
    })
}

pub(super) fn check_iterations(iterations: u32) -> Result<(), KeystoreError> {
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(invalid(
            "kdfparams.iterations",
            format!("{iterations} is outside 1..={MAX_ITERATIONS}"),
        ));
    }
    Ok(())
}

pub(super) fn check_salt(salt: &[u8]) -> Result<(), KeystoreError> {
    if !(16..=64).contains(&salt.len()) {
        return Err(invalid(
            "kdfparams.salt",
            format!("expected 16..=64 bytes, got {}", salt.len()),
        ));
    }
    Ok(())
}

fn invalid(field: &'static str, problem: impl Into<String>) -> KeystoreError {
    KeystoreError::InvalidField {
        field,
        problem: problem.into(),
    }
}

fn reject_unknown(
    object: &Map<String, Value>,
    prefix: &str,
    known: &[&str],
) -> Result<(), KeystoreError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(KeystoreError::Json(format!(
            "unknown field \"{prefix}{unknown}\""
        ))),
        None => Ok(()),
    }
}

fn required<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a Value, KeystoreError> {
    object.get(key).ok_or(KeystoreError::MissingField { field })
}

fn string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, KeystoreError> {
    required(object, key, field)?
        .as_str()
        .ok_or_else(|| invalid(field, "expected a string"))
}

fn object<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a Map<String, Value>, KeystoreError> {
    required(object, key, field)?
        .as_object()
        .ok_or_else(|| invalid(field, "expected an object"))
}

fn hex_field(
    object: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Vec<u8>, KeystoreError> {
    let text = string(object, key, field)?;
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|e| invalid(field, format!("expected hex bytes: {e}")))
}

fn exact<const N: usize>(bytes: Vec<u8>, field: &'static str) -> Result<[u8; N], KeystoreError> {
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| invalid(field, format!("expected {N} bytes, got {len}")))
}
