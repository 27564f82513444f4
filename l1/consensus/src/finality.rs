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

/// Checks that `certificate` finalizes exactly `claim` under `validators`: a finalization of
/// the claimed block itself, or of a padding block above it (how an epoch's last block is
/// finalized when its own view timed out).
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
    // An epoch's last block whose own view timed out is finalized through the padding blocks
    // on it, each of which repeats its digest: any one's finalization names it.
    let through_padding = proposal.is_padding()
        && proposal.height > claim.height
        && proposal.payload == claim.payload;
    if proposal.height != claim.height && !through_padding {
        return Err(FinalityError::WrongHeight {
            expected: claim.height,
            found: proposal.height,
        });
    }
    if proposal.payload != claim.payload && !through_padding {
        return Err(FinalityError::WrongBlock {
            expected: claim.payload,
            found: proposal.payload,
        });
    }
    verify_signatures(certificate, namespace, validators, verifier)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Vote;
    use crate::signing::Signer;
    use crate::sim::MockScheme;
    use crate::types::{Parent, Proposal};

    const NAMESPACE: &[u8] = b"kaimeng/shard/0";

    fn finalization(scheme: &MockScheme, proposal: Proposal) -> Certificate {
        let vote = Vote::Finalize(proposal);
        let message = signing_bytes(NAMESPACE, &vote);
        Certificate {
            vote,
            signatures: (0..3)
                .map(|i| (i as u32, scheme.signer(i).sign(&message)))
                .collect(),
        }
    }

    fn proposal(height: u64, parent: Digest, payload: Digest) -> Proposal {
        Proposal {
            epoch: 2,
            view: height + 1,
            height,
            parent: Parent {
                view: height,
                digest: parent,
            },
            payload,
        }
    }

    #[test]
    fn an_epoch_end_is_final_through_the_padding_block_on_it_and_nothing_else_is() {
        let scheme = MockScheme::new(4);
        let validators = scheme.validator_set();
        let last = Digest([7; 32]);
        let claim = FinalityClaim {
            epoch: 2,
            height: 10,
            payload: last,
        };
        let check = |certificate: &Certificate| {
            verify_finality(certificate, claim, NAMESPACE, &validators, &scheme)
        };
        // Its own finalization, and that of any padding block above it (each repeats its
        // digest), prove block 10 final: one padding on it, or two when the first one's view
        // timed out too.
        assert_eq!(
            check(&finalization(&scheme, proposal(10, Digest([6; 32]), last))),
            Ok(())
        );
        let padding = proposal(11, last, last);
        assert_eq!(check(&finalization(&scheme, padding)), Ok(()));
        let second_padding = proposal(12, last, last);
        assert_eq!(check(&finalization(&scheme, second_padding)), Ok(()));
        // A padding block over another block proves nothing about it.
        let elsewhere = Digest([8; 32]);
        assert!(matches!(
            check(&finalization(&scheme, proposal(11, elsewhere, elsewhere))),
            Err(FinalityError::WrongHeight { .. })
        ));
        // Nor does one at or below its height.
        assert!(matches!(
            check(&finalization(&scheme, proposal(9, last, last))),
            Err(FinalityError::WrongHeight { .. })
        ));
        // A real block on it is no proof either (only a padding block's finality is).
        let child = proposal(11, last, Digest([9; 32]));
        assert!(check(&finalization(&scheme, child)).is_err());
    }
}
