//! The engine's records (own votes, seen certificates) in the shard store's `consensus`
//! column, written before the effect after them runs, so a restarted validator never votes
//! twice in a view.

use anyhow::Context;
use kaimeng_consensus::{Record, View, codec};
use kaimeng_l1::{Store, StoreError};
use kaimeng_shards::schema::CONSENSUS;

pub struct Records {
    store: Store,
    next_sequence: u64,
}

fn key(view: View, sequence: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&view.to_be_bytes());
    key[8..].copy_from_slice(&sequence.to_be_bytes());
    key
}

impl Records {
    /// Opens the records and decodes every stored one, in the order they were written per view.
    pub fn load(store: Store) -> anyhow::Result<(Records, Vec<Record>)> {
        let mut records = Vec::new();
        let mut next_sequence = 0;
        for (key, value) in store.scan_prefix(CONSENSUS, &[])? {
            if let Some(sequence) = key.get(8..16) {
                let sequence = u64::from_be_bytes(sequence.try_into().expect("eight bytes"));
                next_sequence = next_sequence.max(sequence + 1);
            }
            // A record we cannot read is one we cannot honour: refuse to start blind.
            let record = codec::decode_record(&value)
                .map_err(|e| anyhow::anyhow!("{e:?}"))
                .with_context(|| format!("corrupt consensus record {}", hex::encode(&key)))?;
            records.push(record);
        }
        Ok((
            Records {
                store,
                next_sequence,
            },
            records,
        ))
    }

    /// Writes `record` durably (against process death) before returning.
    pub fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        let mut batch = self.store.batch();
        batch.put(
            CONSENSUS,
            key(record.view(), self.next_sequence),
            codec::encode_record(record),
        )?;
        self.store.write(batch)?;
        self.next_sequence += 1;
        Ok(())
    }

    /// Deletes the records of views below `view`.
    pub fn prune(&mut self, view: View) -> Result<(), StoreError> {
        let mut batch = self.store.batch();
        for (key, _) in self.store.scan_prefix(CONSENSUS, &[])? {
            if key
                .get(..8)
                .is_some_and(|v| u64::from_be_bytes(v.try_into().expect("eight bytes")) < view)
            {
                batch.delete(CONSENSUS, key)?;
            } else {
                break;
            }
        }
        if !batch.is_empty() {
            self.store.write(batch)?;
        }
        Ok(())
    }
}
