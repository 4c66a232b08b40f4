//! Programs: creation (CLI), settings, and the commission rule as data.

use refgrow_types::api::{Attribution, Program, UpdateProgram};
use refgrow_types::commission::CommissionRule;
use refgrow_types::money::{Currency, Money};
use refgrow_types::ProgramId;

use crate::clock::ms_to_datetime;
use crate::db::programs::{self, ProgramRow};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::idgen::new_id;
use crate::validate::check_len;

/// Defaults of a new program.
pub const DEFAULT_COOKIE_DAYS: i32 = 60;
/// Default hold period.
pub const DEFAULT_HOLD_DAYS: i32 = 30;
/// Default payout threshold, in major units.
pub const DEFAULT_MIN_PAYOUT_MAJOR: i64 = 50;

/// Creates a program; the name must be unique.
pub fn create(
    c: &mut DbConn,
    name: &str,
    currency: &str,
    now: i64,
) -> Result<ProgramRow, ApiError> {
    check_len("name", name, 1, 200)?;
    let currency =
        Currency::parse(currency).map_err(|e| ApiError::invalid("currency", e.to_string()))?;
    if programs::find_by_id_or_name(c, name)?.is_some() {
        return Err(ApiError::conflict(format!(
            "A program named '{name}' already exists"
        )));
    }
    let min_payout = Money::from_major(
        rust_decimal::Decimal::from(DEFAULT_MIN_PAYOUT_MAJOR),
        currency,
    )
    .map_err(ApiError::internal)?;
    let rule = serde_json::to_string(&CommissionRule::default()).map_err(ApiError::internal)?;
    let row = ProgramRow {
        id: new_id(ProgramId::PREFIX),
        name: name.to_string(),
        currency: currency.code().to_string(),
        website_url: None,
        cookie_days: DEFAULT_COOKIE_DAYS,
        attribution: Attribution::FirstClick.as_str().to_string(),
        hold_days: DEFAULT_HOLD_DAYS,
        min_payout_minor: min_payout.minor,
        auto_approve_affiliates: true,
        commission_rule: rule,
        stripe_webhook_secret: None,
        created_at: now,
        updated_at: now,
        ignore_unattributed: false,
    };
    programs::insert(c, &row)?;
    Ok(row)
}

/// The program of the caller's key.
pub fn load(c: &mut DbConn, program_id: &str) -> Result<ProgramRow, ApiError> {
    if matches!(c, DbConn::Sqlite(_)) {
        if let Some(row) = cache::get(program_id) {
            return Ok(row);
        }
    }
    let row = programs::find(c, program_id)?.ok_or_else(|| ApiError::not_found("program"))?;
    if matches!(c, DbConn::Sqlite(_)) {
        cache::put(&row);
    }
    Ok(row)
}

pub use crate::db::programs::cache;

/// The program's currency.
pub fn currency(row: &ProgramRow) -> Currency {
    Currency::parse(&row.currency).unwrap_or(Currency::USD)
}

/// The program's commission rule.
pub fn rule(row: &ProgramRow) -> Result<CommissionRule, ApiError> {
    serde_json::from_str(&row.commission_rule)
        .map_err(|e| ApiError::internal(format!("stored commission rule unreadable: {e}")))
}

/// The program's attribution model.
pub fn attribution(row: &ProgramRow) -> Attribution {
    if row.attribution == "last_click" {
        Attribution::LastClick
    } else {
        Attribution::FirstClick
    }
}

/// Masks a secret to its prefix and last four characters.
pub fn mask_secret(s: &str) -> String {
    let tail: String = s
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("whsec_…{tail}")
}

/// The API view of a program (`sealer` opens the stored Stripe secret to mask it).
pub fn to_dto(row: &ProgramRow, sealer: &crate::secrets::Sealer) -> Result<Program, ApiError> {
    let currency = currency(row);
    Ok(Program {
        id: ProgramId::from_trusted(row.id.clone()),
        name: row.name.clone(),
        currency,
        website_url: row.website_url.clone(),
        cookie_days: row.cookie_days.max(0) as u32,
        attribution: attribution(row),
        hold_days: row.hold_days.max(0) as u32,
        min_payout: Money::new(row.min_payout_minor, currency).amount(),
        auto_approve_affiliates: row.auto_approve_affiliates,
        ignore_unattributed: row.ignore_unattributed,
        commission: rule(row)?,
        stripe_webhook_secret: row.stripe_webhook_secret.as_deref().map(|stored| {
            match sealer.open(stored) {
                Ok(plain) => mask_secret(&plain),
                Err(_) => "whsec_… (encrypted under another REFGROW_SECRET_KEY)".to_string(),
            }
        }),
        // Filled by the program routes from `embed_settings` (see `services::embed`).
        embed_origins: Vec::new(),
        created_at: ms_to_datetime(row.created_at),
        updated_at: ms_to_datetime(row.updated_at),
    })
}

/// Checks a website URL: absolute http(s) with a host.
pub fn check_website(field: &str, s: &str) -> Result<String, ApiError> {
    let url = url::Url::parse(s.trim())
        .map_err(|_| ApiError::invalid(field, "must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::invalid(
            field,
            "must be an absolute http or https URL",
        ));
    }
    if s.len() > 2000 {
        return Err(ApiError::invalid(field, "must be at most 2000 characters"));
    }
    Ok(url.to_string())
}

/// Applies a patch; validates everything before changing anything.
pub fn update(
    c: &mut DbConn,
    sealer: &crate::secrets::Sealer,
    program_id: &str,
    patch: UpdateProgram,
    now: i64,
) -> Result<ProgramRow, ApiError> {
    let mut row = load(c, program_id)?;
    let old_currency = currency(&row);
    if let Some(name) = &patch.name {
        check_len("name", name, 1, 200)?;
        if let Some(other) = programs::find_by_id_or_name(c, name)? {
            if other.id != row.id {
                return Err(
                    ApiError::conflict(format!("A program named '{name}' already exists"))
                        .with_details(serde_json::json!({"field": "name"})),
                );
            }
        }
        row.name = name.clone();
    }
    let new_currency = patch.currency.unwrap_or(old_currency);
    row.currency = new_currency.code().to_string();
    if let Some(url) = &patch.website_url {
        row.website_url = match url {
            Some(u) => Some(check_website("websiteUrl", u)?),
            None => None,
        };
    }
    if let Some(days) = patch.cookie_days {
        if !(1..=730).contains(&days) {
            return Err(ApiError::invalid("cookieDays", "must be between 1 and 730"));
        }
        row.cookie_days = days as i32;
    }
    if let Some(a) = patch.attribution {
        row.attribution = a.as_str().to_string();
    }
    if let Some(days) = patch.hold_days {
        if days > 365 {
            return Err(ApiError::invalid("holdDays", "must be between 0 and 365"));
        }
        row.hold_days = days as i32;
    }
    match patch.min_payout {
        Some(amount) => {
            row.min_payout_minor = Money::from_major(amount.value(), new_currency)
                .map_err(|e| ApiError::invalid("minPayout", e.to_string()))?
                .minor;
        }
        None if new_currency != old_currency => {
            let major = Money::new(row.min_payout_minor, old_currency).to_major();
            row.min_payout_minor = Money::from_major(major, new_currency)
                .map_err(|e| {
                    ApiError::invalid(
                        "minPayout",
                        format!("{e}; send a new minPayout with the currency"),
                    )
                })?
                .minor;
        }
        None => {}
    }
    if let Some(v) = patch.auto_approve_affiliates {
        row.auto_approve_affiliates = v;
    }
    if let Some(v) = patch.ignore_unattributed {
        row.ignore_unattributed = v;
    }
    let rule = patch.commission.unwrap_or(rule(&row)?);
    rule.validate(new_currency)
        .map_err(|e| ApiError::invalid(e.field.clone(), e.issue.clone()))?;
    row.commission_rule = serde_json::to_string(&rule).map_err(ApiError::internal)?;
    if let Some(secret) = patch.stripe_webhook_secret {
        row.stripe_webhook_secret = match secret {
            Some(s) => {
                let s = s.trim().to_string();
                if !s.starts_with("whsec_")
                    || s.len() < 10
                    || s.len() > 200
                    || s.chars().any(char::is_whitespace)
                {
                    return Err(ApiError::invalid(
                        "stripeWebhookSecret",
                        "must be the endpoint's signing secret from Stripe, beginning with 'whsec_'",
                    ));
                }
                // Stored encrypted (see `crate::secrets`).
                Some(sealer.seal(&s))
            }
            None => None,
        };
    }
    row.updated_at = now;
    cache::clear();
    programs::update(c, &row)?;
    Ok(row)
}
