//! The pool lock is never held across a state read: a paused read (a hook that blocks on a
//! channel) stalls neither other submissions nor finalization, and a nonce made final while a
//! read was paused is still refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};

use super::{ShardChain, SubmitError};
use crate::pool::PoolError;

/// Long enough for any healthy step; reaching it means the step was blocked.
const STALLED: Duration = Duration::from_secs(20);

struct Fixture {
    chain: Arc<ShardChain>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let genesis = GenesisSpec::dev(&DevOptions {
        validators: 1,
        ..DevOptions::default()
    });
    let store = crate::open_store(dir.path(), &Default::default()).unwrap();
    let chain = Arc::new(ShardChain::open(store, &genesis, 0).unwrap());
    Fixture { chain, _dir: dir }
}

fn key(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev_accounts(10)[i].private_key).unwrap()
}

fn transfer(chain: &ShardChain, from: usize, nonce: u64, tip: u128) -> Bytes {
    let tx = TxEip1559 {
        chain_id: chain.config().chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1u64),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = key(from).sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

fn seal(chain: &ShardChain) -> Arc<crate::StoredBlock> {
    let proposed = chain
        .propose(chain.head().header.timestamp + 1, key(9).address(), 100)
        .unwrap();
    chain.finalize(proposed).unwrap()
}

/// Pauses the first state read of `who` after it is armed: `entered` fires when the read is
/// paused, and the read goes on when `release` is sent.
struct PausedRead {
    entered: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

fn pause_next_read_of(chain: &ShardChain, who: Address) -> PausedRead {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = parking_lot::Mutex::new(release_rx);
    let armed = AtomicBool::new(true);
    *chain.state_read_hook.lock() = Some(Arc::new(move |sender: &Address| {
        if *sender == who && armed.swap(false, Ordering::SeqCst) {
            entered_tx.send(()).unwrap();
            release_rx.lock().recv().unwrap();
        }
    }));
    PausedRead { entered, release }
}

/// Runs `f` on a thread; its result, or a panic naming `what` if it does not finish in time.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(STALLED)
        .unwrap_or_else(|_| panic!("{what} was blocked by a paused state read"))
}

#[test]
fn a_submission_goes_on_while_another_senders_state_read_is_paused() {
    let f = fixture();
    let paused = pause_next_read_of(&f.chain, key(1).address());
    let slow = {
        let chain = f.chain.clone();
        let raw = transfer(&chain, 1, 0, 1_000_000_000);
        std::thread::spawn(move || chain.submit_raw(&raw))
    };
    paused.entered.recv_timeout(STALLED).unwrap();

    let chain = f.chain.clone();
    let raw = transfer(&chain, 2, 0, 1_000_000_000);
    let other = within("another sender's submission", move || {
        chain.submit_raw(&raw)
    });
    assert!(other.is_ok(), "{other:?}");
    let chain = f.chain.clone();
    let nonce = within("a pending-nonce read", move || {
        chain.pending_nonce(&key(2).address())
    });
    assert_eq!(nonce.unwrap(), 1);

    paused.release.send(()).unwrap();
    assert!(slow.join().unwrap().is_ok());
    assert_eq!(f.chain.pool().len(), 2);
}

#[test]
fn a_submission_goes_on_while_finalization_reads_the_new_nonces() {
    let f = fixture();
    f.chain
        .submit_raw(&transfer(&f.chain, 1, 0, 1_000_000_000))
        .unwrap();
    let paused = pause_next_read_of(&f.chain, key(1).address());
    let sealing = {
        let chain = f.chain.clone();
        std::thread::spawn(move || seal(&chain))
    };
    paused.entered.recv_timeout(STALLED).unwrap();

    let chain = f.chain.clone();
    let raw = transfer(&chain, 2, 0, 1_000_000_000);
    let other = within("a submission during finalization", move || {
        chain.submit_raw(&raw)
    });
    assert!(other.is_ok(), "{other:?}");

    paused.release.send(()).unwrap();
    let block = sealing.join().unwrap();
    assert_eq!(block.txs.len(), 1);
    assert_eq!(
        f.chain.pool().len(),
        1,
        "sender 1's tx pruned, sender 2's kept"
    );
}

#[test]
fn a_nonce_made_final_while_its_senders_read_was_paused_is_refused() {
    let f = fixture();
    f.chain
        .submit_raw(&transfer(&f.chain, 1, 0, 1_000_000_000))
        .unwrap();
    let paused = pause_next_read_of(&f.chain, key(1).address());
    // A replacement for nonce 0 reads nonce 0 and pauses before it reaches the pool...
    let replacement = transfer(&f.chain, 1, 0, 5_000_000_000);
    let racing = {
        let chain = f.chain.clone();
        let raw = replacement.clone();
        std::thread::spawn(move || chain.submit_raw(&raw))
    };
    paused.entered.recv_timeout(STALLED).unwrap();
    // ...while the original nonce 0 becomes final and the pool is pruned for it.
    let chain = f.chain.clone();
    let block = within("finalization", move || seal(&chain));
    assert_eq!(block.txs.len(), 1);
    assert_eq!(f.chain.pool().len(), 0);

    paused.release.send(()).unwrap();
    let result = racing.join().unwrap();
    assert!(
        matches!(
            result,
            Err(SubmitError::Pool(PoolError::NonceTooLow {
                next: 1,
                got: 0
            }))
        ),
        "{result:?}"
    );
    assert_eq!(f.chain.pool().len(), 0, "no stale nonce admitted");
    assert_eq!(f.chain.pending_nonce(&key(1).address()).unwrap(), 1);
}
