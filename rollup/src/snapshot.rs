//! Snapshots of the L2 state in the sequencer's journal: the records a compaction starts the
//! journal with, and the state restored from them on open (ADR 0110).

use crate::Fp;
use crate::account::Account;
use crate::journal::Record;
use crate::stf::L2State;

/// Accounts per [`Record::Accounts`] (about 4.5 MB, well under the journal's record limit).
const ACCOUNTS_PER_RECORD: usize = 65_536;

/// Where a snapshot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHead {
    /// Batches it covers (all executed on shard 0).
    pub batches: u64,
    /// Sequence number of the first operation after them.
    pub first_seq: u64,
    /// The first priority request not yet consumed.
    pub next_request: u64,
    /// The priority-queue hash after the last batch.
    pub queue_hash: Fp,
    /// The state root after the last batch.
    pub root: Fp,
}

/// The records of a snapshot: its head, then its accounts in groups.
pub fn snapshot_records(head: SnapshotHead, mut accounts: Vec<(u32, Account)>) -> Vec<Record> {
    accounts.sort_unstable_by_key(|(index, _)| *index);
    let mut records = vec![Record::Snapshot {
        batches: head.batches,
        first_seq: head.first_seq,
        next_request: head.next_request,
        queue_hash: head.queue_hash,
        root: head.root,
        accounts: accounts.len() as u64,
    }];
    records.extend(
        accounts
            .chunks(ACCOUNTS_PER_RECORD)
            .map(|group| Record::Accounts(group.to_vec())),
    );
    records
}

/// If `records` start with a snapshot: its head, the state it holds (its root checked against
/// the head's), and how many records it spans. An error says what does not fit.
pub fn restore(records: &[Record]) -> Result<Option<(SnapshotHead, L2State, usize)>, String> {
    let Some(Record::Snapshot {
        batches,
        first_seq,
        next_request,
        queue_hash,
        root,
        accounts: count,
    }) = records.first()
    else {
        return Ok(None);
    };
    let head = SnapshotHead {
        batches: *batches,
        first_seq: *first_seq,
        next_request: *next_request,
        queue_hash: *queue_hash,
        root: *root,
    };
    let mut accounts = Vec::new();
    let mut spans = 1;
    while (accounts.len() as u64) < *count {
        match records.get(spans) {
            Some(Record::Accounts(group)) => accounts.extend_from_slice(group),
            _ => {
                return Err(format!(
                    "the snapshot of batch {batches} holds {count} accounts, but only {} follow it",
                    accounts.len()
                ));
            }
        }
        spans += 1;
    }
    if accounts.len() as u64 != *count {
        return Err(format!(
            "the snapshot of batch {batches} holds {count} accounts, but {} follow it",
            accounts.len()
        ));
    }
    let held = accounts.len();
    accounts.sort_unstable_by_key(|(index, _)| *index);
    accounts.dedup_by_key(|(index, _)| *index);
    if accounts.len() != held {
        return Err(format!(
            "the snapshot of batch {batches} holds an account twice"
        ));
    }
    let state = L2State::from_accounts(accounts, *queue_hash);
    if state.root() != *root {
        return Err(format!(
            "the snapshot of batch {batches} does not give its recorded state root"
        ));
    }
    Ok(Some((head, state, spans)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::L1Address;
    use crate::schnorr::SigningKey;

    fn state(n: u32) -> L2State {
        let mut state = L2State::new();
        for index in 0..n {
            let key = SigningKey::from_uniform_bytes(&[index as u8 + 1; 64]);
            state.set_account(
                index * 3,
                Account {
                    public_key: (index % 4 != 0).then(|| key.public_key()),
                    l1_address: L1Address([index as u8; 20]),
                    balance: 1_000 + u64::from(index),
                    nonce: index,
                },
            );
        }
        state.set_queue_hash(Fp::from(99));
        state
    }

    fn head(state: &L2State) -> SnapshotHead {
        SnapshotHead {
            batches: 7,
            first_seq: 120,
            next_request: 4,
            queue_hash: state.queue_hash(),
            root: state.root(),
        }
    }

    #[test]
    fn a_snapshot_restores_the_same_state() {
        let original = state(20);
        let accounts = original.accounts().map(|(i, a)| (i, *a)).collect();
        let mut records = snapshot_records(head(&original), accounts);
        records.push(Record::Closed { batch: 8, ops: 0 });
        let (restored_head, restored, spans) = restore(&records).unwrap().unwrap();
        assert_eq!(restored_head, head(&original));
        assert_eq!(spans, records.len() - 1);
        assert_eq!(restored.root(), original.root());
        assert_eq!(restored.queue_hash(), original.queue_hash());
        for index in 0..70 {
            assert_eq!(restored.account(index), original.account(index));
            assert_eq!(restored.proof(index), original.proof(index));
        }
        assert!(restore(&records[spans..]).unwrap().is_none());
    }

    #[test]
    fn a_snapshot_that_does_not_fit_says_why() {
        let original = state(5);
        let accounts: Vec<_> = original.accounts().map(|(i, a)| (i, *a)).collect();
        let records = snapshot_records(head(&original), accounts.clone());
        let err = restore(&records[..1]).unwrap_err();
        assert!(err.contains("holds 5 accounts, but only 0 follow"), "{err}");

        let mut changed = accounts.clone();
        changed[2].1.balance += 1;
        let mut records = snapshot_records(head(&original), accounts.clone());
        records[1] = Record::Accounts(changed);
        let err = restore(&records).unwrap_err();
        assert!(
            err.contains("does not give its recorded state root"),
            "{err}"
        );

        let mut twice = accounts.clone();
        twice[1] = twice[0];
        records[1] = Record::Accounts(twice);
        let err = restore(&records).unwrap_err();
        assert!(err.contains("holds an account twice"), "{err}");
    }
}
