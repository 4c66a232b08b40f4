//! New ids and secrets: a prefix and base62 characters from the OS generator.
//!
//! Every id of the server (`aff_…`, `click_…`, `aud_…`, …) comes from [`new_id`], one
//! scheme: ids begin with the time they were made, so rows inserted together land next to
//! each other in every index on `id` (one page written per batch of inserts, not one page per
//! insert scattered over the whole b-tree), and ids sort by creation time; within one
//! process they sort in the exact order they were made, even within one millisecond (the
//! audit log pages by them). They stay opaque to callers: the contract promises a prefix and
//! nothing about the rest.

use std::sync::Mutex;

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random base62 characters.
pub fn random_base62(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The last id's (time in ms, tail), so the next one sorts after it.
static LAST: Mutex<(u64, u64)> = Mutex::new((0, 0));

/// A new id: `prefix`, 9 base62 characters of the time in ms (fixed width, so they sort as
/// the times do until the year 400,000) and 11 base62 characters of a 64-bit tail. The tail
/// of the first id of a millisecond is random (63 bits); the next ids of the same
/// millisecond (or of an earlier one, should the system clock step back) keep the last time
/// and add a random step of up to 2^32 to the tail, so ids made one after another in this
/// process always sort in that order and stay unguessable.
pub fn new_id(prefix: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut rng = rand::rng();
    let fresh: u64 = rng.random::<u64>() >> 1;
    let step: u64 = rng.random_range(1..=1u64 << 32);
    let (ms, tail) = {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        *last = next_id_parts(*last, now, fresh, step);
        *last
    };
    let mut id = String::with_capacity(prefix.len() + 20);
    id.push_str(prefix);
    push_base62_fixed(&mut id, ms, 9);
    push_base62_fixed(&mut id, tail, 11);
    id
}

/// The (time, tail) of the id after `last`: a new millisecond starts from `fresh`; the same
/// (or an earlier) one steps the tail by `step`, moving to the next millisecond on overflow.
fn next_id_parts(last: (u64, u64), now: u64, fresh: u64, step: u64) -> (u64, u64) {
    if now > last.0 {
        return (now, fresh);
    }
    match last.1.checked_add(step) {
        Some(tail) => (last.0, tail),
        None => (last.0 + 1, fresh),
    }
}

/// Appends `v` in base62 as exactly `width` characters (leading zeros; higher digits cut).
fn push_base62_fixed(out: &mut String, mut v: u64, width: usize) {
    // 11 base62 digits hold any u64 (62^11 > 2^64).
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
        // Ids made one after another sort in that order, within one millisecond too: no
        // need to wait for the clock to tick.
        let b = new_id("conv_");
        assert!(a < b, "{a} then {b}");
        assert_ne!(new_id("x_"), new_id("x_"));
        let ids: Vec<String> = (0..10_000).map(|_| new_id("aud_")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|i| i.len() == 24));
    }

    #[test]
    fn the_tail_steps_within_a_millisecond_and_carries_on_overflow() {
        assert_eq!(
            next_id_parts((5, 100), 6, 7, 3),
            (6, 7),
            "a new ms starts fresh"
        );
        assert_eq!(next_id_parts((5, 100), 5, 7, 3), (5, 103));
        assert_eq!(
            next_id_parts((5, 100), 4, 7, 3),
            (5, 103),
            "the clock stepped back"
        );
        assert_eq!(next_id_parts((5, u64::MAX - 1), 5, 7, 3), (6, 7));
        let enc = |(ms, tail)| {
            let mut s = String::new();
            push_base62_fixed(&mut s, ms, 9);
            push_base62_fixed(&mut s, tail, 11);
            s
        };
        assert!(enc((5, u64::MAX)) < enc((6, 0)));
        assert!(enc((5, 0)) < enc((5, u64::MAX)));
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
