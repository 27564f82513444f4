//! Checking a certificate outside an engine: what block sync, crosslinks and light clients do
//! with a stored finality certificate. The caller supplies the chain's namespace and the
//! validator set of the certificate's epoch; nothing else is trusted.

use crate::engine::Rejection;
use crate::messages::{Certificate, CertificateKind};
use crate::signing::{Verifier, signing_bytes};
use crate::types::{Digest, Epoch, Height};
use crate::validators::ValidatorSet;

/// What a finality certificate must be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalityClaim {
    pub epoch: Epoch,
    pub height: Height,
    pub payload: Digest,
}

/// Why a certificate does not prove the claimed block final.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FinalityError {
    #[error("certificate is a {0:?}, not a finalization")]
    NotFinalization(CertificateKind),
    #[error("certificate is for epoch {found}, the block is in epoch {expected}")]
    WrongEpoch { expected: Epoch, found: Epoch },
    #[error("certificate is for height {found}, not {expected}")]
    WrongHeight { expected: Height, found: Height },
    #[error("certificate finalizes block {found}, not {expected}")]
    WrongBlock { expected: Digest, found: Digest },
    #[error("certificate signatures: {0}")]
    Signatures(#[from] Rejection),
}

/// Checks the shape and every signature of `certificate` against `validators` (a quorum of
/// distinct members, strictly ascending, each signature valid under `namespace`).
pub fn verify_signatures(
    certificate: &Certificate,
    namespace: &[u8],
    validators: &ValidatorSet,
    verifier: &impl Verifier,
) -> Result<(), Rejection> {
    if let Some(proposal) = certificate.proposal()
        && proposal.parent.view >= proposal.view
    {
        return Err(Rejection::MalformedProposal(
            "parent view must precede the proposal's view",
        ));
    }
    let need = validators.quorum();
    if certificate.signatures.len() < need {
        return Err(Rejection::NotEnoughSigners {
            have: certificate.signatures.len(),
            need,
        });
    }
    if certificate
        .signatures
        .windows(2)
        .any(|pair| pair[0].0 >= pair[1].0)
    {
        return Err(Rejection::UnsortedSigners);
    }
    let message = signing_bytes(namespace, &certificate.vote);
    for (signer, signature) in &certificate.signatures {
        let Some(key) = validators.public_key(*signer) else {
            return Err(Rejection::UnknownSigner(*signer));
        };
        if !verifier.verify(*signer, key, &message, signature) {
            return Err(Rejection::BadSignature(*signer));
        }
    }
    Ok(())
}

/// Checks that `certificate` finalizes exactly `claim` under `validators`.
pub fn verify_finality(
    certificate: &Certificate,
    claim: FinalityClaim,
    namespace: &[u8],
    validators: &ValidatorSet,
    verifier: &impl Verifier,
) -> Result<(), FinalityError> {
    let kind = certificate.kind();
    let Some(proposal) = certificate
        .proposal()
        .filter(|_| kind == CertificateKind::Finalization)
    else {
        return Err(FinalityError::NotFinalization(kind));
    };
    if proposal.epoch != claim.epoch {
        return Err(FinalityError::WrongEpoch {
            expected: claim.epoch,
            found: proposal.epoch,
        });
    }
    if proposal.height != claim.height {
        return Err(FinalityError::WrongHeight {
            expected: claim.height,
            found: proposal.height,
        });
    }
    if proposal.payload != claim.payload {
        return Err(FinalityError::WrongBlock {
            expected: claim.payload,
            found: proposal.payload,
        });
    }
    verify_signatures(certificate, namespace, validators, verifier)?;
    Ok(())
}
