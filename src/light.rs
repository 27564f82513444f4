//! `kaimeng verify-certificate`: a light client's check of a finality certificate from outside
//! the node. It trusts only the member list (a genesis file) and the chain's crypto suite: it
//! fetches `kaimeng_getFinalityCertificate`, verifies every signature against the members'
//! consensus keys, and checks that the headers it returns hash-link the asked block to the
//! certified one.

use std::path::PathBuf;
use std::time::Duration;

use alloy_consensus::Header;
use alloy_primitives::{B256, U64, keccak256};
use alloy_rlp::Decodable;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use jsonrpsee::http_client::HttpClientBuilder;
use kaimeng_consensus::codec::decode_certificate;
use kaimeng_consensus::{Digest, FinalityClaim, PublicKey, ValidatorSet, verify_finality};
use kaimeng_genesis::GenesisSpec;
use kaimeng_rpc::api::finality::{FinalityApiClient, FinalityCertificate};

use crate::validator::crypto::SuiteVerifier;

#[derive(Args, Debug, Clone)]
pub struct VerifyCertificateArgs {
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// The genesis file whose members' consensus keys sign certificates (the only thing
    /// trusted).
    #[arg(long)]
    pub genesis: PathBuf,
    /// The chain: `beacon`, `shard-N` or `N`.
    #[arg(long, default_value = "shard-0")]
    pub chain: String,
    /// The block height to prove final.
    #[arg(long)]
    pub height: u64,
}

pub fn run(args: VerifyCertificateArgs) -> anyhow::Result<()> {
    let genesis = GenesisSpec::load(&args.genesis)
        .with_context(|| format!("--genesis {}", args.genesis.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let certificate = runtime.block_on(async {
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(&args.rpc)
            .map_err(|e| anyhow!("--rpc {}: {e}", args.rpc))?;
        let chain = match args.chain.parse::<u64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(args.chain.clone()),
        };
        client
            .get_finality_certificate(chain, U64::from(args.height))
            .await
            .map_err(|e| anyhow!("kaimeng_getFinalityCertificate: {e}"))
    })?;
    let signers = check(&genesis, &certificate)?;
    println!(
        "block {} of {} ({}) is final: certified at height {} in epoch {} by {} of {} members",
        args.height,
        certificate.chain,
        certificate.block_hash,
        certificate.certified_height,
        certificate.epoch,
        signers,
        genesis.members.len()
    );
    Ok(())
}

/// Checks `certificate` against the genesis members; returns how many signed.
pub fn check(genesis: &GenesisSpec, certificate: &FinalityCertificate) -> anyhow::Result<usize> {
    let suite = crate::consensus_suite(genesis.crypto_suite);
    if certificate.chain != "beacon"
        && genesis
            .committee_size
            .is_some_and(|size| (size as usize) < genesis.members.len())
    {
        bail!(
            "{} is finalized by a committee drawn from the members (committee size {} of {}): \
             this light client checks certificates signed by all genesis members only; check \
             the beacon chain (--chain beacon), whose crosslinks carry each shard's certificates",
            certificate.chain,
            genesis.committee_size.unwrap_or_default(),
            genesis.members.len()
        );
    }
    let validators = ValidatorSet::new(
        genesis
            .members
            .iter()
            .map(|m| PublicKey(m.consensus_key.to_vec()))
            .collect(),
    )
    .map_err(|e| anyhow!("genesis members: {e}"))?;
    let verifier = SuiteVerifier::new(suite, &validators);
    let decoded = decode_certificate(&certificate.encoded)
        .map_err(|e| anyhow!("the certificate does not decode: {e}"))?;
    let certified: u64 = certificate.certified_height.to();
    let claim = FinalityClaim {
        epoch: certificate.epoch,
        height: certified,
        payload: Digest(certificate.certified_hash.0),
    };
    verify_finality(
        &decoded,
        claim,
        certificate.namespace.as_bytes(),
        &validators,
        &verifier,
    )
    .map_err(|e| anyhow!("the certificate does not verify: {e}"))?;
    check_headers(certificate, suite)?;
    Ok(decoded.signatures.len())
}

/// A header's number, parent hash and hash: a shard's RLP header hashes with keccak256, a
/// beacon header (112 bytes) with the chain's consensus hash.
fn linked_header(
    certificate: &FinalityCertificate,
    suite: kaimeng_crypto::CryptoSuite,
    raw: &[u8],
) -> anyhow::Result<(u64, B256, B256)> {
    if certificate.chain == "beacon" {
        let header = kaimeng_l1::beacon::BeaconHeader::decode(raw)?;
        return Ok((header.height, header.parent, header.hash(suite)));
    }
    let header = Header::decode(&mut &raw[..])?;
    Ok((header.number, header.parent_hash, keccak256(raw)))
}

/// The returned headers run from the asked block to the certified one, each the parent of the
/// next.
fn check_headers(
    certificate: &FinalityCertificate,
    suite: kaimeng_crypto::CryptoSuite,
) -> anyhow::Result<()> {
    let height: u64 = certificate.height.to();
    let certified: u64 = certificate.certified_height.to();
    if certified < height {
        bail!("certified height {certified} is below the asked height {height}");
    }
    if certificate.headers.len() as u64 != certified - height + 1 {
        bail!(
            "{} headers for heights {height}..={certified}",
            certificate.headers.len()
        );
    }
    let mut parent: Option<B256> = None;
    for (offset, raw) in certificate.headers.iter().enumerate() {
        let (number, parent_hash, hash) = linked_header(certificate, suite, raw)
            .map_err(|e| anyhow!("header {offset} does not decode: {e}"))?;
        if number != height + offset as u64 {
            bail!("header {offset} has number {number}");
        }
        if let Some(parent) = parent
            && parent_hash != parent
        {
            bail!("header {number} does not link to its parent");
        }
        if offset == 0 && hash != certificate.block_hash {
            bail!("the first header is not block {}", certificate.block_hash);
        }
        parent = Some(hash);
    }
    if parent != Some(certificate.certified_hash) {
        bail!("the headers do not end at the certified block");
    }
    Ok(())
}
