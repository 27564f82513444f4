//! Schnorr signatures over Pallas with a Poseidon challenge.
//!
//! With generator `G`, secret `x` and public key `P = [x]G`, a signature on a message word `m`
//! (a base-field element that already encodes the chain id, see [`crate::tx`]) is `(R, s)` with
//! `R = [k]G` and `s = k + e·x`, where
//!
//! ```text
//! e = Poseidon sponge, capacity 2·2^64: absorb (P.x, P.y), permute, absorb (R.x, m), permute
//! ```
//!
//! The first permutation is exactly the key commitment `H(P.x, P.y)` stored in the account
//! leaf, so the circuit gets the challenge for one extra permutation. `e < p < q`, so the
//! challenge is used as a scalar without reduction. Verification checks `[s]G = R + [e]P`.
//! Nonces are derived deterministically from the secret key and the message.

use blake2b_simd::Params as Blake2bParams;
use ff::{Field, FromUniformBytes, PrimeField};
use group::{Curve, CurveAffine as _, Group, GroupEncoding};
use pasta_curves::arithmetic::CurveAffine;
use pasta_curves::pallas;

use crate::poseidon::{capacity_for_length, permute};
use crate::{Fp, Fq};

/// The generator used for L2 keys and signatures.
pub fn generator() -> pallas::Affine {
    pallas::Point::generator().to_affine()
}

/// A Pallas public key (never the identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(pallas::Affine);

impl PublicKey {
    /// Wraps a point, rejecting the identity.
    pub fn from_point(point: pallas::Affine) -> Option<Self> {
        if bool::from(point.is_identity()) {
            None
        } else {
            Some(Self(point))
        }
    }

    /// The point.
    pub fn point(&self) -> pallas::Affine {
        self.0
    }

    /// Whether this key can sign: every key but `±G`, whose discrete log is public. The
    /// circuit's signature chip cannot prove them (ADR 0112), so they are refused here too.
    pub fn can_sign(&self) -> bool {
        let g = pallas::Point::generator();
        let p = pallas::Point::from(self.0);
        p != g && p != -g
    }

    /// Affine coordinates `(x, y)`.
    pub fn coordinates(&self) -> (Fp, Fp) {
        point_coordinates(&self.0)
    }

    /// 32-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Parses a compressed encoding; `None` if it is not a valid non-identity point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        Option::<pallas::Affine>::from(pallas::Affine::from_bytes(bytes)).and_then(Self::from_point)
    }
}

/// Affine coordinates of a non-identity point.
pub(crate) fn point_coordinates(p: &pallas::Affine) -> (Fp, Fp) {
    let c = p.coordinates().expect("callers pass non-identity points");
    (*c.x(), *c.y())
}

/// A secret L2 key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigningKey(Fq);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Wraps a scalar, rejecting zero.
    pub fn from_scalar(x: Fq) -> Option<Self> {
        if bool::from(x.is_zero()) {
            None
        } else {
            Some(Self(x))
        }
    }

    /// Derives a key from 64 uniformly random bytes.
    pub fn from_uniform_bytes(bytes: &[u8; 64]) -> Self {
        let x = Fq::from_uniform_bytes(bytes);
        // Zero has probability 2^-254; map it to one rather than fail.
        Self(if bool::from(x.is_zero()) { Fq::ONE } else { x })
    }

    /// A fresh random key.
    pub fn random(rng: &mut impl rand_core::Rng) -> Self {
        let mut bytes = [0u8; 64];
        rng.fill_bytes(&mut bytes);
        Self::from_uniform_bytes(&bytes)
    }

    /// The secret scalar.
    pub fn scalar(&self) -> Fq {
        self.0
    }

    /// The public key `[x]G`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey((pallas::Point::generator() * self.0).to_affine())
    }

    /// Signs a message word.
    pub fn sign(&self, message: Fp) -> Signature {
        let pk = self.public_key();
        let k = self.nonce_for(message);
        let r = (pallas::Point::generator() * k).to_affine();
        let (r_x, _) = point_coordinates(&r);
        let e = challenge_scalar(challenge(&pk, r_x, message));
        Signature {
            r,
            s: k + e * self.0,
        }
    }

    fn nonce_for(&self, message: Fp) -> Fq {
        let mut counter = 0u8;
        loop {
            let digest = Blake2bParams::new()
                .hash_length(64)
                .personal(b"Kaimeng-L2-Nonce")
                .to_state()
                .update(&self.0.to_repr())
                .update(&message.to_repr())
                .update(&[counter])
                .finalize();
            let k = Fq::from_uniform_bytes(digest.as_array());
            if !bool::from(k.is_zero()) {
                return k;
            }
            counter = counter.wrapping_add(1);
        }
    }
}

/// A signature `(R, s)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The commitment `R = [k]G`.
    pub r: pallas::Affine,
    /// The response `s = k + e·x`.
    pub s: Fq,
}

impl Signature {
    /// 64-byte encoding: compressed `R` then `s` (little-endian).
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.r.to_bytes());
        out[32..].copy_from_slice(&self.s.to_repr());
        out
    }

    /// Parses [`Signature::to_bytes`]; `None` for an invalid point or non-canonical scalar.
    pub fn from_bytes(bytes: &[u8; 64]) -> Option<Self> {
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&bytes[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&bytes[32..]);
        let r = Option::<pallas::Affine>::from(pallas::Affine::from_bytes(&r_bytes))?;
        if bool::from(r.is_identity()) {
            return None;
        }
        let s = Option::<Fq>::from(Fq::from_repr(s_bytes))?;
        Some(Self { r, s })
    }

    /// `R.x`.
    pub fn r_x(&self) -> Fp {
        point_coordinates(&self.r).0
    }
}

/// The Poseidon challenge `e` for `(pk, R.x, m)` (see the module docs).
pub fn challenge(pk: &PublicKey, r_x: Fp, message: Fp) -> Fp {
    let (x, y) = pk.coordinates();
    let first = permute(&[x, y, capacity_for_length(2)]);
    permute(&[first[0] + r_x, first[1] + message, first[2]])[0]
}

/// The challenge as a scalar (exact, since the base field is smaller than the scalar field).
pub fn challenge_scalar(e: Fp) -> Fq {
    Option::from(Fq::from_repr(e.to_repr())).expect("p < q, so every base element is a scalar")
}

/// Checks `[s]G = R + [e]P`.
pub fn verify(pk: &PublicKey, message: Fp, sig: &Signature) -> bool {
    if bool::from(sig.r.is_identity()) || !pk.can_sign() {
        return false;
    }
    let e = challenge_scalar(challenge(pk, sig.r_x(), message));
    let lhs = pallas::Point::generator() * sig.s;
    let rhs = sig.r.to_curve() + pk.0 * e;
    lhs == rhs
}

/// Checks many signatures at once: with weights `z_i` derived by hashing the whole batch,
/// `[Σ z_i·s_i]G − Σ [z_i]R_i − Σ [z_i·e_i]P_i = 0` in one multi-scalar multiplication. True
/// if every signature verifies (except with probability about 2^-128 when some do not); false
/// means at least one fails, and the caller checks them one by one to find which.
pub fn verify_batch(items: &[(PublicKey, Fp, Signature)]) -> bool {
    if items
        .iter()
        .any(|(pk, _, sig)| bool::from(sig.r.is_identity()) || !pk.can_sign())
    {
        return false;
    }
    let mut transcript = Blake2bParams::new()
        .hash_length(64)
        .personal(b"Kaimeng-SchnBat1")
        .to_state();
    for (pk, message, sig) in items {
        transcript.update(&pk.to_bytes());
        transcript.update(&message.to_repr());
        transcript.update(&sig.to_bytes());
    }
    let seed = transcript.finalize();
    let mut coeffs = Vec::with_capacity(2 * items.len() + 1);
    let mut bases = Vec::with_capacity(2 * items.len() + 1);
    let mut s_total = Fq::ZERO;
    for (i, (pk, message, sig)) in items.iter().enumerate() {
        let digest = Blake2bParams::new()
            .hash_length(16)
            .personal(b"Kaimeng-SchnBatZ")
            .to_state()
            .update(seed.as_bytes())
            .update(&(i as u64).to_le_bytes())
            .finalize();
        let mut wide = [0u8; 64];
        wide[..16].copy_from_slice(digest.as_bytes());
        let z = Fq::from_uniform_bytes(&wide);
        let e = challenge_scalar(challenge(pk, sig.r_x(), *message));
        s_total += z * sig.s;
        coeffs.push(-z);
        bases.push(sig.r);
        coeffs.push(-(z * e));
        bases.push(pk.0);
    }
    coeffs.push(s_total);
    bases.push(generator());
    bool::from(halo2_proofs::arithmetic::best_multiexp(&coeffs, &bases).is_identity())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn sign_then_verify() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let sk = SigningKey::random(&mut rng);
        let pk = sk.public_key();
        let m = Fp::from(12345);
        let sig = sk.sign(m);
        assert!(verify(&pk, m, &sig));
        assert!(!verify(&pk, m + Fp::ONE, &sig));
        let other = SigningKey::random(&mut rng).public_key();
        assert!(!verify(&other, m, &sig));
        let tampered = Signature {
            r: sig.r,
            s: sig.s + Fq::ONE,
        };
        assert!(!verify(&pk, m, &tampered));
    }

    #[test]
    fn keys_whose_discrete_log_is_public_cannot_sign() {
        for secret in [Fq::ONE, -Fq::ONE] {
            let pk = PublicKey::from_point((pallas::Point::generator() * secret).to_affine())
                .expect("not the identity");
            assert!(!pk.can_sign());
            let m = Fp::from(5);
            let k = Fq::from(777);
            let r = (pallas::Point::generator() * k).to_affine();
            let e = challenge_scalar(challenge(&pk, point_coordinates(&r).0, m));
            let sig = Signature {
                r,
                s: k + e * secret,
            };
            assert_eq!(
                pallas::Point::generator() * sig.s,
                r + pk.point() * e,
                "the equation holds"
            );
            assert!(!verify(&pk, m, &sig));
            assert!(!verify_batch(&[(pk, m, sig)]));
        }
        let two = PublicKey::from_point((pallas::Point::generator().double()).to_affine()).unwrap();
        assert!(two.can_sign());
    }

    #[test]
    fn a_batch_verifies_exactly_when_every_signature_does() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let mut items: Vec<(PublicKey, Fp, Signature)> = (0..40)
            .map(|i| {
                let sk = SigningKey::random(&mut rng);
                let m = Fp::from(i);
                (sk.public_key(), m, sk.sign(m))
            })
            .collect();
        assert!(verify_batch(&items));
        assert!(verify_batch(&items[..1]));
        assert!(verify_batch(&[]));
        for bad in [0, 17, 39] {
            let mut changed = items.clone();
            changed[bad].1 += Fp::ONE;
            assert!(!verify_batch(&changed), "message {bad} changed");
            let mut changed = items.clone();
            changed[bad].2.s += Fq::ONE;
            assert!(!verify_batch(&changed), "s {bad} changed");
            let mut changed = items.clone();
            changed[bad].0 = items[(bad + 1) % 40].0;
            assert!(!verify_batch(&changed), "key {bad} swapped");
        }
        // Two wrong signatures that would cancel in an unweighted sum do not pass.
        let delta = Fq::from(5);
        items[3].2.s += delta;
        items[4].2.s -= delta;
        assert!(!verify_batch(&items));
    }

    #[test]
    fn signatures_are_deterministic_and_round_trip() {
        let sk = SigningKey::from_scalar(Fq::from(99)).unwrap();
        let a = sk.sign(Fp::from(5));
        assert_eq!(a, sk.sign(Fp::from(5)));
        assert_ne!(a, sk.sign(Fp::from(6)));
        assert_eq!(Signature::from_bytes(&a.to_bytes()), Some(a));
        let pk = sk.public_key();
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()), Some(pk));
    }

    #[test]
    fn rejects_bad_encodings() {
        assert!(SigningKey::from_scalar(Fq::ZERO).is_none());
        // All 0xff is not a canonical scalar.
        let mut bytes = SigningKey::from_scalar(Fq::from(3))
            .unwrap()
            .sign(Fp::ONE)
            .to_bytes();
        bytes[32..].copy_from_slice(&[0xff; 32]);
        assert!(Signature::from_bytes(&bytes).is_none());
    }
}
