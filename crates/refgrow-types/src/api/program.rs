//! `GET/PATCH /v1/program`: a program's settings and its commission rule.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::double_option;
use crate::commission::CommissionRule;
use crate::ids::ProgramId;
use crate::money::{Amount, Currency};

/// Which click wins when a visitor clicked several affiliates' links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The first click inside the window keeps the customer.
    #[default]
    FirstClick,
    /// The latest click inside the window takes the customer.
    LastClick,
}

impl Attribution {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::FirstClick => "first_click",
            Attribution::LastClick => "last_click",
        }
    }
}

/// A program as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Program {
    /// `prog_…`.
    pub id: ProgramId,
    /// Display name.
    pub name: String,
    /// The program's currency (payout thresholds and fixed commissions are in it).
    pub currency: Currency,
    /// Where referral links land; the only host `/r/{code}` redirects to.
    pub website_url: Option<String>,
    /// The attribution window in days.
    pub cookie_days: u32,
    /// First or last click wins.
    pub attribution: Attribution,
    /// Days a commission stays pending before it is approved automatically.
    pub hold_days: u32,
    /// The smallest payout, in the program currency.
    pub min_payout: Amount,
    /// Whether new affiliates start `active` (else `pending`).
    pub auto_approve_affiliates: bool,
    /// Whether signups that name no referral (or an unknown one) are acknowledged without
    /// being stored, as Partnero does (default false: they are stored, unattributed).
    #[serde(default)]
    pub ignore_unattributed: bool,
    /// The commission rule.
    pub commission: CommissionRule,
    /// The Stripe signing secret, masked (`whsec_…abcd`), or null when unset.
    pub stripe_webhook_secret: Option<String>,
    /// Origins allowed to frame the embedded referral dashboard (`https://app.example.com`).
    #[serde(default)]
    pub embed_origins: Vec<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// `{"program": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgramResponse {
    /// The program.
    pub program: Program,
}

/// `PATCH /v1/program`: every field optional; `null` clears the nullable ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProgram {
    /// New name (1..=200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// New website (http or https URL), or null.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub website_url: Option<Option<String>>,
    /// Attribution window, 1..=730 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_days: Option<u32>,
    /// First or last click.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
    /// Hold period, 0..=365 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_days: Option<u32>,
    /// Payout threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_payout: Option<Amount>,
    /// Whether new affiliates start active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approve_affiliates: Option<bool>,
    /// Whether signups without a referral are acknowledged without being stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_unattributed: Option<bool>,
    /// The commission rule, replaced whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission: Option<CommissionRule>,
    /// Stripe's endpoint signing secret (`whsec_…`), or null to remove it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub stripe_webhook_secret: Option<Option<String>>,
    /// Origins allowed to frame the embedded dashboard, replaced whole (at most 20 of
    /// `scheme://host[:port]`; `[]` allows none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_origins: Option<Vec<String>>,
}
