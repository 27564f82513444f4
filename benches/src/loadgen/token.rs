//! The KaiToken ERC-20: its compiled artifact, deployment code and call data.
//!
//! The artifact (`tests/contracts/out/KaiToken.json`) is built into the binary and can be
//! replaced with `--artifact`; its ABI is checked for the functions the load generator calls.

use alloy_primitives::{Address, Bytes, U256, hex};
use alloy_sol_types::{SolCall, SolValue, sol};
use serde_json::Value;

/// The artifact as committed in the repository.
pub const BUILTIN_ARTIFACT: &str = include_str!("../../../tests/contracts/out/KaiToken.json");

sol! {
    function transfer(address to, uint256 value) external returns (bool);
    function balanceOf(address owner) external view returns (uint256);
}

/// Why an artifact cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("artifact has no string field `bytecode`")]
    NoBytecode,
    #[error("artifact `bytecode` is not hex: {0}")]
    BytecodeHex(String),
    #[error("artifact `bytecode` is empty")]
    EmptyBytecode,
    #[error("artifact has no array field `abi`")]
    NoAbi,
    #[error("artifact ABI lacks {0}")]
    MissingEntry(&'static str),
}

/// A token contract ready to deploy: creation code and a checked ABI.
#[derive(Clone, Debug)]
pub struct TokenArtifact {
    creation_code: Bytes,
}

/// The ABI entries the load generator relies on: (kind, name, input types).
const REQUIRED: [(&str, &str, &[&str], &str); 3] = [
    (
        "constructor",
        "",
        &["string", "string", "uint256"],
        "constructor(string,string,uint256)",
    ),
    (
        "function",
        "transfer",
        &["address", "uint256"],
        "transfer(address,uint256)",
    ),
    ("function", "balanceOf", &["address"], "balanceOf(address)"),
];

impl TokenArtifact {
    /// Parses an artifact and checks that its ABI has the constructor and functions we call.
    pub fn parse(json: &str) -> Result<Self, ArtifactError> {
        let value: Value = serde_json::from_str(json)?;
        let abi = value
            .get("abi")
            .and_then(Value::as_array)
            .ok_or(ArtifactError::NoAbi)?;
        for (kind, name, inputs, signature) in REQUIRED {
            if !abi
                .iter()
                .any(|entry| abi_entry_matches(entry, kind, name, inputs))
            {
                return Err(ArtifactError::MissingEntry(signature));
            }
        }
        let bytecode = value
            .get("bytecode")
            .and_then(Value::as_str)
            .ok_or(ArtifactError::NoBytecode)?;
        let creation_code =
            hex::decode(bytecode).map_err(|err| ArtifactError::BytecodeHex(err.to_string()))?;
        if creation_code.is_empty() {
            return Err(ArtifactError::EmptyBytecode);
        }
        Ok(Self {
            creation_code: creation_code.into(),
        })
    }

    /// Creation code followed by the ABI-encoded constructor arguments.
    pub fn deploy_code(&self, name: &str, symbol: &str, supply: U256) -> Bytes {
        let args = (name.to_owned(), symbol.to_owned(), supply).abi_encode_params();
        let mut code = Vec::with_capacity(self.creation_code.len() + args.len());
        code.extend_from_slice(&self.creation_code);
        code.extend_from_slice(&args);
        code.into()
    }
}

fn abi_entry_matches(entry: &Value, kind: &str, name: &str, inputs: &[&str]) -> bool {
    let field = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or("");
    if field("type") != kind || (kind == "function" && field("name") != name) {
        return false;
    }
    let Some(actual) = entry.get("inputs").and_then(Value::as_array) else {
        return false;
    };
    actual.len() == inputs.len()
        && actual
            .iter()
            .zip(inputs)
            .all(|(input, expected)| input.get("type").and_then(Value::as_str) == Some(*expected))
}

/// Call data of `transfer(to, value)`.
pub fn transfer_calldata(to: Address, value: U256) -> Bytes {
    transferCall { to, value }.abi_encode().into()
}

/// Call data of `balanceOf(owner)`.
pub fn balance_of_calldata(owner: Address) -> Bytes {
    balanceOfCall { owner }.abi_encode().into()
}

/// Decodes the 32-byte return value of `balanceOf`.
pub fn decode_balance(returned: &[u8]) -> Option<U256> {
    balanceOfCall::abi_decode_returns(returned).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_artifact_parses_and_deploy_code_appends_the_constructor_args() {
        let artifact = TokenArtifact::parse(BUILTIN_ARTIFACT).unwrap();
        let code = artifact.deploy_code("KaiToken", "KAI", U256::from(1_000u64));
        assert!(code.starts_with(&artifact.creation_code));
        let args = &code[artifact.creation_code.len()..];
        let decoded = <(String, String, U256)>::abi_decode_params(args).unwrap();
        assert_eq!(
            decoded,
            (
                "KaiToken".to_owned(),
                "KAI".to_owned(),
                U256::from(1_000u64)
            )
        );
    }

    #[test]
    fn calldata_uses_the_standard_selectors() {
        let to = Address::repeat_byte(0x11);
        let data = transfer_calldata(to, U256::from(5u64));
        assert_eq!(&data[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(data.len(), 4 + 64);
        assert_eq!(&balance_of_calldata(to)[..4], &[0x70, 0xa0, 0x82, 0x31]);
        assert_eq!(
            decode_balance(&U256::from(42u64).to_be_bytes::<32>()),
            Some(U256::from(42u64))
        );
        assert_eq!(decode_balance(&[1, 2, 3]), None);
    }

    #[test]
    fn an_artifact_without_transfer_is_rejected_by_name() {
        let json = r#"{"abi":[{"type":"constructor","inputs":[{"type":"string"},{"type":"string"},{"type":"uint256"}]},
            {"type":"function","name":"balanceOf","inputs":[{"type":"address"}]}],"bytecode":"0x6000"}"#;
        let err = TokenArtifact::parse(json).unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::MissingEntry("transfer(address,uint256)")
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_bytecode_and_bad_json_are_typed_errors() {
        let abi = r#"[{"type":"constructor","inputs":[{"type":"string"},{"type":"string"},{"type":"uint256"}]},
            {"type":"function","name":"transfer","inputs":[{"type":"address"},{"type":"uint256"}]},
            {"type":"function","name":"balanceOf","inputs":[{"type":"address"}]}]"#;
        let bad_hex = format!(r#"{{"abi":{abi},"bytecode":"0xzz"}}"#);
        assert!(matches!(
            TokenArtifact::parse(&bad_hex),
            Err(ArtifactError::BytecodeHex(_))
        ));
        let empty = format!(r#"{{"abi":{abi},"bytecode":"0x"}}"#);
        assert!(matches!(
            TokenArtifact::parse(&empty),
            Err(ArtifactError::EmptyBytecode)
        ));
        let missing = format!(r#"{{"abi":{abi}}}"#);
        assert!(matches!(
            TokenArtifact::parse(&missing),
            Err(ArtifactError::NoBytecode)
        ));
        assert!(matches!(
            TokenArtifact::parse("{"),
            Err(ArtifactError::Json(_))
        ));
        assert!(matches!(
            TokenArtifact::parse("{}"),
            Err(ArtifactError::NoAbi)
        ));
    }
}
