//! A height's beacon section: the governance transactions ordered at it, encoded as
//! `{ length (4, BE) ‖ signed governance transaction }*` (no transactions is no bytes).

use crate::governance::SignedGovernanceTx;

use super::BeaconError;

/// Most governance transactions at one height.
pub const MAX_GOVERNANCE_TXS: usize = 64;

pub fn encode_section(txs: &[SignedGovernanceTx]) -> Vec<u8> {
    let mut out = Vec::new();
    for tx in txs {
        let encoded = tx.encode();
        out.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        out.extend_from_slice(&encoded);
    }
    out
}

pub fn decode_section(mut bytes: &[u8]) -> Result<Vec<SignedGovernanceTx>, BeaconError> {
    let mut txs = Vec::new();
    while !bytes.is_empty() {
        if txs.len() == MAX_GOVERNANCE_TXS {
            return Err(BeaconError::TooManyTransactions {
                max: MAX_GOVERNANCE_TXS,
            });
        }
        let len = bytes
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(BeaconError::Truncated("a length"))?;
        let raw = 4usize
            .checked_add(len)
            .and_then(|end| bytes.get(4..end))
            .ok_or(BeaconError::Truncated("a transaction"))?;
        txs.push(SignedGovernanceTx::decode(raw).map_err(BeaconError::Undecodable)?);
        bytes = &bytes[4 + len..];
    }
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_sections_are_refused_with_the_place_they_end() {
        assert_eq!(
            decode_section(&[0, 0]).unwrap_err(),
            BeaconError::Truncated("a length")
        );
        assert_eq!(
            decode_section(&[0, 0, 0, 9, 1]).unwrap_err(),
            BeaconError::Truncated("a transaction")
        );
        assert_eq!(
            decode_section(&[0xff, 0xff, 0xff, 0xff]).unwrap_err(),
            BeaconError::Truncated("a transaction")
        );
        assert!(matches!(
            decode_section(&[0, 0, 0, 1, 7]).unwrap_err(),
            BeaconError::Undecodable(_)
        ));
        assert_eq!(decode_section(&[]).unwrap(), Vec::new());
    }
}
