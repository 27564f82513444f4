//! The bridge's native calls (`kaimeng_rollup::bridge_calls`): the priority fold keeps the
//! queue hash the state-transition function reaches, an account claim holds exactly for a
//! real leaf, and every malformed input is refused with its reason.

use kaimeng_rollup::bridge_calls::{
    ACCOUNT_INPUT_LEN, AccountClaim, CallError, FOLD_INPUT_LEN, WORD, check_account,
    encode_priority, fold_priority, fp_from_word, word_of_fp,
};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::{DepositOp, ForcedExitOp, L2Op, PriorityOp};
use kaimeng_rollup::{Fp, L1Address, SigningKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn key(seed: u64) -> SigningKey {
    SigningKey::random(&mut ChaCha20Rng::seed_from_u64(seed))
}

fn deposit(to: u32, seed: u8, amount: u64) -> PriorityOp {
    PriorityOp::Deposit(DepositOp {
        to,
        l1_address: L1Address([seed; 20]),
        public_key: key(u64::from(seed)).public_key(),
        amount,
    })
}

fn exit(account: u32, seed: u8) -> PriorityOp {
    PriorityOp::ForcedExit(ForcedExitOp {
        account,
        l1_address: L1Address([seed; 20]),
    })
}

#[test]
fn folding_requests_one_by_one_reaches_the_queue_hash_the_chunk_proves() {
    let ops = [
        deposit(0, 9, 0),
        deposit(1, 1, 1_000),
        deposit(2, 2, 77),
        exit(1, 1),
    ];
    let mut state = L2State::new();
    let outcome = state
        .apply_chunk(
            ChunkConfig {
                chain_id: 7,
                fee_account: 0,
                slots: ops.len(),
            },
            &ops.map(L2Op::Priority),
        )
        .unwrap();
    let mut queue = state_queue_start();
    for op in &ops {
        let out = fold_priority(&encode_priority(queue, op)).unwrap();
        queue = fp_from_word(out[..WORD].try_into().unwrap(), "queue").unwrap();
        let commitment = fp_from_word(out[WORD..].try_into().unwrap(), "kc").unwrap();
        let expected = match op {
            PriorityOp::Deposit(d) => kaimeng_rollup::account::key_commitment(&d.public_key),
            PriorityOp::ForcedExit(_) => Fp::from(0u64),
        };
        assert_eq!(commitment, expected);
    }
    assert_eq!(queue, outcome.queue_after);
    assert_eq!(queue, state.queue_hash());
}

fn state_queue_start() -> Fp {
    L2State::new().queue_hash()
}

#[test]
fn an_account_claim_holds_for_the_real_leaf_only() {
    let mut state = L2State::new();
    state
        .apply_chunk(
            ChunkConfig {
                chain_id: 7,
                fee_account: 0,
                slots: 2,
            },
            &[
                L2Op::Priority(deposit(0, 9, 0)),
                L2Op::Priority(deposit(5, 5, 4_321)),
            ],
        )
        .unwrap();
    let account = state.account(5);
    let claim = AccountClaim {
        root: state.root(),
        index: 5,
        key_commitment: account.key_commitment(),
        l1_address: account.l1_address,
        balance: account.balance,
        nonce: account.nonce,
        siblings: state.proof(5).siblings,
    };
    let input = claim.encode();
    assert_eq!(input.len(), ACCOUNT_INPUT_LEN);
    assert_eq!(AccountClaim::decode(&input), Ok(claim));
    assert_eq!(check_account(&input), Ok(true));
    // Any change to what is claimed breaks it: more balance, another owner, another index,
    // another root.
    for wrong in [
        AccountClaim {
            balance: 4_322,
            ..claim
        },
        AccountClaim {
            l1_address: L1Address([6; 20]),
            ..claim
        },
        AccountClaim { index: 4, ..claim },
        AccountClaim {
            root: claim.root + Fp::from(1u64),
            ..claim
        },
    ] {
        assert_eq!(check_account(&wrong.encode()), Ok(false), "{wrong:?}");
    }
}

#[test]
fn malformed_inputs_are_refused_with_their_reason() {
    let good = encode_priority(Fp::from(3u64), &deposit(1, 1, 10));
    assert_eq!(good.len(), FOLD_INPUT_LEN);
    // Every cut, and one byte too many.
    for len in 0..good.len() {
        assert_eq!(
            fold_priority(&good[..len]),
            Err(CallError::Length {
                expected: FOLD_INPUT_LEN,
                found: len
            })
        );
    }
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        fold_priority(&long),
        Err(CallError::Length { .. })
    ));
    let with = |word: usize, value: [u8; 32]| {
        let mut input = good.clone();
        input[word * WORD..(word + 1) * WORD].copy_from_slice(&value);
        fold_priority(&input)
    };
    let mut big = [0u8; 32];
    big[0] = 1;
    assert_eq!(with(0, word_of_u64(9)), Err(CallError::Kind(9)));
    assert_eq!(
        with(1, [0xff; 32]),
        Err(CallError::NotCanonical("queue hash"))
    );
    assert_eq!(
        with(2, word_of_u64(1 << 32)),
        Err(CallError::TooWide {
            what: "account",
            bits: 32
        })
    );
    assert_eq!(
        with(3, word_of_u64(1 << 40)),
        Err(CallError::TooWide {
            what: "amount",
            bits: 40
        })
    );
    assert_eq!(
        with(4, big),
        Err(CallError::TooWide {
            what: "l1 address",
            bits: 160
        })
    );
    assert_eq!(with(5, [0xff; 32]), Err(CallError::BadKey));
    // A forced exit carries neither an amount nor a key.
    let exit_input = encode_priority(Fp::from(3u64), &exit(1, 1));
    let mut with_amount = exit_input.clone();
    with_amount[3 * WORD..4 * WORD].copy_from_slice(&word_of_u64(5));
    assert_eq!(
        fold_priority(&with_amount),
        Err(CallError::ExitCarries("amount"))
    );
    let mut with_key = exit_input;
    with_key[5 * WORD..].copy_from_slice(&key(1).public_key().to_bytes());
    assert_eq!(
        fold_priority(&with_key),
        Err(CallError::ExitCarries("L2 key"))
    );

    // An account claim: wrong length, a non-canonical sibling, a balance over 64 bits.
    let claim = AccountClaim {
        root: Fp::from(1u64),
        index: 0,
        key_commitment: Fp::from(0u64),
        l1_address: L1Address([1; 20]),
        balance: 1,
        nonce: 0,
        siblings: [Fp::from(0u64); 32],
    }
    .encode();
    assert!(matches!(
        check_account(&claim[1..]),
        Err(CallError::Length { .. })
    ));
    let mut bad_sibling = claim.clone();
    bad_sibling[ACCOUNT_INPUT_LEN - WORD..].copy_from_slice(&[0xff; 32]);
    assert_eq!(
        check_account(&bad_sibling),
        Err(CallError::NotCanonical("sibling"))
    );
    let mut wide_balance = claim;
    wide_balance[4 * WORD + 23] = 1;
    assert_eq!(
        check_account(&wide_balance),
        Err(CallError::TooWide {
            what: "balance",
            bits: 64
        })
    );
    assert_eq!(word_of_fp(Fp::from(258u64))[30..], [1, 2]);
}

fn word_of_u64(value: u64) -> [u8; 32] {
    kaimeng_rollup::bridge_calls::word_of_uint(value)
}

/// The bridge contract starts from the empty tree's root as a constant; it must be this one.
#[test]
fn the_bridge_contract_starts_from_the_empty_tree_root() {
    let root: String = word_of_fp(L2State::new().root())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/rollup/Bridge.sol"),
    )
    .unwrap();
    assert!(
        source.contains(&format!("EMPTY_ROOT = 0x{root};")),
        "Bridge.sol must declare EMPTY_ROOT = 0x{root}"
    );
}
