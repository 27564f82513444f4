//! The large shard state both state-snapshot benchmarks start from: `count` accounts (one in
//! 50 with two storage slots) written into `store` as block 1's state. Shared by
//! `benches/benches/snapshot.rs` and `benches/node/state_sync.rs` through `#[path]`.

use alloy_primitives::{Address, B256, U256};
use kaimeng_l1::Store;
use kaimeng_shards::commit::prepare_commit;
use kaimeng_shards::overlay::{AccountChange, AccountInfo, PendingState};
use kaimeng_shards::state::StateAt;

/// Writes the state and returns its root.
pub fn write(store: &Store, count: u64) -> B256 {
    let mut pending = PendingState::default();
    for i in 0..count {
        let mut address = [0u8; 20];
        address[12..].copy_from_slice(&(i + 1).to_be_bytes());
        let mut storage = std::collections::HashMap::new();
        if i % 50 == 0 {
            storage.insert(U256::from(1), U256::from(i + 7));
            storage.insert(U256::from(2), U256::from(i + 9));
        }
        pending.accounts.insert(
            Address::from(address),
            AccountChange {
                info: Some(AccountInfo {
                    balance: U256::from(1_000_000 + i),
                    nonce: i % 7,
                    ..Default::default()
                }),
                storage,
                storage_wiped: false,
            },
        );
    }
    let commit = prepare_commit(&StateAt::latest(store.clone()), &pending, 1).unwrap();
    let mut batch = store.batch();
    commit.apply_to(&mut batch).unwrap();
    store.write(batch).unwrap();
    commit.state_root
}
