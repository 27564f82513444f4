//! The verifiable random function of RFC 9381, suite ECVRF-EDWARDS25519-SHA512-TAI (suite string
//! 0x03): keys, proving, verifying and the proof-to-output hash. Why this suite: ADR 0097.
//!
//! Verification always runs the RFC's `validate_key` (small-order public keys are refused), and
//! points are decoded strictly as RFC 8032 section 5.1.3 says (a non-canonical encoding is not a
//! point), so every byte string has one meaning.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};

pub const SECRET_KEY_LEN: usize = 32;
pub const PUBLIC_KEY_LEN: usize = 32;
/// Gamma (32) || c (16) || s (32).
pub const PROOF_LEN: usize = 80;
pub const OUTPUT_LEN: usize = 64;

/// The suite string of ECVRF-EDWARDS25519-SHA512-TAI.
const SUITE: u8 = 0x03;
/// cLen: the challenge is the first 16 bytes of a SHA-512 digest.
const CHALLENGE_LEN: usize = 16;

/// Why a key, a proof or a verification was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VrfError {
    #[error("a VRF public key is {PUBLIC_KEY_LEN} bytes, got {0}")]
    PublicKeyLength(usize),
    #[error("the VRF public key is not a point on Edwards25519")]
    PublicKeyNotOnCurve,
    #[error("the VRF public key has small order")]
    PublicKeySmallOrder,
    #[error("a VRF proof is {PROOF_LEN} bytes, got {0}")]
    ProofLength(usize),
    #[error("the VRF proof's point Gamma is not on the curve")]
    GammaNotOnCurve,
    #[error("the VRF proof's scalar s is not reduced")]
    ScalarNotReduced,
    #[error("the VRF input could not be encoded to a curve point")]
    EncodeToCurveFailed,
    #[error("the VRF proof does not verify")]
    InvalidProof,
}

/// A VRF secret key: the 32-byte seed of RFC 8032, with the secret scalar, the nonce prefix and
/// the public key derived from it.
#[derive(Clone)]
pub struct VrfSecretKey {
    /// x: the clamped first half of SHA-512(seed), reduced mod L.
    scalar: Scalar,
    /// The second half of SHA-512(seed), which seeds the nonces.
    nonce_prefix: [u8; 32],
    public: VrfPublicKey,
}

impl VrfSecretKey {
    /// Expands the seed as RFC 8032 section 5.1.5 does (SHA-512, clamp the first half).
    pub fn from_bytes(seed: &[u8; SECRET_KEY_LEN]) -> Self {
        let digest: [u8; 64] = Sha512::digest(seed).into();
        let mut low = [0u8; 32];
        let mut nonce_prefix = [0u8; 32];
        low.copy_from_slice(&digest[..32]);
        nonce_prefix.copy_from_slice(&digest[32..]);
        let scalar = Scalar::from_bytes_mod_order(clamp_integer(low));
        let public = VrfPublicKey(EdwardsPoint::mul_base(&scalar).compress().to_bytes());
        Self {
            scalar,
            nonce_prefix,
            public,
        }
    }

    pub fn public_key(&self) -> VrfPublicKey {
        self.public
    }

    /// ECVRF_prove (RFC 9381 section 5.1).
    ///
    /// # Panics
    ///
    /// Only if encode-to-curve finds no point in 256 tries, which happens with probability
    /// about 2^-256 (each try succeeds about half the time).
    pub fn prove(&self, alpha: &[u8]) -> VrfProof {
        let public = self.public.to_bytes();
        let y = EdwardsPoint::mul_base(&self.scalar);
        let h = encode_to_curve(&public, alpha)
            .expect("try-and-increment fails with probability 2^-256");
        let h_string = h.compress().to_bytes();
        let gamma = self.scalar * h;
        let k = self.nonce(&h_string);
        let c = challenge(&[y, h, gamma, EdwardsPoint::mul_base(&k), k * h]);
        let s = k + challenge_scalar(&c) * self.scalar;

        let mut pi = [0u8; PROOF_LEN];
        pi[..32].copy_from_slice(gamma.compress().as_bytes());
        pi[32..48].copy_from_slice(&c);
        pi[48..].copy_from_slice(s.as_bytes());
        VrfProof(pi)
    }

    /// ECVRF_nonce_generation_RFC8032 (RFC 9381 section 5.4.2.2).
    fn nonce(&self, h_string: &[u8; 32]) -> Scalar {
        let k_string: [u8; 64] = Sha512::new()
            .chain_update(self.nonce_prefix)
            .chain_update(h_string)
            .finalize()
            .into();
        Scalar::from_bytes_mod_order_wide(&k_string)
    }
}

/// A VRF public key, known to encode a point of large order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VrfPublicKey([u8; PUBLIC_KEY_LEN]);

impl VrfPublicKey {
    /// Checks the length, decodes the point and runs ECVRF_validate_key (RFC 9381 section 5.4.5).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VrfError> {
        let bytes: [u8; PUBLIC_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| VrfError::PublicKeyLength(bytes.len()))?;
        validate_key(&bytes)?;
        Ok(Self(bytes))
    }

    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0
    }

    /// ECVRF_verify (RFC 9381 section 5.3) with validate_key = TRUE: the output if `proof` is
    /// this key's proof for `alpha`.
    pub fn verify(&self, alpha: &[u8], proof: &VrfProof) -> Result<VrfOutput, VrfError> {
        let y = validate_key(&self.0)?;
        let (gamma, c, s) = decode_proof(proof)?;
        let h = encode_to_curve(&self.0, alpha).ok_or(VrfError::EncodeToCurveFailed)?;
        let c_scalar = challenge_scalar(&c);
        let u = EdwardsPoint::mul_base(&s) - c_scalar * y;
        let v = s * h - c_scalar * gamma;
        if challenge(&[y, h, gamma, u, v]) != c {
            return Err(VrfError::InvalidProof);
        }
        Ok(proof_to_hash(&gamma))
    }
}

/// A VRF proof, pi = Gamma || c || s. Only its length is known to be right.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VrfProof(pub [u8; PROOF_LEN]);

impl VrfProof {
    /// Checks the length only; [`VrfPublicKey::verify`] checks the rest.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VrfError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| VrfError::ProofLength(bytes.len()))
    }

    /// ECVRF_proof_to_hash (RFC 9381 section 5.2): the output this proof claims, without
    /// verifying it. Use it only on a proof already verified or made by [`VrfSecretKey::prove`].
    pub fn output(&self) -> Result<VrfOutput, VrfError> {
        let (gamma, _, _) = decode_proof(self)?;
        Ok(proof_to_hash(&gamma))
    }
}

/// A VRF output, beta.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VrfOutput(pub [u8; OUTPUT_LEN]);

/// string_to_point: RFC 8032 section 5.1.3 decoding, which refuses a y not below p and a zero x
/// with its sign bit set. curve25519-dalek accepts both, so the point must re-encode to `bytes`.
fn string_to_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = CompressedEdwardsY(*bytes).decompress()?;
    (point.compress().as_bytes() == bytes).then_some(point)
}

/// Decodes a public key and runs ECVRF_validate_key: cofactor * Y must not be the identity.
fn validate_key(bytes: &[u8; 32]) -> Result<EdwardsPoint, VrfError> {
    let y = string_to_point(bytes).ok_or(VrfError::PublicKeyNotOnCurve)?;
    if y.is_small_order() {
        return Err(VrfError::PublicKeySmallOrder);
    }
    Ok(y)
}

/// ECVRF_decode_proof (RFC 9381 section 5.4.4): Gamma, the 16-byte c, and s < L.
fn decode_proof(proof: &VrfProof) -> Result<(EdwardsPoint, [u8; CHALLENGE_LEN], Scalar), VrfError> {
    let pi = &proof.0;
    let mut gamma_string = [0u8; 32];
    let mut c = [0u8; CHALLENGE_LEN];
    let mut s_string = [0u8; 32];
    gamma_string.copy_from_slice(&pi[..32]);
    c.copy_from_slice(&pi[32..48]);
    s_string.copy_from_slice(&pi[48..]);
    let gamma = string_to_point(&gamma_string).ok_or(VrfError::GammaNotOnCurve)?;
    let s =
        Option::from(Scalar::from_canonical_bytes(s_string)).ok_or(VrfError::ScalarNotReduced)?;
    Ok((gamma, c, s))
}

/// ECVRF_encode_to_curve_try_and_increment (RFC 9381 section 5.4.1.1), salted with the public
/// key's bytes. `None` only if all 256 counter values fail.
fn encode_to_curve(public: &[u8; 32], alpha: &[u8]) -> Option<EdwardsPoint> {
    (0..=u8::MAX).find_map(|ctr| {
        let hash = Sha512::new()
            .chain_update([SUITE, 0x01])
            .chain_update(public)
            .chain_update(alpha)
            .chain_update([ctr, 0x00])
            .finalize();
        let mut candidate = [0u8; 32];
        candidate.copy_from_slice(&hash[..32]);
        let h = string_to_point(&candidate)?.mul_by_cofactor();
        (!h.is_identity()).then_some(h)
    })
}

/// ECVRF_challenge_generation (RFC 9381 section 5.4.3): the first 16 bytes of
/// SHA-512(suite || 0x02 || P1 || ... || P5 || 0x00).
fn challenge(points: &[EdwardsPoint; 5]) -> [u8; CHALLENGE_LEN] {
    let mut hasher = Sha512::new();
    hasher.update([SUITE, 0x02]);
    for point in points {
        hasher.update(point.compress().as_bytes());
    }
    hasher.update([0x00]);
    let digest = hasher.finalize();
    let mut c = [0u8; CHALLENGE_LEN];
    c.copy_from_slice(&digest[..CHALLENGE_LEN]);
    c
}

/// The challenge as a scalar: 16 little-endian bytes, below 2^128 < L, so nothing is reduced.
fn challenge_scalar(c: &[u8; CHALLENGE_LEN]) -> Scalar {
    let mut bytes = [0u8; 32];
    bytes[..CHALLENGE_LEN].copy_from_slice(c);
    Scalar::from_bytes_mod_order(bytes)
}

/// ECVRF_proof_to_hash's hash (RFC 9381 section 5.2): SHA-512(suite || 0x03 || 8*Gamma || 0x00).
fn proof_to_hash(gamma: &EdwardsPoint) -> VrfOutput {
    let beta: [u8; OUTPUT_LEN] = Sha512::new()
        .chain_update([SUITE, 0x03])
        .chain_update(gamma.mul_by_cofactor().compress().as_bytes())
        .chain_update([0x00])
        .finalize()
        .into();
    VrfOutput(beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9381 Appendix B.3, Examples 16, 17 and 18.
    struct Vector {
        sk: &'static str,
        pk: &'static str,
        alpha: &'static str,
        h: &'static str,
        k: &'static str,
        pi: &'static str,
        beta: &'static str,
    }

    const VECTORS: [Vector; 3] = [
        Vector {
            sk: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            pk: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            alpha: "",
            h: "91bbed02a99461df1ad4c6564a5f5d829d0b90cfc7903e7a5797bd658abf3318",
            k: "8a49edbd1492a8ee09766befe50a7d563051bf3406cbffc20a88def030730f0f",
            pi: "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f\
                 26f8a57ccaed74ee1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab12\
                 68a1b0db10836d9826a528ca76567805",
            beta: "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff\
                   66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
        },
        Vector {
            sk: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            pk: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            alpha: "72",
            h: "5b659fc3d4e9263fd9a4ed1d022d75eaacc20df5e09f9ea937502396598dc551",
            k: "d8c3a66921444cb3427d5d989f9b315aa8ca3375e9ec4d52207711a1fdb44107",
            pi: "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed593\
                 3bf0864a62558b3ed7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926d\
                 a3ef39226bbc355bdc9850112c8f4b02",
            beta: "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb\
                   5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
        },
        Vector {
            sk: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            pk: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            alpha: "af82",
            h: "bf4339376f5542811de615e3313d2b36f6f53c0acfebb482159711201192576a",
            k: "5ffdbc72135d936014e8ab708585fda379405542b07e3bd2c0bd48437fbac60a",
            pi: "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf80\
                 96bb474e53895c362d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a\
                 2d41b00b05081ed0f58ee5e31b3a970e",
            beta: "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c45\
                   2118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
        },
    ];

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn hex32(text: &str) -> [u8; 32] {
        hex(text).try_into().unwrap()
    }

    fn key(seed: u8) -> VrfSecretKey {
        VrfSecretKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn rfc_9381_vectors() {
        for v in &VECTORS {
            let sk = VrfSecretKey::from_bytes(&hex32(v.sk));
            let alpha = hex(v.alpha);
            let pk = sk.public_key();
            assert_eq!(pk.to_bytes(), hex32(v.pk), "public key");
            assert_eq!(VrfPublicKey::from_bytes(&hex(v.pk)), Ok(pk));

            // The intermediate values: H and the nonce k.
            let h = encode_to_curve(&pk.to_bytes(), &alpha).unwrap();
            assert_eq!(h.compress().to_bytes(), hex32(v.h), "H");
            assert_eq!(sk.nonce(&hex32(v.h)).to_bytes(), hex32(v.k), "k");

            let pi = sk.prove(&alpha);
            assert_eq!(pi.0.to_vec(), hex(v.pi), "pi");
            let beta = hex(v.beta);
            assert_eq!(
                pi.output().unwrap().0.to_vec(),
                beta,
                "beta from proof_to_hash"
            );
            assert_eq!(
                pk.verify(&alpha, &pi).unwrap().0.to_vec(),
                beta,
                "beta from verify"
            );
            let parsed = VrfProof::from_bytes(&hex(v.pi)).unwrap();
            assert_eq!(pk.verify(&alpha, &parsed).unwrap().0.to_vec(), beta);
        }
    }

    #[test]
    fn another_key_or_input_fails() {
        let (alice, bob) = (key(1), key(2));
        let proof = alice.prove(b"epoch 7");
        assert!(alice.public_key().verify(b"epoch 7", &proof).is_ok());
        assert_eq!(
            bob.public_key().verify(b"epoch 7", &proof),
            Err(VrfError::InvalidProof)
        );
        assert_eq!(
            alice.public_key().verify(b"epoch 8", &proof),
            Err(VrfError::InvalidProof)
        );
        assert_eq!(
            alice.public_key().verify(b"", &proof),
            Err(VrfError::InvalidProof)
        );
    }

    #[test]
    fn proving_is_deterministic_and_outputs_differ() {
        let sk = key(3);
        assert_eq!(sk.prove(b"a"), sk.prove(b"a"));
        assert_ne!(sk.prove(b"a").output(), sk.prove(b"b").output());
        assert_ne!(sk.prove(b"a").output(), key(4).prove(b"a").output());
    }

    #[test]
    fn every_flipped_bit_fails_without_panicking() {
        let sk = key(5);
        let pk = sk.public_key();
        let proof = sk.prove(b"tamper");
        // Bits of Gamma (bytes 0..32), c (32..48) and s (48..80).
        for bit in 0..PROOF_LEN * 8 {
            let mut bad = proof;
            bad.0[bit / 8] ^= 1 << (bit % 8);
            let err = pk.verify(b"tamper", &bad).unwrap_err();
            let expected: &[VrfError] = match bit / 8 {
                0..32 => &[VrfError::GammaNotOnCurve, VrfError::InvalidProof],
                32..48 => &[VrfError::InvalidProof],
                _ => &[VrfError::ScalarNotReduced, VrfError::InvalidProof],
            };
            assert!(expected.contains(&err), "bit {bit}: {err}");
        }
    }

    #[test]
    fn garbage_proofs_fail_without_panicking() {
        let pk = key(6).public_key();
        for fill in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let proof = VrfProof([fill; PROOF_LEN]);
            assert!(pk.verify(b"x", &proof).is_err());
            let _ = proof.output();
        }
    }

    #[test]
    fn wrong_lengths_are_refused_with_the_length() {
        let err = VrfPublicKey::from_bytes(&[0u8; 31]).unwrap_err();
        assert_eq!(err, VrfError::PublicKeyLength(31));
        assert_eq!(err.to_string(), "a VRF public key is 32 bytes, got 31");
        assert_eq!(
            VrfPublicKey::from_bytes(&[0u8; 33]),
            Err(VrfError::PublicKeyLength(33))
        );
        let err = VrfProof::from_bytes(&[0u8; 79]).unwrap_err();
        assert_eq!(err, VrfError::ProofLength(79));
        assert_eq!(err.to_string(), "a VRF proof is 80 bytes, got 79");
        assert_eq!(VrfProof::from_bytes(&[]), Err(VrfError::ProofLength(0)));
        assert_eq!(
            VrfProof::from_bytes(&[0u8; 81]),
            Err(VrfError::ProofLength(81))
        );
    }

    #[test]
    fn small_order_public_keys_are_refused() {
        // The identity (y = 1), the point of order 2 (y = p - 1), a point of order 4 (y = 0),
        // and points of order 8 with y = bad_y2 and p - bad_y2 (RFC 9381 section 5.4.5).
        let small = [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        ];
        for bytes in small {
            let err = VrfPublicKey::from_bytes(&hex(bytes)).unwrap_err();
            assert_eq!(err, VrfError::PublicKeySmallOrder, "{bytes}");
            assert_eq!(err.to_string(), "the VRF public key has small order");
            // A forged key value fails in verify too.
            let forged = VrfPublicKey(hex32(bytes));
            assert_eq!(
                forged.verify(b"", &key(7).prove(b"")),
                Err(VrfError::PublicKeySmallOrder)
            );
        }
    }

    #[test]
    fn non_points_and_non_canonical_encodings_are_refused() {
        // y = 2 is not the y of any point; y = p is 0 unreduced; x = 0 with the sign bit set.
        let bad = [
            "0200000000000000000000000000000000000000000000000000000000000000",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0100000000000000000000000000000000000000000000000000000000000080",
        ];
        for bytes in bad {
            let err = VrfPublicKey::from_bytes(&hex(bytes)).unwrap_err();
            assert_eq!(err, VrfError::PublicKeyNotOnCurve, "{bytes}");
            assert_eq!(
                err.to_string(),
                "the VRF public key is not a point on Edwards25519"
            );
        }
    }

    #[test]
    fn unreduced_s_is_refused() {
        // L, little-endian.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let sk = key(8);
        let proof = sk.prove(b"malleable?");
        // s + L is the same scalar mod L: without the s < L check it would verify.
        let mut bumped = proof;
        let mut carry = 0u16;
        for (byte, l) in bumped.0[48..].iter_mut().zip(L) {
            let sum = u16::from(*byte) + u16::from(l) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        let err = sk.public_key().verify(b"malleable?", &bumped).unwrap_err();
        assert_eq!(err, VrfError::ScalarNotReduced);
        assert_eq!(err.to_string(), "the VRF proof's scalar s is not reduced");
        assert_eq!(bumped.output(), Err(VrfError::ScalarNotReduced));
        // s = L exactly, too.
        let mut at_l = proof;
        at_l.0[48..].copy_from_slice(&L);
        assert_eq!(
            sk.public_key().verify(b"malleable?", &at_l),
            Err(VrfError::ScalarNotReduced)
        );
    }

    #[test]
    fn gamma_off_the_curve_is_refused() {
        let sk = key(9);
        let mut proof = sk.prove(b"g");
        proof.0[..32].copy_from_slice(&hex32(
            "0200000000000000000000000000000000000000000000000000000000000000",
        ));
        let err = sk.public_key().verify(b"g", &proof).unwrap_err();
        assert_eq!(err, VrfError::GammaNotOnCurve);
        assert_eq!(
            err.to_string(),
            "the VRF proof's point Gamma is not on the curve"
        );
        assert_eq!(proof.output(), Err(VrfError::GammaNotOnCurve));
        assert_eq!(
            VrfError::InvalidProof.to_string(),
            "the VRF proof does not verify"
        );
    }
}
