//! New ids and secrets: a prefix and base62 characters from the OS generator.
//!
//! Ids begin with the time they were made, so rows inserted together land next to each
//! other in every index on `id` (one page written per batch of inserts, not one page per
//! insert scattered over the whole b-tree), and ids sort by creation time. They stay opaque
//! to callers: the contract promises a prefix and nothing about the rest.

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random base62 characters.
pub fn random_base62(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new id: `prefix`, 9 base62 characters of the current time in ms (fixed width, so they
/// sort as the times do until the year 400,000) and 11 random characters (65 bits).
pub fn new_id(prefix: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut id = String::with_capacity(prefix.len() + 20);
    id.push_str(prefix);
    push_base62_fixed(&mut id, now, 9);
    let mut rng = rand::rng();
    for _ in 0..11 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

/// Appends `v` in base62 as exactly `width` characters (leading zeros; higher digits cut).
fn push_base62_fixed(out: &mut String, mut v: u64, width: usize) {
    let mut digits = [b'0'; 16];
    for d in digits[..width].iter_mut().rev() {
        *d = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    out.extend(digits[..width].iter().map(|&b| b as char));
}

/// Random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = rand::rng();
    (0..n).map(|_| rng.random::<u8>()).collect()
}

/// Two random digits, for generated referral codes.
pub fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// The SHA-256 of a secret, hex: how API keys and tokens are stored.
pub fn hash_secret(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_prefix_and_sort_by_time() {
        let a = new_id("conv_");
        assert!(a.starts_with("conv_"));
        assert_eq!(a.len(), 25);
        assert!(a[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("conv_");
        assert!(a < b, "{a} then {b}");
        assert_ne!(new_id("x_"), new_id("x_"));
    }

    #[test]
    fn fixed_base62_keeps_order() {
        let enc = |v| {
            let mut s = String::new();
            push_base62_fixed(&mut s, v, 9);
            s
        };
        assert_eq!(enc(0), "000000000");
        assert_eq!(enc(61), "00000000z");
        assert_eq!(enc(62), "000000010");
        let mut prev = enc(1_700_000_000_000);
        for v in [1_700_000_000_001u64, 1_800_000_000_000, 4_000_000_000_000] {
            let next = enc(v);
            assert!(prev < next);
            prev = next;
        }
    }
}
