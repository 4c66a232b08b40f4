//! Payouts: the payout run that groups what each affiliate is owed, marking a payout paid,
//! and the mass-payment files (PayPal, Wise) to pay them with.
//!
//! A payout run takes, per active affiliate and currency, every approved commission that is
//! not held by a dispute and in no payout yet, together with the open adjustments (negative
//! clawbacks of money already paid). When their net sum reaches the program's threshold, one
//! payout is created and the commissions are taken into it by compare-and-set (`UPDATE …
//! WHERE payout_id IS NULL AND status = 'approved'`, rows affected checked), all in the run's
//! transaction: a commission is never in two payouts, whatever runs concurrently. Taken
//! commissions cannot be moved by other calls until the payout is paid.

use std::collections::BTreeMap;

use diesel::Connection;
use refgrow_types::api::{Payout, PayoutExportFormat, PayoutResponse, PayoutStatus};
use refgrow_types::money::{Currency, Money};
use refgrow_types::{AffiliateId, CommissionId, PayoutId};

use crate::clock::{ms_to_datetime, opt_ms};
use crate::db::payouts::{self as store, PayoutRow, Recipient};
use crate::db::programs::ProgramRow;
use crate::db::rollups::{self, day_of, Delta};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::idgen::new_id;
use crate::services::{events, program};

/// The most payouts one export file holds.
pub const MAX_EXPORT_ROWS: i64 = 10_000;

/// The API view of a payout.
pub fn to_dto(row: &PayoutRow) -> Payout {
    let currency = Currency::parse(&row.currency).unwrap_or(Currency::USD);
    Payout {
        id: PayoutId::from_trusted(row.id.clone()),
        affiliate_id: AffiliateId::from_trusted(row.affiliate_id.clone()),
        amount: Money::new(row.amount_minor, currency).amount(),
        currency,
        status: PayoutStatus::parse(&row.status).unwrap_or(PayoutStatus::Pending),
        commission_count: row.commission_count,
        reference: row.reference.clone(),
        created_at: ms_to_datetime(row.created_at),
        updated_at: ms_to_datetime(row.updated_at),
        paid_at: opt_ms(row.paid_at),
    }
}

/// A payout with its commission ids.
fn response(row: &PayoutRow, ids: Vec<String>) -> PayoutResponse {
    PayoutResponse {
        payout: to_dto(row),
        commission_ids: ids.into_iter().map(CommissionId::from_trusted).collect(),
    }
}

/// The threshold of a currency in its minor units. In the program currency it is
/// `minPayout`; in any other currency it is the same number of major units (a `minPayout`
/// of 50.00 USD means 50 JPY and 50.000 KWD), rounded up to the currency's minor unit.
/// There are no exchange rates here on purpose: set `minPayout` with that in mind.
pub fn threshold_minor(prog: &ProgramRow, currency: Currency) -> i64 {
    let home = program::currency(prog);
    let minor = prog.min_payout_minor.max(0);
    let (from, to) = (home.exponent(), currency.exponent());
    if to >= from {
        minor.saturating_mul(10i64.pow(to - from))
    } else {
        let div = 10i64.pow(from - to);
        minor / div + i64::from(minor % div != 0)
    }
}

/// Why one payout of a run was not created.
enum GroupError {
    /// Another run took some of its commissions first.
    Taken,
    /// Anything else.
    Api(ApiError),
}

impl From<diesel::result::Error> for GroupError {
    fn from(e: diesel::result::Error) -> Self {
        GroupError::Api(e.into())
    }
}

impl From<ApiError> for GroupError {
    fn from(e: ApiError) -> Self {
        GroupError::Api(e)
    }
}

/// On PostgreSQL, runs of one program wait for each other (a transaction-scoped advisory
/// lock): the second sees what the first took instead of racing it row by row. The
/// compare-and-set in [`store::assign`] is what guarantees correctness; this only spares
/// the losing run wasted work and lock waits. SQLite has a single writer already.
fn lock_program_runs(c: &mut DbConn, program_id: &str) -> Result<(), ApiError> {
    if let DbConn::Pg(pg) = c {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT pg_advisory_xact_lock(727102, hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(program_id)
            .execute(pg)?;
    }
    Ok(())
}

/// `POST /payouts`: creates the payouts that are due, in the caller's transaction.
pub fn run(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: Option<&str>,
    now: i64,
) -> Result<Vec<PayoutRow>, ApiError> {
    lock_program_runs(c, program_id)?;
    let prog = program::load(c, program_id)?;
    if let Some(a) = affiliate_id {
        crate::services::affiliates::load(c, &prog.id, a)
            .map_err(|_| ApiError::invalid("affiliateId", "no such affiliate in this program"))?;
    }
    let mut payable = store::payable(c, &prog.id, affiliate_id)?;
    if matches!(c, DbConn::Pg(_)) {
        // Lock what was seen, then read it again: a refund may have cut an amount between
        // the two reads, and the payout's total must be that of the rows it takes (locked
        // now, so they stay as read until this commits). Rows that became payable in
        // between are left for the next run.
        let seen: std::collections::HashSet<String> = payable.iter().map(|p| p.0.clone()).collect();
        store::lock_in_order(c, payable.iter().map(|p| (p.4, p.0.clone())).collect())?;
        payable = store::payable(c, &prog.id, affiliate_id)?;
        payable.retain(|p| seen.contains(&p.0));
    }
    let mut groups: BTreeMap<(String, String), (Vec<String>, i64)> = BTreeMap::new();
    for (id, aff, currency, amount, _) in payable {
        let g = groups.entry((aff, currency)).or_default();
        g.0.push(id);
        g.1 = g.1.checked_add(amount).ok_or_else(|| {
            ApiError::invalid("amount", "the payout's total cannot be represented")
        })?;
    }
    let mut created = Vec::new();
    for ((aff, currency), (ids, sum)) in groups {
        let Ok(cur) = Currency::parse(&currency) else {
            continue;
        };
        if sum <= 0 || sum < threshold_minor(&prog, cur) {
            continue;
        }
        let row = PayoutRow {
            id: new_id(PayoutId::PREFIX),
            program_id: prog.id.clone(),
            affiliate_id: aff,
            currency: cur.code().to_string(),
            amount_minor: sum,
            commission_count: ids.len() as i64,
            status: PayoutStatus::Pending.as_str().to_string(),
            reference: None,
            created_at: now,
            updated_at: now,
            paid_at: None,
        };
        // A savepoint per payout: if another run took any of these commissions, this
        // payout is dropped whole and the rest of the run goes on.
        let outcome = c.transaction(|c| -> Result<(), GroupError> {
            store::insert(c, &row)?;
            if store::assign(c, &row.id, &ids, now)? != ids.len() {
                return Err(GroupError::Taken);
            }
            events::record(
                c,
                &prog.id,
                "payout.created",
                &response(&row, ids.clone()),
                now,
            )?;
            Ok(())
        });
        match outcome {
            Ok(()) => created.push(row),
            Err(GroupError::Taken) => {
                log::info!(
                    "payout run: commissions of {} ({}) were taken by another run",
                    row.affiliate_id,
                    row.currency
                );
            }
            Err(GroupError::Api(e)) => return Err(e),
        }
    }
    Ok(created)
}

/// A payout of the program with its commission ids, or 404.
pub fn load(c: &mut DbConn, program_id: &str, id: &str) -> Result<PayoutResponse, ApiError> {
    let row = store::find(c, program_id, id)?.ok_or_else(|| ApiError::not_found("payout"))?;
    let ids = store::commissions_of(c, &row.id)?
        .into_iter()
        .map(|h| h.0)
        .collect();
    Ok(response(&row, ids))
}

/// `POST /payouts/{id}/paid`: marks a pending payout and its commissions paid, moves their
/// money from approved to paid in the rollups (under each commission's own day) and records
/// `payout.paid`. A payout already paid is a `conflict`.
pub fn mark_paid(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
    reference: Option<&str>,
    now: i64,
) -> Result<PayoutResponse, ApiError> {
    let mut row = store::find(c, program_id, id)?.ok_or_else(|| ApiError::not_found("payout"))?;
    if !store::mark_paid(c, &row.id, reference, now)? {
        return Err(ApiError::conflict("This payout is already paid")
            .with_details(serde_json::json!({"field": "status", "issue": "already paid"})));
    }
    row.status = PayoutStatus::Paid.as_str().to_string();
    row.paid_at = Some(now);
    row.updated_at = now;
    row.reference = reference.map(str::to_string);
    let held = store::commissions_of(c, &row.id)?;
    store::pay_commissions(c, &row.id, now)?;
    let mut moves: BTreeMap<(String, i64, String), i64> = BTreeMap::new();
    for (_, aff, currency, amount, created_at, status) in &held {
        if status == "approved" {
            let m = moves
                .entry((aff.clone(), day_of(*created_at), currency.clone()))
                .or_default();
            *m = m.saturating_add(*amount);
        }
    }
    for ((aff, day, currency), amount) in moves {
        rollups::add(
            c,
            program_id,
            &aff,
            day * crate::clock::DAY_MS,
            &currency,
            Delta::status("approved", -amount).plus(Delta::status("paid", amount)),
        )?;
    }
    let answer = response(&row, held.into_iter().map(|h| h.0).collect());
    events::record(c, program_id, "payout.paid", &answer, now)?;
    Ok(answer)
}

/// Whether a string looks like an email address: one `@`, a dot in the domain, no spaces.
fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        _ => false,
    }
}

/// The address to pay: the affiliate's `paymentDetails` when the method is PayPal or Wise
/// and the details are an email address, else the affiliate's own email.
pub fn recipient_email(r: &Recipient) -> String {
    let (_, email, _, method, details) = r;
    let method = method.as_deref().map(|m| m.trim().to_ascii_lowercase());
    if let (Some("paypal" | "wise"), Some(d)) = (method.as_deref(), details.as_deref()) {
        if looks_like_email(d) {
            return d.trim().to_string();
        }
    }
    email.clone()
}

/// Neutralizes a spreadsheet formula in free text (OWASP's advice for CSV files that may be
/// opened in a spreadsheet): a leading `=`, `+`, `-`, `@`, tab or CR gets a `'` in front.
fn no_formula(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// Writes payouts as a mass-payment file. PayPal: `email,amount,currency,reference,note`
/// per line and no header (PayPal's mass payment upload). Wise: the "send by email" batch
/// template with its header row.
pub fn export_csv(
    c: &mut DbConn,
    program_id: &str,
    rows: &[PayoutRow],
    format: PayoutExportFormat,
) -> Result<String, ApiError> {
    let prog = program::load(c, program_id)?;
    let mut ids: Vec<String> = rows.iter().map(|r| r.affiliate_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let recipients: BTreeMap<String, Recipient> = store::recipients(c, &prog.id, &ids)?
        .into_iter()
        .map(|r| (r.0.clone(), r))
        .collect();
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let csv_err = |e: csv::Error| ApiError::internal(format!("writing CSV: {e}"));
    if format == PayoutExportFormat::Wise {
        w.write_record([
            "name",
            "recipientEmail",
            "paymentReference",
            "receiverType",
            "amountCurrency",
            "amount",
            "sourceCurrency",
            "targetCurrency",
        ])
        .map_err(csv_err)?;
    }
    for row in rows {
        let Some(r) = recipients.get(&row.affiliate_id) else {
            continue;
        };
        let currency = Currency::parse(&row.currency).unwrap_or(Currency::USD);
        let amount = Money::new(row.amount_minor, currency)
            .to_major()
            .to_string();
        let email = recipient_email(r);
        match format {
            PayoutExportFormat::Paypal => {
                let note = no_formula(&format!("{} affiliate payout", prog.name));
                w.write_record([
                    email.as_str(),
                    amount.as_str(),
                    currency.code(),
                    row.id.as_str(),
                    note.as_str(),
                ])
                .map_err(csv_err)?;
            }
            PayoutExportFormat::Wise => {
                let name = no_formula(&r.2);
                w.write_record([
                    name.as_str(),
                    email.as_str(),
                    row.id.as_str(),
                    "PERSON",
                    "target",
                    amount.as_str(),
                    currency.code(),
                    currency.code(),
                ])
                .map_err(csv_err)?;
            }
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ApiError::internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(currency: &str, min: i64) -> ProgramRow {
        ProgramRow {
            id: "prog_x".into(),
            name: "X".into(),
            currency: currency.into(),
            website_url: None,
            cookie_days: 60,
            attribution: "first_click".into(),
            hold_days: 30,
            min_payout_minor: min,
            auto_approve_affiliates: true,
            commission_rule: "{}".into(),
            stripe_webhook_secret: None,
            created_at: 0,
            updated_at: 0,
            ignore_unattributed: false,
        }
    }

    #[test]
    fn thresholds_keep_the_number_across_currencies() {
        let cur = |s: &str| Currency::parse(s).unwrap();
        let p = prog("USD", 5000);
        assert_eq!(threshold_minor(&p, cur("USD")), 5000);
        assert_eq!(threshold_minor(&p, cur("EUR")), 5000);
        assert_eq!(threshold_minor(&p, cur("JPY")), 50);
        assert_eq!(threshold_minor(&p, cur("KWD")), 50_000);
        let p = prog("USD", 5001);
        assert_eq!(threshold_minor(&p, cur("JPY")), 51, "rounded up");
    }

    #[test]
    fn emails_and_formulas() {
        assert!(looks_like_email("a@b.co"));
        assert!(!looks_like_email("a@b"));
        assert!(!looks_like_email("IBAN DE89 3704"));
        assert!(!looks_like_email("a@@b.co"));
        let r = |m: Option<&str>, d: Option<&str>| -> Recipient {
            (
                "aff_1".into(),
                "own@x.io".into(),
                "N".into(),
                m.map(Into::into),
                d.map(Into::into),
            )
        };
        assert_eq!(
            recipient_email(&r(Some("PayPal"), Some("pp@x.io"))),
            "pp@x.io"
        );
        assert_eq!(
            recipient_email(&r(Some("bank"), Some("pp@x.io"))),
            "own@x.io"
        );
        assert_eq!(
            recipient_email(&r(Some("wise"), Some("DE89 3704"))),
            "own@x.io"
        );
        assert_eq!(no_formula("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(no_formula("Ann"), "Ann");
    }
}
