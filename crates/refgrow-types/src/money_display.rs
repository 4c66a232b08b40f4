//! Amounts written for people: `$1,250.75`, `€99.99`, `¥1,500`, `CHF 20.00`.
//!
//! Exact like the rest of the money code: the digits come from the integer minor units, never
//! from a float. Only display: nothing parses these strings back.

use crate::money::Money;

/// The symbol written before the amount, for the currencies whose symbol is unambiguous;
/// others are written with their code and a space.
fn prefix(code: &str) -> String {
    match code {
        "USD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "JPY" => "¥".into(),
        "INR" => "₹".into(),
        other => format!("{other} "),
    }
}

/// Groups the digits of a non-negative integer by thousands with commas.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `money` written for people, with its currency's number of decimals.
pub fn formatted(money: &Money) -> String {
    let exponent = money.currency.exponent() as usize;
    let negative = money.minor < 0;
    let abs = money.minor.unsigned_abs().to_string();
    let padded = format!("{abs:0>width$}", width = exponent + 1);
    let (int, frac) = padded.split_at(padded.len() - exponent);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&prefix(money.currency.code()));
    out.push_str(&group(int));
    if exponent > 0 {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::money::Currency;

    fn f(minor: i64, code: &str) -> String {
        formatted(&Money::new(minor, Currency::parse(code).unwrap()))
    }

    #[test]
    fn amounts_are_grouped_with_their_currency() {
        assert_eq!(f(125075, "USD"), "$1,250.75");
        assert_eq!(f(5, "USD"), "$0.05");
        assert_eq!(f(0, "EUR"), "€0.00");
        assert_eq!(f(1500, "JPY"), "¥1,500");
        assert_eq!(f(123456789, "CHF"), "CHF 1,234,567.89");
        assert_eq!(f(-2000, "GBP"), "-£20.00");
        assert_eq!(f(1, "KWD"), "KWD 0.001");
    }
}
