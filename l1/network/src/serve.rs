//! Serving block sync: which ranges are acceptable, and reading a range from the node's
//! [`BlockSource`] into one response under the byte cap. Pure apart from the source itself.

use crate::config::BlockSource;
use crate::topic::Chain;
use crate::wire::{self, Refusal, Response};

/// Blocks in `from..=to`, or why the range is refused (empty, or more than `max` blocks).
pub(crate) fn check_range(from: u64, to: u64, max: u64) -> Result<u64, Refusal> {
    if from > to {
        return Err(Refusal::InvalidRange);
    }
    let count = (to - from).saturating_add(1);
    if count > max {
        return Err(Refusal::RangeTooLarge { max });
    }
    Ok(count)
}

/// The longest prefix of `from..=to` the source has whose response fits `max_response_bytes`.
pub(crate) fn read_blocks(
    source: &dyn BlockSource,
    chain: Chain,
    from: u64,
    to: u64,
    max_response_bytes: usize,
) -> Response {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut size = wire::blocks_response_len([]);
    for height in from..=to {
        let Some(block) = source.block(chain, height) else {
            break;
        };
        let grown = size + wire::blocks_response_len([block.len()]) - wire::blocks_response_len([]);
        if grown > max_response_bytes {
            break;
        }
        size = grown;
        blocks.push(block);
    }
    Response::Blocks(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks 0..10 of the beacon chain, block `h` being `h + 1` bytes of `h`.
    struct Ten;

    impl BlockSource for Ten {
        fn block(&self, chain: Chain, height: u64) -> Option<Vec<u8>> {
            (chain == Chain::Beacon && height < 10).then(|| vec![height as u8; height as usize + 1])
        }
    }

    fn heights(response: Response) -> Vec<u8> {
        match response {
            Response::Blocks(blocks) => blocks.iter().map(|b| b[0]).collect(),
            other => panic!("expected blocks, got {other:?}"),
        }
    }

    #[test]
    fn ranges_are_inclusive_and_bounded() {
        assert_eq!(check_range(5, 5, 128), Ok(1));
        assert_eq!(check_range(0, 127, 128), Ok(128));
        assert_eq!(
            check_range(0, 128, 128),
            Err(Refusal::RangeTooLarge { max: 128 })
        );
        assert_eq!(
            check_range(0, u64::MAX, 128),
            Err(Refusal::RangeTooLarge { max: 128 })
        );
        assert_eq!(check_range(6, 5, 128), Err(Refusal::InvalidRange));
    }

    #[test]
    fn serves_the_prefix_it_has() {
        assert_eq!(
            heights(read_blocks(&Ten, Chain::Beacon, 7, 20, 1 << 20)),
            vec![7, 8, 9]
        );
        assert!(heights(read_blocks(&Ten, Chain::Shard(0), 0, 5, 1 << 20)).is_empty());
        assert!(heights(read_blocks(&Ten, Chain::Beacon, 10, 12, 1 << 20)).is_empty());
    }

    #[test]
    fn stops_before_the_byte_cap() {
        // Blocks 0..=3 are 1+2+3+4 bytes, plus 4 bytes of length each, plus 6 of header.
        let exact = 6 + 10 + 16;
        let response = read_blocks(&Ten, Chain::Beacon, 0, 9, exact);
        assert_eq!(wire::encode_response(&response).len(), exact);
        assert_eq!(heights(response), vec![0, 1, 2, 3]);
        assert_eq!(
            heights(read_blocks(&Ten, Chain::Beacon, 0, 9, exact - 1)),
            vec![0, 1, 2]
        );
    }
}
