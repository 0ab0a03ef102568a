//! Unique ids for inboxes: 22 random base-62 characters.

use rand::Rng;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new 22-character unique id.
pub fn next() -> String {
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..62)] as char)
        .collect()
}
