//! Money: currencies with their ISO 4217 exponent, exact decimal amounts on the wire and
//! integer minor units in storage and in the math.
//!
//! Nothing here ever goes through a float. JSON numbers are read from their exact text
//! (serde_json's `arbitrary_precision`), strings holding a decimal are accepted too, and
//! amounts are written back as JSON numbers with exactly the currency's number of decimals.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount accepted, in minor units (10^15: ten trillion dollars, a billion
/// dinars). Anything above is an input mistake, and it keeps every sum far from `i64::MAX`.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Why an amount or a currency was refused. The text is meant for an API caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a three-letter ISO 4217 code.
    #[error("must be a three-letter ISO 4217 currency code such as USD")]
    BadCurrency,
    /// Not a decimal number.
    #[error("must be a decimal number such as 99.99")]
    NotANumber,
    /// Below zero.
    #[error("must not be negative")]
    Negative,
    /// More decimals than the currency has.
    #[error("has more decimal places than {currency} allows ({exponent})")]
    TooPrecise {
        /// The currency code.
        currency: String,
        /// The currency's exponent.
        exponent: u32,
    },
    /// Absurdly large.
    #[error("is too large")]
    TooLarge,
}

/// An ISO 4217 currency code, upper case, with its exponent (minor unit digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars, the default program currency.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a code case-insensitively (`usd` and `USD` are the same). Only codes of the
    /// ISO 4217 table (the maintained `iso_currency` crate) with a minor unit are accepted:
    /// `ABC` is refused, and so are units such as gold (`XAU`) that have no exponent.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::BadCurrency);
        }
        let upper = [
            bytes[0].to_ascii_uppercase(),
            bytes[1].to_ascii_uppercase(),
            bytes[2].to_ascii_uppercase(),
        ];
        let text = std::str::from_utf8(&upper).map_err(|_| MoneyError::BadCurrency)?;
        match iso_currency::Currency::from_code(text).and_then(|c| c.exponent()) {
            Some(e) if e <= 4 => Ok(Currency(upper)),
            _ => Err(MoneyError::BadCurrency),
        }
    }

    /// The upper-case code.
    pub fn code(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point as ISO 4217 gives them: USD 2, JPY 0, KWD 3, ISK 0.
    pub fn exponent(&self) -> u32 {
        iso_currency::Currency::from_code(self.code())
            .and_then(|c| c.exponent())
            .map(u32::from)
            .unwrap_or(2)
    }

    /// How many decimals Stripe's integer amounts of this currency carry, when that differs
    /// from ISO 4217: Stripe sends ISK and UGX in hundredths although ISO gives them no minor
    /// unit ("special cases" of Stripe's currency documentation). Everything else, HUF and
    /// TWD included (two decimals in both; only their payouts must be whole units), is sent in
    /// ISO minor units.
    pub fn stripe_exponent(&self) -> u32 {
        match self.code() {
            "ISK" | "UGX" => 2,
            _ => self.exponent(),
        }
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A decimal amount in major units as it crosses the wire (`99.99`).
///
/// Deserializes from a JSON number (read from its exact text) or a string holding a decimal;
/// serializes as a JSON number with its own scale, so `20.00` stays `20.00`. It is not yet
/// checked against a currency: [`Money::from_major`] does that.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub Decimal);

impl Amount {
    /// The decimal value.
    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<Decimal> for Amount {
    fn from(d: Decimal) -> Self {
        Amount(d)
    }
}

impl FromStr for Amount {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_decimal(s).map(Amount)
    }
}

/// Parses decimal text exactly: plain (`99.99`) or scientific (`1e2`); nothing else.
pub fn parse_decimal(text: &str) -> Result<Decimal, MoneyError> {
    let t = text.trim();
    if t.is_empty() || t.len() > 64 {
        return Err(MoneyError::NotANumber);
    }
    if t.contains(['e', 'E']) {
        return Decimal::from_scientific(t).map_err(|_| MoneyError::NotANumber);
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        return Err(MoneyError::NotANumber);
    }
    Decimal::from_str_exact(t).map_err(|e| match e {
        rust_decimal::Error::ExceedsMaximumPossibleValue
        | rust_decimal::Error::LessThanMinimumPossibleValue => MoneyError::TooLarge,
        _ => MoneyError::NotANumber,
    })
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // serde_json's arbitrary_precision keeps the exact digits of a Number.
        match serde_json::Number::from_str(&self.0.to_string()) {
            Ok(n) => n.serialize(s),
            Err(_) => s.serialize_str(&self.0.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let text = match &v {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => return Err(serde::de::Error::custom(MoneyError::NotANumber)),
        };
        parse_decimal(&text)
            .map(Amount)
            .map_err(serde::de::Error::custom)
    }
}

/// An exact amount of one currency in integer minor units (cents, yen, fils).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    /// Minor units; may be negative for adjustments.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Builds from minor units.
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Checks a caller's major-unit amount against the currency: not negative, no more
    /// decimals than the exponent, not absurdly large.
    pub fn from_major(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative);
        }
        let exponent = currency.exponent();
        let normalized = amount.normalize();
        if normalized.scale() > exponent {
            return Err(MoneyError::TooPrecise {
                currency: currency.code().to_string(),
                exponent,
            });
        }
        let scaled = normalized
            .checked_mul(Decimal::from(10i64.pow(exponent)))
            .ok_or(MoneyError::TooLarge)?;
        let minor: i64 = scaled
            .trunc()
            .to_string()
            .parse()
            .map_err(|_| MoneyError::TooLarge)?;
        if minor > MAX_MINOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money { minor, currency })
    }

    /// The amount in major units with exactly the currency's number of decimals.
    pub fn to_major(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// The wire form of [`Money::to_major`].
    pub fn amount(&self) -> Amount {
        Amount(self.to_major())
    }
}

/// Major units of `minor` in `currency`, with the currency's scale: `minor_to_amount(2000, USD)`
/// is `20.00`.
pub fn minor_to_amount(minor: i64, currency: Currency) -> Amount {
    Money::new(minor, currency).amount()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::USD
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::parse("usd").map(|c| c.exponent()), Ok(2));
        assert_eq!(Currency::parse("JPY").map(|c| c.exponent()), Ok(0));
        assert_eq!(Currency::parse("KWD").map(|c| c.exponent()), Ok(3));
        assert_eq!(Currency::parse("US"), Err(MoneyError::BadCurrency));
        assert_eq!(Currency::parse("U5D"), Err(MoneyError::BadCurrency));
        // ISO 4217, not any three letters.
        assert_eq!(Currency::parse("ABC"), Err(MoneyError::BadCurrency));
        assert_eq!(Currency::parse("XAU"), Err(MoneyError::BadCurrency));
        assert_eq!(Currency::parse("ISK").map(|c| c.exponent()), Ok(0));
        assert_eq!(Currency::parse("ISK").map(|c| c.stripe_exponent()), Ok(2));
        assert_eq!(Currency::parse("HUF").map(|c| c.stripe_exponent()), Ok(2));
        assert_eq!(Currency::parse("BHD").map(|c| c.exponent()), Ok(3));
    }

    #[test]
    fn major_to_minor_is_exact() {
        let m = Money::from_major(parse_decimal("99.99").unwrap(), usd()).unwrap();
        assert_eq!(m.minor, 9999);
        assert_eq!(m.to_major().to_string(), "99.99");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            Money::from_major(parse_decimal("1500").unwrap(), jpy)
                .unwrap()
                .minor,
            1500
        );
        assert!(matches!(
            Money::from_major(parse_decimal("1500.5").unwrap(), jpy),
            Err(MoneyError::TooPrecise { .. })
        ));
        // Trailing zeros beyond the exponent are not extra precision.
        assert_eq!(
            Money::from_major(parse_decimal("10.500").unwrap(), usd())
                .unwrap()
                .minor,
            1050
        );
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(
            Money::from_major(parse_decimal("1.234").unwrap(), kwd)
                .unwrap()
                .minor,
            1234
        );
        assert_eq!(minor_to_amount(1234, kwd).to_string(), "1.234");
        assert_eq!(minor_to_amount(2000, usd()).to_string(), "20.00");
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(
            Money::from_major(parse_decimal("-1").unwrap(), usd()),
            Err(MoneyError::Negative)
        );
        assert_eq!(
            Money::from_major(parse_decimal("1e20").unwrap(), usd()),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(parse_decimal("NaN"), Err(MoneyError::NotANumber));
        assert_eq!(parse_decimal("1,5"), Err(MoneyError::NotANumber));
        assert!(parse_decimal("99999999999999999999999999999999999").is_err());
    }

    #[test]
    fn amount_json_round_trip_is_exact() {
        let a: Amount = serde_json::from_str("0.1").unwrap();
        assert_eq!(a.to_string(), "0.1");
        let b: Amount = serde_json::from_str("\"12.30\"").unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), "12.30");
        assert_eq!(
            serde_json::to_string(&minor_to_amount(2000, usd())).unwrap(),
            "20.00"
        );
        assert!(serde_json::from_str::<Amount>("true").is_err());
    }
}
