//! The Ed25519 operations that sign and verify access tokens, behind one small trait.
//!
//! In the Worker they are WebCrypto's (`http::webcrypto`): native code in the runtime, so
//! the wasm carries no curve arithmetic and a signature costs a fraction of what it costs
//! in wasm. WebCrypto is asynchronous, which is why this trait is, and why the token code
//! builds the JWS itself. Native unit tests use the `ed25519-compact` implementation below.

/// A 32-byte Ed25519 private key seed (RFC 8032 §5.1.5).
pub type Seed = [u8; 32];
/// A 32-byte Ed25519 public key.
pub type PublicKey = [u8; 32];

#[allow(async_fn_in_trait)] // Workers run one thread; nothing here is sent across threads.
pub trait Ed25519 {
    /// The public key of `seed`, or why it cannot be used.
    async fn public_key(&self, seed: &Seed) -> Result<PublicKey, String>;
    /// A 64-byte signature of `message` (RFC 8032, deterministic).
    async fn sign(&self, seed: &Seed, message: &[u8]) -> Result<Vec<u8>, String>;
    /// Whether `signature` is `public`'s signature of `message`; any malformed input is
    /// simply `false`.
    async fn verify(&self, public: &PublicKey, message: &[u8], signature: &[u8]) -> bool;
}

/// A pure-Rust implementation for native tests, checked against RFC 8032's test vectors
/// below and, end to end, against WebCrypto in workerd (tokens signed by one are verified
/// by the other in the unit and end-to-end suites).
#[cfg(test)]
pub struct Native;

#[cfg(test)]
impl Ed25519 for Native {
    async fn public_key(&self, seed: &Seed) -> Result<PublicKey, String> {
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
        Ok(*pair.pk)
    }

    async fn sign(&self, seed: &Seed, message: &[u8]) -> Result<Vec<u8>, String> {
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
        Ok(pair.sk.sign(message, None).to_vec())
    }

    async fn verify(&self, public: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        match ed25519_compact::Signature::from_slice(signature) {
            Ok(sig) => ed25519_compact::PublicKey::new(*public)
                .verify(message, &sig)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// Runs a future that never waits on anything outside itself (the native implementation
/// above), for unit tests.
#[cfg(test)]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::encoding::b64url;

    /// RFC test vectors' hex, for this file's tests and the cipher's.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 8032 §7.1, test 2.
    #[test]
    fn rfc8032_test_vector() {
        let seed: Seed = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
            .try_into()
            .unwrap();
        let public = block_on(Native.public_key(&seed)).unwrap();
        assert_eq!(
            public.to_vec(),
            hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        );
        let sig = block_on(Native.sign(&seed, &[0x72])).unwrap();
        assert_eq!(
            b64url(&sig),
            b64url(&hex(
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                 085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            ))
        );
        assert!(block_on(Native.verify(&public, &[0x72], &sig)));
        assert!(!block_on(Native.verify(&public, &[0x73], &sig)));
        assert!(!block_on(Native.verify(&public, &[0x72], &sig[..63])));
    }
}
