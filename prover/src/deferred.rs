//! Deferred inner-product checks (ADR 0114): verifying proofs with each proof's IPA claim taken
//! as given, and a decider that checks many claims with one multi-scalar multiplication.
//!
//! The last step of halo2's inner-product argument needs `G = ⟨s(u), G⟩`, an MSM over all 2^k
//! generators, where `u` are the proof's IPA challenges. A [`Claim`] is the pair `(G, u)`: the
//! prover computes `G` ([`claim_of`]), [`verify_with_claims`] checks everything else about the
//! proofs, and [`decide`] later checks any number of claims at once,
//! `Σ ρ_j G_j = ⟨Σ ρ_j s(u_j), G⟩` for weights `ρ_j` drawn from the claims, in one step or
//! split over ranges of generators ([`decide_step`]) so that each step fits a transaction.

use ff::{Field, FromUniformBytes, PrimeField};
use group::{Group, GroupEncoding};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use halo2_proofs::plonk::{Error, VerificationStrategy, VerifyingKey, verify_proof};
use halo2_proofs::poly::commitment::{Guard, MSM};
use halo2_proofs::transcript::EncodedChallenge;
use kaimeng_rollup::Fp;
use kaimeng_rollup::field_lanes::expansion_sum;
use pasta_curves::vesta;

use crate::error::ProverError;
use crate::params::ChunkParams;
use crate::proof::ChunkProof;

/// A proof's IPA claim: `g` is claimed to be `⟨s(u), G⟩`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The claimed point.
    pub g: vesta::Affine,
    /// The IPA challenges `u_0 … u_{k−1}`, in the order the transcript drew them.
    pub u: Vec<Fp>,
}

impl Claim {
    /// `g` compressed (32 bytes), then each challenge as 32 little-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.g.to_bytes().as_ref().to_vec();
        for u in &self.u {
            out.extend_from_slice(u.to_repr().as_ref());
        }
        out
    }

    /// Parses [`Claim::to_bytes`] for `2^k`-row proofs.
    pub fn from_bytes(k: u32, bytes: &[u8]) -> Result<Self, ProverError> {
        Self::parse(k, bytes, true)
    }

    /// [`Claim::from_bytes`] without the point: `g` is left as the identity. For the steps of a
    /// decision after its first, which never weigh the points: decompressing one is a square
    /// root, and every step reads every claim.
    pub fn challenges_from_bytes(k: u32, bytes: &[u8]) -> Result<Self, ProverError> {
        Self::parse(k, bytes, false)
    }

    fn parse(k: u32, bytes: &[u8], with_point: bool) -> Result<Self, ProverError> {
        let bad = |reason: String| ProverError::Decode {
            what: "IPA claim",
            reason,
        };
        let expected = 32 * (1 + k as usize);
        if bytes.len() != expected {
            return Err(bad(format!("{} bytes, expected {expected}", bytes.len())));
        }
        let word = |i: usize| -> [u8; 32] { bytes[32 * i..32 * (i + 1)].try_into().expect("32") };
        let g = if with_point {
            Option::from(vesta::Affine::from_bytes(&word(0)))
                .ok_or_else(|| bad("the point is not on the curve".into()))?
        } else {
            vesta::Affine::from(vesta::Point::identity())
        };
        let u = (1..=k as usize)
            .map(|i| {
                Option::from(Fp::from_repr(word(i)))
                    .ok_or_else(|| bad(format!("challenge {} is not a canonical scalar", i - 1)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { g, u })
    }
}

/// One-row parameters: the MSM a proof is checked with when its claim is given.
///
/// With the claim given, the only generator that MSM weighs is `G_0` (the opening's constant
/// term); the rest are `W`, `U` and the proof's own points. Built on the full parameters, the
/// MSM would carry a vector of 2^k mostly-zero generator scalars: scaled per proof and
/// multiplied out at the end, that vector was over half of a batch's verification time
/// (BENCHMARKS.md). halo2's setup derives every generator from its index alone (`G_i`, `W` and
/// `U` are hashes to the curve of `i`, 1 and 2), so one-row parameters hold the same `G_0`, `W`
/// and `U` as those of every `k`; a test checks it.
pub fn opening_params() -> &'static ChunkParams {
    static PARAMS: OnceLock<ChunkParams> = OnceLock::new();
    PARAMS.get_or_init(|| ChunkParams::new(0))
}

/// Which claim point the strategy uses.
enum ClaimPoint {
    /// Compute `⟨s(u), G⟩` (the prover's side).
    Compute,
    /// Take it from a claim.
    Given(vesta::Affine),
}

/// A strategy that stops before the IPA's generator MSM and keeps the claim.
struct KeepClaim<'p> {
    msm: MSM<'p, vesta::Affine>,
    point: ClaimPoint,
}

impl<'p> VerificationStrategy<'p, vesta::Affine> for KeepClaim<'p> {
    type Output = (MSM<'p, vesta::Affine>, Claim);

    fn process<E: EncodedChallenge<vesta::Affine>>(
        self,
        f: impl FnOnce(MSM<'p, vesta::Affine>) -> Result<Guard<'p, vesta::Affine, E>, Error>,
    ) -> Result<Self::Output, Error> {
        let guard = f(self.msm)?;
        let g = match self.point {
            ClaimPoint::Compute => guard.compute_g(),
            ClaimPoint::Given(g) => g,
        };
        let (msm, accumulator) = guard.use_g(g);
        let u = accumulator
            .u_packed
            .iter()
            .map(|c| c.get_scalar())
            .collect();
        Ok((msm, Claim { g, u }))
    }
}

/// Runs halo2's verifier on `proof` up to its IPA claim. The MSM returned must be zero for the
/// proof to hold, given the claim.
fn succinct<'p>(
    params: &'p ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    proof: &ChunkProof,
    point: ClaimPoint,
) -> Result<(MSM<'p, vesta::Affine>, Claim), ProverError> {
    let msm = match point {
        // Computing the claim needs every generator.
        ClaimPoint::Compute => MSM::new(params),
        ClaimPoint::Given(_) => MSM::new(opening_params()),
    };
    let strategy = KeepClaim { msm, point };
    proof
        .with_transcript(|instances, transcript| {
            verify_proof(params, vk, strategy, instances, transcript)
        })?
        .map_err(|e| ProverError::InvalidProof(format!("{e:?}")))
}

/// The prover's side: the claim of a proof, after checking the proof in full.
pub fn claim_of(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    proof: &ChunkProof,
) -> Result<Claim, ProverError> {
    let (msm, claim) = succinct(params, vk, proof, ClaimPoint::Compute)?;
    if !msm.eval() {
        return Err(ProverError::InvalidProof(
            "the proof does not verify".into(),
        ));
    }
    Ok(claim)
}

/// Checks `proofs` with their `claims` taken as given: everything but `g = ⟨s(u), G⟩`, which
/// is left to [`decide`]. Each claim's challenges must be its proof's. One MSM over the proofs'
/// points, `G_0`, `W` and `U` ([`opening_params`]) covers all the proofs.
pub fn verify_with_claims(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    proofs: &[ChunkProof],
    claims: &[Claim],
) -> Result<(), ProverError> {
    if proofs.len() != claims.len() {
        return Err(ProverError::InvalidProof(format!(
            "{} proofs but {} claims",
            proofs.len(),
            claims.len()
        )));
    }
    let mut rng = rand_core::UnwrapErr(rand::rngs::SysRng);
    let mut total = opening_params().empty_msm();
    for (index, (proof, claim)) in proofs.iter().zip(claims).enumerate() {
        let (mut msm, drawn) = succinct(params, vk, proof, ClaimPoint::Given(claim.g))?;
        if drawn.u != claim.u {
            return Err(ProverError::InvalidProof(format!(
                "claim {index}: its challenges are not its proof's"
            )));
        }
        msm.scale(Fp::random(&mut rng));
        total.add_msm(&msm);
    }
    if total.eval() {
        Ok(())
    } else {
        Err(ProverError::InvalidProof(
            "the proofs do not verify with their claims".into(),
        ))
    }
}

/// The coefficients of `init · Π_i (1 + u_{k−1−i} X^{2^i})`, the IPA's `s(u)` scaled.
fn s_coefficients(u: &[Fp], init: Fp) -> Vec<Fp> {
    let mut s = vec![Fp::ZERO; 1 << u.len()];
    s[0] = init;
    for (i, u_j) in u.iter().rev().enumerate() {
        let (low, high) = s.split_at_mut(1 << i);
        for (h, l) in high[..1 << i].iter_mut().zip(low.iter()) {
            *h = *l * u_j;
        }
    }
    s
}

/// The deterministic weights `ρ_j` of a decision over `claims` (their bytes, concatenated):
/// Blake2b of the whole set, then of that digest and each index. A claim cannot be chosen after
/// its weight, so a false one passes only with negligible probability (ADR 0114), and every
/// step of a split decision, on every node, uses the same weights.
pub fn decision_weights(claims: &[u8], count: usize) -> Vec<Fp> {
    let digest = blake2b_simd::Params::new()
        .personal(b"kaimeng-decide\0\0")
        .hash(claims);
    (0..count as u32)
        .map(|j| {
            let wide = blake2b_simd::Params::new()
                .personal(b"kaimeng-weight\0\0")
                .to_state()
                .update(digest.as_bytes())
                .update(&j.to_le_bytes())
                .finalize();
            Fp::from_uniform_bytes(wide.as_array())
        })
        .collect()
}

/// Most steps a decision at `2^k` rows may be split into: steps cover at least 2^11
/// generators each, which bounds how many transactions anyone can make a decision take.
pub fn max_decision_steps(k: u32) -> usize {
    1 << k.saturating_sub(11)
}

/// The generators of `params`, copied once per `k`: halo2 hands them out only as a copy of all
/// 2^k (4 MB at k = 16), and each step of a decision needs a range of them. halo2 derives every
/// generator from its index alone, so parameters of the same `k` share them.
fn generators(params: &ChunkParams) -> Arc<Vec<vesta::Affine>> {
    static BY_K: OnceLock<Mutex<HashMap<u32, Arc<Vec<vesta::Affine>>>>> = OnceLock::new();
    let mut by_k = BY_K
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    by_k.entry(params.k())
        .or_insert_with(|| Arc::new(params.get_g()))
        .clone()
}

/// Where a split decision stands after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionStep {
    /// More steps follow; pass this sum to the next.
    Partial(vesta::Point),
    /// The last step: whether every claim holds.
    Decided(bool),
}

/// One step of deciding `claims` (weighted by `weights`, [`decision_weights`]) in `steps`
/// equal steps over the generators: step `step` adds `⟨Σ ρ_j s(u_j), G⟩` over its range of
/// generators to `partial`, and the first step also subtracts `Σ ρ_j G_j`. After the last step
/// the sum is the identity iff every claim holds (with overwhelming probability). The result
/// does not depend on how the decision is split.
///
/// `steps` must be a power of two of at most [`max_decision_steps`], `step` below it, and the
/// first step's `partial` the identity; claims of another size than `k` are false.
pub fn decide_step(
    params: &ChunkParams,
    claims: &[Claim],
    weights: &[Fp],
    steps: usize,
    step: usize,
    partial: vesta::Point,
) -> Result<DecisionStep, ProverError> {
    let k = params.k() as usize;
    let refuse = |reason: String| ProverError::Decode {
        what: "decision step",
        reason,
    };
    if !steps.is_power_of_two() || steps > max_decision_steps(k as u32) {
        return Err(refuse(format!(
            "{steps} steps; a power of two up to {} at k = {k}",
            max_decision_steps(k as u32)
        )));
    }
    if step >= steps {
        return Err(refuse(format!("step {step} of {steps}")));
    }
    if step == 0 && !bool::from(partial.is_identity()) {
        return Err(refuse("the first step starts from the identity".into()));
    }
    if weights.len() != claims.len() {
        return Err(refuse(format!(
            "{} weights for {} claims",
            weights.len(),
            claims.len()
        )));
    }
    let last = step + 1 == steps;
    if claims.iter().any(|c| c.u.len() != k) {
        return Ok(if last {
            DecisionStep::Decided(false)
        } else {
            DecisionStep::Partial(partial)
        });
    }
    let low_bits = k - steps.trailing_zeros() as usize;
    let first = step << low_bits;
    let mut bases = generators(params)[first..first + (1 << low_bits)].to_vec();
    // s(u) at index `first + t` is the high bits' product times the low bits' s.
    let terms: Vec<(Fp, &[Fp])> = claims
        .iter()
        .zip(weights)
        .map(|(claim, rho)| {
            let prefix = (low_bits..k)
                .filter(|bit| first >> bit & 1 == 1)
                .fold(*rho, |acc, bit| acc * claim.u[k - 1 - bit]);
            (prefix, &claim.u[k - low_bits..])
        })
        .collect();
    let mut scalars = expansion_sum(&terms, low_bits).unwrap_or_else(|| {
        let mut scalars = vec![Fp::ZERO; 1 << low_bits];
        for (prefix, u) in &terms {
            for (total, s) in scalars.iter_mut().zip(s_coefficients(u, *prefix)) {
                *total += s;
            }
        }
        scalars
    });
    if step == 0 {
        for (claim, rho) in claims.iter().zip(weights) {
            scalars.push(-*rho);
            bases.push(claim.g);
        }
    }
    let sum = crate::msm::msm(&scalars, &bases) + partial;
    Ok(if last {
        DecisionStep::Decided(bool::from(sum.is_identity()))
    } else {
        DecisionStep::Partial(sum)
    })
}

/// Checks every claim at once, in one step: true iff each `g` is `⟨s(u), G⟩` (with
/// overwhelming probability over the weights). Claims of another size than the parameters'
/// `k` are false.
pub fn decide(params: &ChunkParams, claims: &[Claim]) -> bool {
    let bytes: Vec<u8> = claims.iter().flat_map(Claim::to_bytes).collect();
    let weights = decision_weights(&bytes, claims.len());
    let step = decide_step(params, claims, &weights, 1, 0, vesta::Point::identity());
    matches!(step, Ok(DecisionStep::Decided(true)))
}
