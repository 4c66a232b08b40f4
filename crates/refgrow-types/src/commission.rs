//! The commission rule and its math: pure functions, no I/O, exact integer minor units.
//!
//! A program has one [`CommissionRule`] (stored as JSON, edited with `PATCH /v1/program`):
//!
//! ```json
//! {"type": "percentage", "rate": 20,
//!  "recurring": {"months": 12},
//!  "tiers": [{"minConversions": 10, "rate": 25}],
//!  "products": {"prod_enterprise": {"type": "fixed", "amount": 150.00}},
//!  "secondTier": {"rate": 5}}
//! ```
//!
//! How a payment is priced ([`CommissionRule::price`]):
//! 1. **Recurring.** `recurring` absent or `null` pays on the customer's first payment only;
//!    `{"months": null}` pays on every payment (lifetime); `{"months": N}` pays on payments
//!    made before the first payment's date plus N calendar months (12 monthly payments for
//!    `N = 12`). A payment outside the rule earns nothing, not even the second tier.
//! 2. **Per product.** When the payment's product has an entry in `products`, that entry
//!    prices it exactly (tiers do not apply to product overrides).
//! 3. **Tiers.** Otherwise the base rate (or fixed amount) applies, raised by the highest
//!    tier whose `minConversions` the affiliate had already reached *before* this sale.
//! 4. **Percentages** are of the sale, in the sale's currency; **fixed** amounts are in the
//!    program currency. Results round half away from zero to the currency's minor unit.
//! 5. **Second tier.** `secondTier.rate` percent of the sale goes to the referring
//!    affiliate's parent, on the same payments the first tier earns on.
//!
//! Refunds ([`commission_after_refund`]) scale a commission by the share of the sale that is
//! left, always from the original amount and the cumulative refunded total, so a series of
//! partial refunds adds up to exactly the same as one refund of their sum.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::money::{Amount, Currency, Money, MoneyError};

/// The most decimals a percentage rate may have (`12.3456`).
pub const MAX_RATE_DECIMALS: u32 = 4;
/// The most per-product overrides a rule may have.
pub const MAX_PRODUCTS: usize = 200;
/// The most tiers a rule may have.
pub const MAX_TIERS: usize = 20;
/// The longest recurring window, in months (a century).
pub const MAX_RECURRING_MONTHS: u32 = 1200;

/// Whether a rule pays a share of the sale or a fixed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleType {
    /// `rate` percent of the sale.
    Percentage,
    /// `amount` per conversion, in the program currency.
    Fixed,
}

/// Which payments of a customer earn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recurring {
    /// Payments within this many months of the first payment earn; `null` is lifetime.
    #[serde(default)]
    pub months: Option<u32>,
}

/// A tier: from `minConversions` earlier conversions on, this rate (or amount) applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tier {
    /// Earning conversions the affiliate must already have.
    pub min_conversions: u64,
    /// The raised percentage (percentage rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Amount>,
    /// The raised amount (fixed rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
}

/// The rule of one product: a percentage or a fixed amount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductRule {
    /// Percentage or fixed.
    #[serde(rename = "type")]
    pub kind: RuleType,
    /// Percent of the sale (percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Amount>,
    /// Amount per conversion in the program currency (fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
}

/// The parent's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecondTier {
    /// Percent of the sale paid to the referring affiliate's parent.
    pub rate: Amount,
}

/// A program's commission rule. See the module documentation for how it prices a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommissionRule {
    /// Percentage or fixed.
    #[serde(rename = "type")]
    pub kind: RuleType,
    /// Percent of the sale, 0..=100 (percentage rules).
    #[serde(default)]
    pub rate: Option<Amount>,
    /// Amount per conversion in the program currency (fixed rules).
    #[serde(default)]
    pub amount: Option<Amount>,
    /// Which payments earn; `null` is the first payment only.
    #[serde(default)]
    pub recurring: Option<Recurring>,
    /// Raised rates by conversion count, ascending `minConversions`.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Per-product rules by your product id.
    #[serde(default)]
    pub products: BTreeMap<String, ProductRule>,
    /// The parent affiliate's share.
    #[serde(default)]
    pub second_tier: Option<SecondTier>,
}

impl Default for CommissionRule {
    /// 20 % of the first payment.
    fn default() -> Self {
        CommissionRule {
            kind: RuleType::Percentage,
            rate: Some(Amount(Decimal::from(20))),
            amount: None,
            recurring: None,
            tiers: Vec::new(),
            products: BTreeMap::new(),
            second_tier: None,
        }
    }
}

/// Why a rule was refused: the field (a path such as `commission.tiers[1].rate`) and the issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {issue}")]
pub struct RuleError {
    /// The offending field.
    pub field: String,
    /// What is wrong with it.
    pub issue: String,
}

fn rule_err(field: impl Into<String>, issue: impl Into<String>) -> RuleError {
    RuleError {
        field: field.into(),
        issue: issue.into(),
    }
}

fn check_rate(field: &str, rate: Option<Amount>) -> Result<Decimal, RuleError> {
    let rate = rate
        .ok_or_else(|| rule_err(field, "is required for a percentage rule"))?
        .value();
    if rate.is_sign_negative() && !rate.is_zero() || rate > Decimal::ONE_HUNDRED {
        return Err(rule_err(field, "must be a percentage between 0 and 100"));
    }
    if rate.normalize().scale() > MAX_RATE_DECIMALS {
        return Err(rule_err(
            field,
            format!("must have at most {MAX_RATE_DECIMALS} decimal places"),
        ));
    }
    Ok(rate)
}

fn check_amount(
    field: &str,
    amount: Option<Amount>,
    currency: Currency,
) -> Result<Money, RuleError> {
    let amount = amount.ok_or_else(|| rule_err(field, "is required for a fixed rule"))?;
    Money::from_major(amount.value(), currency)
        .map_err(|e: MoneyError| rule_err(field, e.to_string()))
}

fn check_shape(
    path: &str,
    kind: RuleType,
    rate: Option<Amount>,
    amount: Option<Amount>,
    currency: Currency,
) -> Result<(), RuleError> {
    match kind {
        RuleType::Percentage => {
            check_rate(&format!("{path}rate"), rate)?;
            if amount.is_some() {
                return Err(rule_err(format!("{path}amount"), "is only for fixed rules"));
            }
        }
        RuleType::Fixed => {
            check_amount(&format!("{path}amount"), amount, currency)?;
            if rate.is_some() {
                return Err(rule_err(
                    format!("{path}rate"),
                    "is only for percentage rules",
                ));
            }
        }
    }
    Ok(())
}

impl CommissionRule {
    /// Checks the rule against the program currency. Field paths start with `commission.`.
    pub fn validate(&self, currency: Currency) -> Result<(), RuleError> {
        check_shape("commission.", self.kind, self.rate, self.amount, currency)?;
        if let Some(Recurring { months: Some(m) }) = self.recurring {
            if m == 0 || m > MAX_RECURRING_MONTHS {
                return Err(rule_err(
                    "commission.recurring.months",
                    format!("must be between 1 and {MAX_RECURRING_MONTHS}, or null for lifetime"),
                ));
            }
        }
        if self.tiers.len() > MAX_TIERS {
            return Err(rule_err(
                "commission.tiers",
                format!("must have at most {MAX_TIERS} tiers"),
            ));
        }
        let mut last = 0u64;
        for (i, t) in self.tiers.iter().enumerate() {
            let path = format!("commission.tiers[{i}].");
            if t.min_conversions == 0 || t.min_conversions <= last && i > 0 {
                return Err(rule_err(
                    format!("{path}minConversions"),
                    "must be at least 1 and larger than the previous tier's",
                ));
            }
            last = t.min_conversions;
            check_shape(&path, self.kind, t.rate, t.amount, currency)?;
        }
        if self.products.len() > MAX_PRODUCTS {
            return Err(rule_err(
                "commission.products",
                format!("must have at most {MAX_PRODUCTS} products"),
            ));
        }
        for (id, p) in &self.products {
            if id.is_empty() || id.chars().count() > 200 {
                return Err(rule_err(
                    "commission.products",
                    "product ids must be 1 to 200 characters",
                ));
            }
            check_shape(
                &format!("commission.products.{id}."),
                p.kind,
                p.rate,
                p.amount,
                currency,
            )?;
        }
        if let Some(st) = &self.second_tier {
            let second = check_rate("commission.secondTier.rate", Some(st.rate))?;
            let highest = self.highest_rate();
            if highest + second > Decimal::ONE_HUNDRED {
                return Err(rule_err(
                    "commission.secondTier.rate",
                    "together with the highest first-tier rate must not exceed 100",
                ));
            }
        }
        Ok(())
    }

    /// The highest percentage any path of this rule pays (0 for fixed-only rules).
    fn highest_rate(&self) -> Decimal {
        let mut rates: Vec<Decimal> = Vec::new();
        rates.extend(self.rate.map(|r| r.value()));
        rates.extend(self.tiers.iter().filter_map(|t| t.rate.map(|r| r.value())));
        rates.extend(
            self.products
                .values()
                .filter_map(|p| p.rate.map(|r| r.value())),
        );
        rates.into_iter().max().unwrap_or(Decimal::ZERO)
    }

    /// Whether a payment at `paid_at` earns, for a customer whose first payment was at
    /// `first_payment_at` (`None`: this payment is the first).
    pub fn payment_earns(
        &self,
        first_payment_at: Option<DateTime<Utc>>,
        paid_at: DateTime<Utc>,
    ) -> bool {
        let Some(first) = first_payment_at else {
            return true;
        };
        if paid_at <= first {
            return true;
        }
        match self.recurring {
            None => false,
            Some(Recurring { months: None }) => true,
            Some(Recurring { months: Some(m) }) => match first.checked_add_months(Months::new(m)) {
                Some(end) => paid_at < end,
                None => true,
            },
        }
    }

    /// Prices one payment. See the module documentation for the order of the rules.
    pub fn price(&self, sale: &Sale<'_>) -> Pricing {
        let zero = Pricing {
            earns: false,
            affiliate: Money::new(0, sale.amount.currency),
            second_tier: None,
        };
        if !self.payment_earns(sale.first_payment_at, sale.paid_at) {
            return zero;
        }
        let product = sale.product_id.and_then(|id| self.products.get(id));
        let affiliate = match product {
            Some(p) => apply(p.kind, p.rate, p.amount, sale),
            None => {
                let tier = self
                    .tiers
                    .iter()
                    .rev()
                    .find(|t| sale.prior_conversions >= t.min_conversions);
                match tier {
                    Some(t) => apply(self.kind, t.rate, t.amount, sale),
                    None => apply(self.kind, self.rate, self.amount, sale),
                }
            }
        };
        let second_tier = self
            .second_tier
            .as_ref()
            .map(|st| {
                Money::new(
                    percent_of(sale.amount.minor, st.rate.value()),
                    sale.amount.currency,
                )
            })
            .filter(|m| m.minor > 0);
        Pricing {
            earns: true,
            affiliate,
            second_tier,
        }
    }
}

fn apply(kind: RuleType, rate: Option<Amount>, amount: Option<Amount>, sale: &Sale<'_>) -> Money {
    match kind {
        RuleType::Percentage => {
            let rate = rate.map(|r| r.value()).unwrap_or_default();
            Money::new(percent_of(sale.amount.minor, rate), sale.amount.currency)
        }
        RuleType::Fixed => amount
            .and_then(|a| Money::from_major(a.value(), sale.program_currency).ok())
            .unwrap_or(Money::new(0, sale.program_currency)),
    }
}

/// Rounds a decimal half away from zero to a whole number of minor units, or `None` when
/// the result does not fit an `i64`.
pub fn checked_round_minor(d: Decimal) -> Option<i64> {
    d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
}

/// Rounds a decimal half away from zero to a whole number of minor units, saturating at
/// the ends of `i64` (never a silent 0 or a wrap).
pub fn round_minor(d: Decimal) -> i64 {
    checked_round_minor(d).unwrap_or(if d.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// `rate` percent of `minor` minor units, rounded half away from zero, or `None` when the
/// product cannot be represented.
pub fn checked_percent_of(minor: i64, rate: Decimal) -> Option<i64> {
    let p = Decimal::from(minor).checked_mul(rate)?;
    checked_round_minor(p.checked_div(Decimal::ONE_HUNDRED)?)
}

/// `rate` percent of `minor` minor units, rounded half away from zero. Rates are at most
/// 100 and amounts at most [`crate::money::MAX_MINOR`], so the product always fits; an
/// amount beyond that saturates rather than wrapping (see [`checked_percent_of`]).
pub fn percent_of(minor: i64, rate: Decimal) -> i64 {
    checked_percent_of(minor, rate).unwrap_or(if minor < 0 { i64::MIN } else { i64::MAX })
}

/// One payment to price.
#[derive(Debug, Clone)]
pub struct Sale<'a> {
    /// The payment, in its own currency.
    pub amount: Money,
    /// The program currency (fixed amounts are in it).
    pub program_currency: Currency,
    /// The product bought, for per-product rules.
    pub product_id: Option<&'a str>,
    /// Earning conversions the affiliate had before this one (tiers).
    pub prior_conversions: u64,
    /// The customer's first payment, or `None` when this is the first.
    pub first_payment_at: Option<DateTime<Utc>>,
    /// When this payment was made.
    pub paid_at: DateTime<Utc>,
}

/// What a payment earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pricing {
    /// Whether the payment is inside the recurring rule at all.
    pub earns: bool,
    /// The referring affiliate's commission (may be zero).
    pub affiliate: Money,
    /// The parent's commission, when the rule has a second tier and it is above zero.
    pub second_tier: Option<Money>,
}

/// What a commission of `original` minor units on a sale of `sale` is worth once
/// `refunded_total` of the sale has been refunded: scaled by the share left, rounded half
/// away from zero. Never negative, never above `original`; a full refund leaves 0.
pub fn commission_after_refund(original: i64, sale: i64, refunded_total: i64) -> i64 {
    if original <= 0 {
        return original.max(0);
    }
    if sale <= 0 {
        return if refunded_total > 0 { 0 } else { original };
    }
    let refunded = refunded_total.clamp(0, sale);
    let left = sale - refunded;
    // i128 holds the product of any two i64 exactly: no overflow, no panic (a Decimal
    // product of two amounts near `MAX_MINOR` exceeds Decimal's 96 bits and panics).
    scale_minor(original, left, sale).clamp(0, original)
}

/// `minor × num / den`, exact in i128 and rounded half away from zero; `den` must be above
/// zero (0 otherwise). The result is clamped into i64, which it always fits when
/// `num <= den`, the only way the crate uses it (a share of an amount).
pub fn scale_minor(minor: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let p = i128::from(minor) * i128::from(num);
    let d = i128::from(den);
    let (q, r) = (p / d, p % d);
    // Half away from zero: |r| * 2 >= d rounds the magnitude up.
    let q = if r.abs() * 2 >= d { q + p.signum() } else { q };
    i64::try_from(q).unwrap_or(if q > 0 { i64::MAX } else { i64::MIN })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::USD)
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn sale(minor: i64) -> Sale<'static> {
        Sale {
            amount: usd(minor),
            program_currency: Currency::USD,
            product_id: None,
            prior_conversions: 0,
            first_payment_at: None,
            paid_at: at(2026, 1, 15),
        }
    }

    fn rule(json: &str) -> CommissionRule {
        let r: CommissionRule = serde_json::from_str(json).unwrap();
        r.validate(Currency::USD).unwrap();
        r
    }

    #[test]
    fn the_contract_example_parses_and_validates() {
        let r = rule(
            r#"{"type": "percentage", "rate": 20, "recurring": {"months": 12},
                "tiers": [{"minConversions": 10, "rate": 25}, {"minConversions": 50, "rate": 30}],
                "products": {"prod_enterprise": {"type": "fixed", "amount": 150.00}},
                "secondTier": {"rate": 5}}"#,
        );
        assert_eq!(r.recurring, Some(Recurring { months: Some(12) }));
        assert_eq!(r.tiers.len(), 2);
    }

    #[test]
    fn percentage_rounds_half_away_from_zero() {
        let r = rule(r#"{"type": "percentage", "rate": 20}"#);
        assert_eq!(r.price(&sale(9999)).affiliate.minor, 2000); // 19.998
        let r = rule(r#"{"type": "percentage", "rate": 12.5}"#);
        assert_eq!(r.price(&sale(100)).affiliate.minor, 13); // 12.5 -> 13
        assert_eq!(r.price(&sale(4)).affiliate.minor, 1); // 0.5 -> 1
        assert_eq!(r.price(&sale(3)).affiliate.minor, 0); // 0.375 -> 0
    }

    #[test]
    fn currency_exponents_are_respected() {
        let r = rule(r#"{"type": "percentage", "rate": 15}"#);
        let jpy = Currency::parse("JPY").unwrap();
        let mut s = sale(0);
        s.amount = Money::new(1999, jpy); // ¥1,999
        let p = r.price(&s);
        assert_eq!((p.affiliate.minor, p.affiliate.currency), (300, jpy)); // 299.85 -> 300
        let kwd = Currency::parse("KWD").unwrap();
        s.amount = Money::new(12_345, kwd); // 12.345 KWD
        assert_eq!(r.price(&s).affiliate.minor, 1852); // 1.85175 -> 1.852
    }

    #[test]
    fn fixed_is_in_the_program_currency() {
        let r = rule(r#"{"type": "fixed", "amount": "25.00"}"#);
        let mut s = sale(100);
        s.amount = Money::new(5000, Currency::parse("EUR").unwrap());
        let p = r.price(&s);
        assert_eq!(p.affiliate, usd(2500));
    }

    #[test]
    fn recurring_windows() {
        let first = at(2026, 1, 31);
        let once = rule(r#"{"type": "percentage", "rate": 10}"#);
        assert!(once.payment_earns(None, first));
        assert!(!once.payment_earns(Some(first), at(2026, 2, 28)));
        let lifetime = rule(r#"{"type": "percentage", "rate": 10, "recurring": {"months": null}}"#);
        assert!(lifetime.payment_earns(Some(first), at(2040, 1, 1)));
        let twelve = rule(r#"{"type": "percentage", "rate": 10, "recurring": {"months": 12}}"#);
        // Monthly payments: the first and the next eleven earn, the thirteenth does not.
        let earning = (0..13)
            .filter(|i| {
                let paid = first.checked_add_months(Months::new(*i)).unwrap();
                twelve.payment_earns(Some(first), paid)
            })
            .count();
        assert_eq!(earning, 12);
        let mut s = sale(1000);
        s.first_payment_at = Some(first);
        s.paid_at = at(2027, 2, 1);
        let p = twelve.price(&s);
        assert!(!p.earns);
        assert_eq!(p.affiliate.minor, 0);
    }

    #[test]
    fn tiers_count_earlier_conversions() {
        let r = rule(
            r#"{"type": "percentage", "rate": 20,
                "tiers": [{"minConversions": 10, "rate": 25}, {"minConversions": 50, "rate": 30}]}"#,
        );
        let mut s = sale(10_000);
        for (prior, want) in [
            (0, 2000),
            (9, 2000),
            (10, 2500),
            (49, 2500),
            (50, 3000),
            (500, 3000),
        ] {
            s.prior_conversions = prior;
            assert_eq!(r.price(&s).affiliate.minor, want, "prior {prior}");
        }
        let f = rule(
            r#"{"type": "fixed", "amount": 10, "tiers": [{"minConversions": 3, "amount": 15}]}"#,
        );
        s.prior_conversions = 3;
        assert_eq!(f.price(&s).affiliate.minor, 1500);
    }

    #[test]
    fn products_override_and_second_tier_pays_the_parent() {
        let r = rule(
            r#"{"type": "percentage", "rate": 20,
                "tiers": [{"minConversions": 1, "rate": 30}],
                "products": {"ent": {"type": "fixed", "amount": 150}, "lite": {"type": "percentage", "rate": 5}},
                "secondTier": {"rate": 5}}"#,
        );
        let mut s = sale(100_000);
        s.prior_conversions = 5;
        s.product_id = Some("ent");
        let p = r.price(&s);
        assert_eq!(p.affiliate.minor, 15_000);
        assert_eq!(p.second_tier, Some(usd(5000)));
        s.product_id = Some("lite");
        assert_eq!(r.price(&s).affiliate.minor, 5000);
        s.product_id = Some("other");
        assert_eq!(r.price(&s).affiliate.minor, 30_000);
    }

    #[test]
    fn bad_rules_name_the_field() {
        let bad = |json: &str| -> String {
            let r: CommissionRule = serde_json::from_str(json).unwrap();
            r.validate(Currency::USD).unwrap_err().field
        };
        assert_eq!(
            bad(r#"{"type": "percentage", "rate": 101}"#),
            "commission.rate"
        );
        assert_eq!(
            bad(r#"{"type": "percentage", "rate": -1}"#),
            "commission.rate"
        );
        assert_eq!(bad(r#"{"type": "percentage"}"#), "commission.rate");
        assert_eq!(
            bad(r#"{"type": "fixed", "amount": 1.001}"#),
            "commission.amount"
        );
        assert_eq!(
            bad(r#"{"type": "fixed", "rate": 5, "amount": 1}"#),
            "commission.rate"
        );
        assert_eq!(
            bad(r#"{"type": "percentage", "rate": 5, "recurring": {"months": 0}}"#),
            "commission.recurring.months"
        );
        assert_eq!(
            bad(
                r#"{"type": "percentage", "rate": 5, "tiers": [{"minConversions": 5, "rate": 6}, {"minConversions": 5, "rate": 7}]}"#
            ),
            "commission.tiers[1].minConversions"
        );
        assert_eq!(
            bad(r#"{"type": "percentage", "rate": 98, "secondTier": {"rate": 5}}"#),
            "commission.secondTier.rate"
        );
        assert!(serde_json::from_str::<CommissionRule>(r#"{"type": "bogus"}"#).is_err());
        assert!(serde_json::from_str::<CommissionRule>(
            r#"{"type": "fixed", "amount": 1, "x": 1}"#
        )
        .is_err());
    }

    #[test]
    fn huge_amounts_never_panic_or_wrap() {
        use crate::money::MAX_MINOR;
        // A Decimal product of these two overflowed 96 bits and panicked.
        assert_eq!(
            commission_after_refund(MAX_MINOR, MAX_MINOR, MAX_MINOR / 2),
            MAX_MINOR / 2
        );
        assert_eq!(commission_after_refund(i64::MAX, i64::MAX, 1), i64::MAX - 1);
        assert_eq!(scale_minor(5, 1, 2), 3, "half away from zero");
        assert_eq!(scale_minor(-5, 1, 2), -3);
        assert_eq!(scale_minor(7, 1, 0), 0);
        assert_eq!(percent_of(MAX_MINOR, Decimal::ONE_HUNDRED), MAX_MINOR);
        assert_eq!(checked_percent_of(i64::MAX, Decimal::MAX), None);
    }

    #[test]
    fn refunds_scale_from_the_original() {
        assert_eq!(commission_after_refund(2000, 10_000, 0), 2000);
        assert_eq!(commission_after_refund(2000, 10_000, 2500), 1500);
        assert_eq!(commission_after_refund(2000, 10_000, 10_000), 0);
        assert_eq!(commission_after_refund(2000, 10_000, 99_999), 0);
        assert_eq!(commission_after_refund(1, 3, 1), 1); // 0.667 -> 1
        assert_eq!(commission_after_refund(0, 100, 50), 0);
    }

    proptest! {
        #[test]
        fn percentage_never_exceeds_the_sale(minor in 0i64..=crate::money::MAX_MINOR, bp in 0u32..=1_000_000u32) {
            let rate = Decimal::new(i64::from(bp), 4); // 0.0000 ..= 100.0000
            let c = percent_of(minor, rate);
            prop_assert!(c >= 0);
            prop_assert!(c <= minor);
        }

        #[test]
        fn refunds_never_go_negative_or_up(original in 0i64..1_000_000_000, sale in 1i64..1_000_000_000, a in 0i64..1_000_000_000, b in 0i64..1_000_000_000) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let x = commission_after_refund(original, sale, lo);
            let y = commission_after_refund(original, sale, hi);
            prop_assert!(x >= 0 && y >= 0);
            prop_assert!(x <= original);
            prop_assert!(y <= x, "more refunded must not earn more");
            prop_assert_eq!(commission_after_refund(original, sale, sale), 0);
        }

        #[test]
        fn partial_refunds_sum_to_the_whole(original in 0i64..10_000_000, sale in 1i64..10_000_000, cuts in proptest::collection::vec(0u16..=1000, 1..8)) {
            // Split the sale into partial refunds; the reductions they cause add up to
            // exactly the reduction of one refund of their sum, and to the whole commission
            // once the sale is wholly refunded.
            let mut refunded = 0i64;
            let mut current = original;
            let mut reductions = 0i64;
            for cut in &cuts {
                let part = (sale - refunded) * i64::from(*cut) / 1000;
                refunded += part;
                let next = commission_after_refund(original, sale, refunded);
                reductions += current - next;
                current = next;
            }
            prop_assert_eq!(reductions, original - commission_after_refund(original, sale, refunded));
            let last = current - commission_after_refund(original, sale, sale);
            prop_assert_eq!(reductions + last, original);
        }

        #[test]
        fn first_and_second_tier_stay_within_the_sale(minor in 0i64..1_000_000_000, r1 in 0u32..=9000u32, r2 in 0u32..=1000u32) {
            let json = format!(
                r#"{{"type": "percentage", "rate": {}, "secondTier": {{"rate": {}}}}}"#,
                Decimal::new(i64::from(r1), 2), Decimal::new(i64::from(r2), 2)
            );
            let r: CommissionRule = serde_json::from_str(&json).unwrap();
            prop_assert!(r.validate(Currency::USD).is_ok());
            let p = r.price(&sale(minor));
            let second = p.second_tier.map(|m| m.minor).unwrap_or(0);
            prop_assert!(p.affiliate.minor + second <= minor + 1, "rounding adds at most one minor unit");
        }
    }
}
