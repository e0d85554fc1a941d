//! Our ChaCha20 (RFC 8439), which seals codes and cookies, against the RustCrypto crate:
//! the same keystream for every length, nonce and starting block.

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

#[test]
fn our_chacha20_matches_the_rustcrypto_crate() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    };
    for len in [0usize, 1, 63, 64, 65, 127, 128, 129, 1000, 4096] {
        let key: [u8; 32] = std::array::from_fn(|_| next());
        let nonce: [u8; 12] = std::array::from_fn(|_| next());
        let counter = u32::from(next()) * 3;
        let plain: Vec<u8> = (0..len).map(|_| next()).collect();
        let mut ours = plain.clone();
        crate::oauth::chacha20::apply(&key, &nonce, counter, &mut ours);
        let mut theirs = plain.clone();
        let mut cipher = chacha20::ChaCha20::new(&key.into(), &nonce.into());
        cipher.seek(u64::from(counter) * 64);
        cipher.apply_keystream(&mut theirs);
        assert_eq!(ours, theirs, "length {len}, counter {counter}");
    }
}
