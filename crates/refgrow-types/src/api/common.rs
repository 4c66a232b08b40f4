//! Shapes shared by many endpoints: pages, validated strings, nullable patches.

use serde::{Deserialize, Deserializer, Serialize};

/// The largest page a list returns.
pub const MAX_LIMIT: u32 = 100;
/// The page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 20;

/// Paging metadata of a list response (`total`, `limit`, `offset`). List bodies carry these
/// three fields beside their items (not flattened: serde's flatten buffers numbers in a way
/// that breaks exact decimals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// How many items match the filters in all.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many items were skipped.
    pub offset: u64,
}

/// Deserializes a field that can be absent (`None`), `null` (`Some(None)`) or a value.
/// Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Deserializes a string and checks it with `parse`, whose error text becomes the serde
/// error. A missing field stays serde's "missing field" error, and a value of the wrong
/// type says what was expected, so the server can name the field either way.
pub fn deserialize_checked_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T> {
        expecting: &'static str,
        parse: fn(&str) -> Result<T, String>,
    }
    impl<T> serde::de::Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V { expecting, parse })
}

/// Why an email address was refused.
pub const EMAIL_ISSUE: &str = "must be a valid email address";

/// Checks and normalizes (trims, lower-cases) an email address.
pub fn normalize_email(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() < 3 || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = s.rsplit_once('@')?;
    if local.is_empty()
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return None;
    }
    Some(s.to_lowercase())
}

/// An email address, checked and lower-cased when read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    /// Checks and normalizes.
    pub fn parse(s: &str) -> Option<Email> {
        normalize_email(s).map(Email)
    }
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_checked_str(d, "an email address", |s| {
            Email::parse(s).ok_or_else(|| EMAIL_ISSUE.to_string())
        })
    }
}

/// Why a referral code was refused.
pub const REFERRAL_CODE_ISSUE: &str =
    "must be 3 to 32 letters, digits, '-' or '_' (stored upper-case)";

/// Checks and normalizes (upper-cases) a referral code.
pub fn normalize_referral_code(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() < 3
        || s.len() > 32
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some(s.to_ascii_uppercase())
}

/// A referral code (`JOHNDOE10`): 3..=32 of `[A-Za-z0-9_-]`, compared case-insensitively and
/// stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ReferralCode(String);

impl ReferralCode {
    /// Checks and normalizes.
    pub fn parse(s: &str) -> Option<ReferralCode> {
        normalize_referral_code(s).map(ReferralCode)
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ReferralCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_checked_str(d, "a referral code", |s| {
            ReferralCode::parse(s).ok_or_else(|| REFERRAL_CODE_ISSUE.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized() {
        assert_eq!(
            normalize_email(" Jo@Example.com ").as_deref(),
            Some("jo@example.com")
        );
        assert!(normalize_email("nope").is_none());
        assert!(normalize_email("a@b").is_none());
        assert!(normalize_email("a b@c.de").is_none());
    }

    #[test]
    fn codes_are_normalized() {
        assert_eq!(
            normalize_referral_code("john-doe10").as_deref(),
            Some("JOHN-DOE10")
        );
        assert!(normalize_referral_code("ab").is_none());
        assert!(normalize_referral_code("a/b/c").is_none());
    }
}
