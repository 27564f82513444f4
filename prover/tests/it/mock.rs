//! MockProver: valid chunks are accepted and agree with the native model.

use halo2_proofs::dev::MockProver;

use crate::support::*;

#[test]
fn one_transfer_chunk_is_accepted() {
    let mut state = funded_state(2);
    let op = transfer(&state, 1, 2, 500, 3);
    let out = apply(&mut state, 1, &[op]);
    let (_, values, public) = evaluated(&out);
    assert_eq!(public.new_root, out.new_root);
    assert_eq!(public.data_commitment, out.data_commitment);
    let prover = MockProver::run(12, &circuit(1, values), vec![public.to_vec()]).unwrap();
    prover.assert_satisfied();
}
