//! The SM3 and SM2-verify precompiles against the GM/T vectors, gas
//! accounting, and malformed inputs.

use crate::{unhex, unhex_array};
use kaimeng_crypto::precompile::{self, PrecompileFailure, sm2_verify, sm3_hash};
use kaimeng_crypto::sm2_digest::default_message_digest;
use kaimeng_crypto::{CryptoSuite, SecretKey};

const ABC_DIGEST: &str = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
const ABCD16_DIGEST: &str = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732";

// GM/T 0003.5 example: e, r, s, x_A, y_A.
const STANDARD_INPUT: &str = "\
    F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640\
    F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3\
    B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA\
    09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020\
    CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";

fn one() -> Vec<u8> {
    let mut word = vec![0u8; 32];
    word[31] = 1;
    word
}

#[test]
fn sm3_precompile_hashes_the_standard_vectors() {
    let result = sm3_hash::run(b"abc", 100_000).unwrap();
    assert_eq!(result.output, unhex(ABC_DIGEST));
    assert_eq!(result.gas_used, 60 + 12);

    let result = sm3_hash::run(&b"abcd".repeat(16), 100_000).unwrap();
    assert_eq!(result.output, unhex(ABCD16_DIGEST));
    assert_eq!(result.gas_used, 60 + 2 * 12);
}

#[test]
fn sm3_precompile_gas_is_base_plus_words() {
    for (len, words) in [
        (0usize, 0u64),
        (1, 1),
        (32, 1),
        (33, 2),
        (64, 2),
        (1024, 32),
    ] {
        let expected = sm3_hash::BASE_GAS + words * sm3_hash::WORD_GAS;
        assert_eq!(sm3_hash::gas_cost(len), expected, "len {len}");
        assert_eq!(
            sm3_hash::run(&vec![7; len], expected).unwrap().gas_used,
            expected
        );
        assert_eq!(
            sm3_hash::run(&vec![7; len], expected - 1),
            Err(PrecompileFailure::OutOfGas {
                needed: expected,
                limit: expected - 1
            })
        );
    }
    // The empty input still hashes (SM3 of nothing) and pays the base.
    let empty = sm3_hash::run(&[], 60).unwrap();
    assert_eq!(empty.output, CryptoSuite::Sm2Sm3.hash(&[]).to_vec());
}

#[test]
fn sm2_precompile_accepts_the_standard_signature() {
    let result = sm2_verify::run(&unhex(STANDARD_INPUT), sm2_verify::GAS).unwrap();
    assert_eq!(result.output, one());
    assert_eq!(result.gas_used, sm2_verify::GAS);
}

#[test]
fn sm2_precompile_accepts_suite_signatures_over_their_digest() {
    for seed in 0..4u8 {
        let key = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[seed; 32]);
        let xy: [u8; 64] = key.public_key().to_uncompressed()[1..].try_into().unwrap();
        let message = format!("transfer #{seed}");
        let mut input = default_message_digest(&xy, message.as_bytes()).to_vec();
        input.extend_from_slice(&key.sign(message.as_bytes()).to_bytes());
        input.extend_from_slice(&xy);
        assert_eq!(
            sm2_verify::run(&input, sm2_verify::GAS).unwrap().output,
            one()
        );
    }
}

#[test]
fn sm2_precompile_rejects_with_empty_output_and_full_gas() {
    let good: [u8; 160] = unhex_array(STANDARD_INPUT);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("159 bytes", good[..159].to_vec()),
        ("161 bytes", [&good[..], &[0]].concat()),
        ("320 bytes", [good, good].concat()),
    ];
    let mut flip = |name: &'static str, index: usize| {
        let mut bad = good;
        bad[index] ^= 0x01;
        cases.push((name, bad.to_vec()));
    };
    flip("other digest", 0);
    flip("other r", 63);
    flip("other s", 95);
    flip("point off the curve", 159);
    let mut zero_r = good;
    zero_r[32..64].fill(0);
    cases.push(("r = 0", zero_r.to_vec()));
    let mut big_s = good;
    big_s[64..96].fill(0xff);
    cases.push(("s >= n", big_s.to_vec()));
    let mut zero_point = good;
    zero_point[96..].fill(0);
    cases.push(("point (0, 0)", zero_point.to_vec()));

    for (name, input) in cases {
        let result = sm2_verify::run(&input, sm2_verify::GAS).unwrap();
        assert!(result.output.is_empty(), "{name} must not verify");
        assert_eq!(result.gas_used, sm2_verify::GAS, "{name} still pays");
    }
}

#[test]
fn sm2_precompile_halts_out_of_gas_before_any_work() {
    assert_eq!(
        sm2_verify::run(&unhex(STANDARD_INPUT), sm2_verify::GAS - 1),
        Err(PrecompileFailure::OutOfGas {
            needed: sm2_verify::GAS,
            limit: sm2_verify::GAS - 1
        })
    );
    assert!(matches!(
        sm2_verify::run(&[], 0),
        Err(PrecompileFailure::OutOfGas { .. })
    ));
}

#[test]
fn registry_lists_both_with_their_addresses() {
    let names: Vec<_> = precompile::ALL
        .iter()
        .map(|p| (p.name, p.address))
        .collect();
    assert_eq!(
        names,
        vec![
            (
                "SM3",
                unhex_array::<20>("0000000000000000000000000000000000000a01")
            ),
            (
                "SM2VERIFY",
                unhex_array::<20>("0000000000000000000000000000000000000a02")
            ),
        ]
    );
    let run = precompile::ALL[0].run;
    assert_eq!(run(b"abc", 1_000).unwrap().output, unhex(ABC_DIGEST));
}

/// The three precompile calls a contract makes (docs/crypto.md): Z_A from its
/// 210-byte preimage, e from Z_A || M, then SM2VERIFY — on the GM/T example.
#[test]
fn contract_flow_from_message_to_verification_uses_only_precompiles() {
    use kaimeng_crypto::sm2_digest::{CURVE_A, CURVE_B, GENERATOR_X, GENERATOR_Y};
    let standard: [u8; 160] = unhex_array(STANDARD_INPUT);
    let (signature, xy) = (&standard[32..96], &standard[96..]);

    // abi.encodePacked(uint16(128), "1234567812345678", A, B, GX, GY, x, y)
    let preimage = [
        &128u16.to_be_bytes()[..],
        b"1234567812345678",
        &CURVE_A,
        &CURVE_B,
        &GENERATOR_X,
        &GENERATOR_Y,
        xy,
    ]
    .concat();
    assert_eq!(preimage.len(), 210);
    let za = sm3_hash::run(&preimage, 1_000).unwrap().output;
    let e = sm3_hash::run(&[&za[..], b"message digest"].concat(), 1_000)
        .unwrap()
        .output;
    assert_eq!(e, standard[..32].to_vec(), "e of the GM/T example");

    let input = [&e[..], signature, xy].concat();
    assert_eq!(
        sm2_verify::run(&input, sm2_verify::GAS).unwrap().output,
        one()
    );
}
