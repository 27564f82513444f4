//! Range checks on cells, with the 10-bit lookup table: `bits / 10` table words by running
//! sum, then the remaining `bits % 10` bits by a short lookup. Each check gets its own named
//! regions, so a failure says which value was out of range.

use halo2_gadgets::utilities::lookup_range_check::{
    LookupRangeCheck, PallasLookupRangeCheckConfig,
};
use halo2_proofs::circuit::{AssignedCell, Layouter};
use halo2_proofs::plonk::{Advice, Column, Error};
use kaimeng_rollup::Fp;

/// Constrains `cell < 2^bits` (`bits` below 250); `column` is the lookup's running-sum column.
pub fn check_bits(
    range: &PallasLookupRangeCheckConfig,
    column: Column<Advice>,
    layouter: &mut impl Layouter<Fp>,
    cell: &AssignedCell<Fp, Fp>,
    bits: usize,
    what: &str,
) -> Result<(), Error> {
    let words = bits / 10;
    let rest = bits % 10;
    let top = layouter.assign_region(
        || format!("range: {what} < 2^{bits}"),
        |mut region| {
            let z0 = cell.copy_advice(|| "z_0", &mut region, column, 0)?;
            let zs = range.range_check(&mut region, z0, words, rest == 0)?;
            Ok(zs[words].clone())
        },
    )?;
    if rest > 0 {
        layouter.assign_region(
            || format!("range: {what}, top {rest} bits"),
            |mut region| {
                let z = top.copy_advice(|| "top", &mut region, column, 0)?;
                range.short_range_check(&mut region, z, rest)
            },
        )?;
    }
    Ok(())
}
