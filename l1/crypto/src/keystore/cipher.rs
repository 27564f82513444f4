//! The keystore's primitives: PBKDF2-HMAC-SM3 key derivation, SM4-CTR
//! encryption and the HMAC-SM3 tag (encrypt-then-MAC).

use super::{IV_LEN, MAC_LEN};
use crate::suite::CryptoSuite;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sm3::Sm3;
use zeroize::Zeroizing;

type Sm4Ctr = ctr::Ctr128BE<sm4::Sm4>;
type HmacSm3 = Hmac<Sm3>;

/// Domain separator at the start of the MAC input.
const MAC_DOMAIN: &[u8] = b"kaimeng-keystore-v1";

/// The 32 bytes PBKDF2 derives: an SM4 key (first half) and an HMAC key.
pub(super) struct DerivedKeys {
    encryption_key: Zeroizing<[u8; 16]>,
    mac_key: Zeroizing<[u8; 16]>,
}

impl DerivedKeys {
    pub(super) fn derive(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let mut derived = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sm3>(password, salt, iterations, derived.as_mut());
        let mut encryption_key = Zeroizing::new([0u8; 16]);
        let mut mac_key = Zeroizing::new([0u8; 16]);
        encryption_key.copy_from_slice(&derived[..16]);
        mac_key.copy_from_slice(&derived[16..]);
        Self {
            encryption_key,
            mac_key,
        }
    }

    /// SM4-CTR is its own inverse: encrypts or decrypts `data`.
    pub(super) fn apply_keystream(&self, iv: &[u8; IV_LEN], data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        let mut cipher = Sm4Ctr::new(self.encryption_key.as_ref().into(), iv.into());
        cipher.apply_keystream(&mut out);
        out
    }

    fn mac_state(&self, suite: CryptoSuite, iv: &[u8; IV_LEN], ciphertext: &[u8]) -> HmacSm3 {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <HmacSm3 as Mac>::new_from_slice(self.mac_key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(MAC_DOMAIN);
        mac.update(&[suite.name().len() as u8]);
        mac.update(suite.name().as_bytes());
        mac.update(iv);
        mac.update(ciphertext);
        mac
    }

    pub(super) fn mac(
        &self,
        suite: CryptoSuite,
        iv: &[u8; IV_LEN],
        ciphertext: &[u8],
    ) -> [u8; MAC_LEN] {
        self.mac_state(suite, iv, ciphertext)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Constant-time comparison with `expected`.
    pub(super) fn mac_matches(
        &self,
        suite: CryptoSuite,
        iv: &[u8; IV_LEN],
        ciphertext: &[u8],
        expected: &[u8; MAC_LEN],
    ) -> bool {
        self.mac_state(suite, iv, ciphertext)
            .verify_slice(expected)
            .is_ok()
    }
}
