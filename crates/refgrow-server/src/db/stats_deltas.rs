//! The `stats_deltas` table: append-only changes to the rollups (`daily_stats`) and to the
//! affiliates' conversion counters, written by sales instead of updating shared rows.
//!
//! Every sale of a program used to update the affiliate's row (its counter), the affiliate's
//! rollup row of the day and the program's `*` rollup row of the day, each locked from the
//! update to the commit: on PostgreSQL all sales of a program queued on those rows, one
//! commit (one WAL flush) at a time, and two replicas queued on each other. A sale now only
//! inserts rows (the conversion, its commissions, its events and one delta per affiliate
//! and currency), which take no lock another sale waits on.
//!
//! [`fold`] moves the deltas into `daily_stats` and `affiliates.conversion_count` in the
//! background (deleting exactly the rows it adds, in one transaction), and every read adds
//! the deltas not folded yet in the same statement (one snapshot), so a figure is exact
//! whether or not its deltas were folded: see [`super::rollups::range`],
//! [`super::stats::money_by_affiliate`] and [`conversion_counts`].
//!
//! A delta's `conversions` is both the rollup's count of earning conversions and the
//! affiliate's `conversion_count` increment (the two have the same meaning).

use std::collections::{BTreeMap, HashMap};

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::rollups::{self, Delta, PROGRAM_ROW};
use super::schema::{affiliates, stats_deltas as sd};
use super::DbConn;

/// One change to append: the affiliate, the UTC day number, the currency ('' for counts
/// without money) and the amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The affiliate.
    pub affiliate_id: String,
    /// The UTC day number.
    pub day: i64,
    /// The currency ('' for clicks and signups).
    pub currency: String,
    /// The amounts.
    pub delta: Delta,
}

/// The most deltas one [`fold`] takes.
pub const FOLD_BATCH: i64 = 5_000;

/// Appends changes of one program in one statement. Changes of one (affiliate, day,
/// currency) should be merged by the caller (one row each).
pub fn append(c: &mut DbConn, program_id: &str, changes: &[Change]) -> QueryResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = changes
        .iter()
        .map(|ch| {
            let d = ch.delta;
            (
                sd::program_id.eq(program_id),
                sd::affiliate_id.eq(ch.affiliate_id.as_str()),
                sd::day.eq(ch.day),
                sd::currency.eq(ch.currency.as_str()),
                sd::clicks.eq(d.clicks),
                sd::signups.eq(d.signups),
                sd::conversions.eq(d.conversions),
                sd::revenue_minor.eq(d.revenue),
                sd::refunded_minor.eq(d.refunded),
                sd::pending_minor.eq(d.pending),
                sd::approved_minor.eq(d.approved),
                sd::paid_minor.eq(d.paid),
                sd::reversed_minor.eq(d.reversed),
            )
        })
        .collect();
    super::insert_all!(c, sd::table, &rows).map(|_| ())
}

/// The counter of an affiliate's earning conversions including deltas not folded yet, in
/// one statement (so a fold committing meanwhile is counted once), per affiliate id.
pub fn conversion_counts(
    c: &mut DbConn,
    program_id: &str,
    ids: &[String],
) -> QueryResult<HashMap<String, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64)> = affiliates::table
        .filter(affiliates::program_id.eq(program_id))
        .filter(affiliates::id.eq_any(ids))
        .select((
            affiliates::id,
            sql::<BigInt>(
                "CAST(affiliates.conversion_count + COALESCE((SELECT SUM(d.conversions) \
                 FROM stats_deltas d WHERE d.program_id = affiliates.program_id \
                 AND d.affiliate_id = affiliates.id), 0) AS BIGINT)",
            ),
        ))
        .load(c)?;
    Ok(rows.into_iter().collect())
}

/// The affiliate's earning conversions so far, exact, for pricing by tiers: on PostgreSQL
/// the affiliate's row is locked first (until the transaction ends), so concurrent sales of
/// one affiliate take their counts one after the other and each sees the ones before it
/// (their deltas are committed by then). The deltas are summed in a second statement, whose
/// snapshot is taken after the lock was granted: a fold that committed meanwhile is in the
/// row, and its deltas are gone from the table. SQLite has one writer: nothing to lock.
pub fn locked_conversion_count(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
) -> QueryResult<i64> {
    if let DbConn::Pg(pg) = c {
        affiliates::table
            .find(affiliate_id)
            .select(affiliates::id)
            .for_update()
            .first::<String>(pg)?;
    }
    let counts = conversion_counts(c, program_id, &[affiliate_id.to_string()])?;
    Ok(counts.get(affiliate_id).copied().unwrap_or(0))
}

type DeltaRow = (
    i64,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// Folds up to `limit` deltas (oldest first) into `daily_stats` (the affiliates' rows and
/// the program's `*` rows) and `affiliates.conversion_count`, and deletes them. Must run in
/// a transaction: the rows it adds and the deltas it deletes commit together. Returns how
/// many deltas it folded.
///
/// On PostgreSQL the deltas are taken with `FOR UPDATE SKIP LOCKED`, so replicas folding at
/// once take disjoint sets. Shared rows are then updated in one fixed order, the order of
/// every other writer (an affiliate's row, then its rollup rows, then the program's):
/// affiliates by id, then their rollup rows by key, then the `*` rows, so a fold never
/// deadlocks with a request.
pub fn fold(c: &mut DbConn, limit: i64) -> QueryResult<usize> {
    let cols = (
        sd::id,
        sd::program_id,
        sd::affiliate_id,
        sd::day,
        sd::currency,
        sd::clicks,
        sd::signups,
        sd::conversions,
        sd::revenue_minor,
        sd::refunded_minor,
        sd::pending_minor,
        sd::approved_minor,
        sd::paid_minor,
        sd::reversed_minor,
    );
    let rows: Vec<DeltaRow> = match c {
        DbConn::Pg(pg) => sd::table
            .select(cols)
            .order(sd::id)
            .limit(limit)
            .for_update()
            .skip_locked()
            .load(pg)?,
        DbConn::Sqlite(lite) => sd::table
            .select(cols)
            .order(sd::id)
            .limit(limit)
            .load(lite)?,
    };
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let deleted = direct!(c, |c| diesel::delete(sd::table.filter(sd::id.eq_any(&ids)))
        .execute(c))?;
    if deleted != ids.len() {
        // Another fold took some of them (cannot happen with the locks above): let the
        // transaction fail rather than count anything twice.
        return Err(diesel::result::Error::RollbackTransaction);
    }
    let mut counters: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut per_affiliate: BTreeMap<(&str, &str, i64, &str), Delta> = BTreeMap::new();
    let mut per_program: BTreeMap<(&str, i64, &str), Delta> = BTreeMap::new();
    for r in &rows {
        let d = Delta {
            clicks: r.5,
            signups: r.6,
            conversions: r.7,
            revenue: r.8,
            refunded: r.9,
            pending: r.10,
            approved: r.11,
            paid: r.12,
            reversed: r.13,
        };
        if d.conversions != 0 {
            *counters.entry((&r.1, &r.2)).or_default() += d.conversions;
        }
        let a = per_affiliate.entry((&r.1, &r.2, r.3, &r.4)).or_default();
        *a = a.plus(d);
        let p = per_program.entry((&r.1, r.3, &r.4)).or_default();
        *p = p.plus(d);
    }
    if let DbConn::Pg(pg) = c {
        apply_pg(pg, &counters, &per_affiliate, &per_program)?;
        return Ok(rows.len());
    }
    for ((_, affiliate), n) in counters {
        super::affiliates::bump_counters(c, affiliate, 0, 0, n)?;
    }
    for ((program, affiliate, day, currency), d) in per_affiliate {
        rollups::add_row(c, program, affiliate, day, currency, d)?;
    }
    for ((program, day, currency), d) in per_program {
        rollups::add_row(c, program, PROGRAM_ROW, day, currency, d)?;
    }
    Ok(rows.len())
}

/// The sums of a fold applied on PostgreSQL in three statements whatever their number (a
/// statement per row was a round trip per affiliate touched): the affiliates are locked in
/// id order, then their counters updated; the rollup rows are upserted in key order, the
/// affiliates' first and the program's `*` rows last (a request locks an affiliate's row
/// before the program's, and folds on other replicas sort the same way: no lock cycle).
fn apply_pg(
    pg: &mut diesel::pg::PgConnection,
    counters: &BTreeMap<(&str, &str), i64>,
    per_affiliate: &BTreeMap<(&str, &str, i64, &str), Delta>,
    per_program: &BTreeMap<(&str, i64, &str), Delta>,
) -> QueryResult<()> {
    use diesel::sql_types::Text;
    use serde_json::json;
    if !counters.is_empty() {
        let ids: Vec<&str> = counters.keys().map(|(_, a)| *a).collect();
        let by_id: serde_json::Value = counters
            .iter()
            .map(|((_, a), n)| json!({"id": a, "n": n}))
            .collect();
        diesel::sql_query(
            "SELECT 1 FROM affiliates WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb)) \
             ORDER BY id FOR UPDATE",
        )
        .bind::<Text, _>(serde_json::Value::from(ids).to_string())
        .execute(pg)?;
        diesel::sql_query(
            "UPDATE affiliates AS a SET conversion_count = a.conversion_count + d.n \
             FROM jsonb_to_recordset($1::jsonb) AS d(id TEXT, n BIGINT) WHERE a.id = d.id",
        )
        .bind::<Text, _>(by_id.to_string())
        .execute(pg)?;
    }
    let row = |program: &str, affiliate: &str, day: i64, currency: &str, d: &Delta| {
        json!({"p": program, "a": affiliate, "day": day, "cur": currency,
               "clicks": d.clicks, "signups": d.signups, "conversions": d.conversions,
               "revenue": d.revenue, "refunded": d.refunded, "pending": d.pending,
               "approved": d.approved, "paid": d.paid, "reversed": d.reversed})
    };
    let mut rows: Vec<serde_json::Value> = per_affiliate
        .iter()
        .map(|((p, a, day, cur), d)| row(p, a, *day, cur, d))
        .collect();
    rows.extend(
        per_program
            .iter()
            .map(|((p, day, cur), d)| row(p, PROGRAM_ROW, *day, cur, d)),
    );
    diesel::sql_query(
        "INSERT INTO daily_stats (program_id, affiliate_id, day, currency, clicks, signups, \
           conversions, revenue_minor, refunded_minor, pending_minor, approved_minor, \
           paid_minor, reversed_minor) \
         SELECT p, a, day, cur, clicks, signups, conversions, revenue, refunded, pending, \
           approved, paid, reversed \
         FROM jsonb_to_recordset($1::jsonb) AS r(p TEXT, a TEXT, day BIGINT, \
           cur TEXT, clicks BIGINT, signups BIGINT, conversions BIGINT, revenue BIGINT, \
           refunded BIGINT, pending BIGINT, approved BIGINT, paid BIGINT, reversed BIGINT) \
         ORDER BY (a = '*'), p, a, day, cur \
         ON CONFLICT (program_id, affiliate_id, day, currency) DO UPDATE SET \
           clicks = daily_stats.clicks + excluded.clicks, \
           signups = daily_stats.signups + excluded.signups, \
           conversions = daily_stats.conversions + excluded.conversions, \
           revenue_minor = daily_stats.revenue_minor + excluded.revenue_minor, \
           refunded_minor = daily_stats.refunded_minor + excluded.refunded_minor, \
           pending_minor = daily_stats.pending_minor + excluded.pending_minor, \
           approved_minor = daily_stats.approved_minor + excluded.approved_minor, \
           paid_minor = daily_stats.paid_minor + excluded.paid_minor, \
           reversed_minor = daily_stats.reversed_minor + excluded.reversed_minor",
    )
    .bind::<Text, _>(serde_json::Value::Array(rows).to_string())
    .execute(pg)?;
    Ok(())
}

/// A stamp this far ahead of a replica's clock is taken for a clock that was set back, not
/// for a recent fold: the replica folds (and the stamp follows its clock again).
pub const CLOCK_AHEAD_MS: i64 = 60_000;

/// Claims the periodic fold for this replica: true when no replica folded (claimed) in the
/// last `every_ms` by `now`, and records `now` as the latest claim; false when another
/// replica's claim is more recent, and this turn should be skipped. One statement decides,
/// so two replicas claiming at once cannot both win.
pub fn claim_fold(c: &mut DbConn, now: i64, every_ms: i64) -> QueryResult<bool> {
    use super::schema::fold_clock as fc;
    let due = fc::folded_at
        .le(now.saturating_sub(every_ms))
        .or(fc::folded_at.gt(now.saturating_add(CLOCK_AHEAD_MS)));
    let claimed = diesel::update(fc::table.filter(fc::id.eq(1)).filter(due))
        .set(fc::folded_at.eq(now))
        .execute(c)?;
    if claimed == 1 {
        return Ok(true);
    }
    // The row is missing (it is made by the migration): make it, claiming this turn.
    let made = super::direct!(c, |c| diesel::insert_into(fc::table)
        .values((fc::id.eq(1), fc::folded_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(made == 1)
}

/// How many deltas wait to be folded (for tests and metrics).
pub fn pending(c: &mut DbConn) -> QueryResult<i64> {
    sd::table.count().get_result(c)
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    use diesel_migrations::MigrationHarness;

    use super::*;

    /// An in-memory database with the schema, foreign keys off (the affiliates below need
    /// no program row).
    fn sqlite() -> DbConn {
        let mut c = diesel::sqlite::SqliteConnection::establish(":memory:").expect("SQLite");
        c.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
            .expect("migrations");
        c.batch_execute("PRAGMA foreign_keys = OFF;")
            .expect("pragma");
        DbConn::Sqlite(c)
    }

    fn change(affiliate: &str, day: i64, conversions: i64, revenue: i64) -> Change {
        Change {
            affiliate_id: affiliate.into(),
            day,
            currency: "USD".into(),
            delta: Delta {
                conversions,
                revenue,
                ..Delta::default()
            },
        }
    }

    #[test]
    fn one_fold_per_interval_is_claimed_whoever_asks() {
        let mut c = sqlite();
        // The migration's stamp (0) is an interval ago: the first claim wins.
        assert!(claim_fold(&mut c, 10_000, 900).unwrap());
        // Another replica within the interval skips its turn, and its ask moves nothing.
        assert!(!claim_fold(&mut c, 10_500, 900).unwrap());
        assert!(!claim_fold(&mut c, 10_899, 900).unwrap());
        assert!(claim_fold(&mut c, 10_900, 900).unwrap());
        // A stamp from a clock that was ahead (set back since) does not stop the folds.
        assert!(!claim_fold(&mut c, 10_900 - CLOCK_AHEAD_MS, 900).unwrap());
        assert!(claim_fold(&mut c, 10_899 - CLOCK_AHEAD_MS, 900).unwrap());
        // A missing row is made by the claim that finds it missing.
        c.batch_execute("DELETE FROM fold_clock").unwrap();
        assert!(claim_fold(&mut c, 20_000, 900).unwrap());
        assert!(!claim_fold(&mut c, 20_001, 900).unwrap());
    }

    #[test]
    fn reads_add_what_is_not_folded_and_a_fold_moves_it_once() {
        let mut c = sqlite();
        c.batch_execute(
            "INSERT INTO affiliates (id, program_id, email, name, status, source, \
             referral_code, custom_fields, click_count, signup_count, conversion_count, \
             created_at, updated_at) VALUES \
             ('aff_a', 'prg_1', 'a@x', 'A', 'active', 'api', 'A1', '{}', 0, 0, 5, 0, 0), \
             ('aff_b', 'prg_1', 'b@x', 'B', 'active', 'api', 'B1', '{}', 0, 0, 0, 0, 0)",
        )
        .expect("affiliates");
        append(&mut c, "prg_1", &[change("aff_a", 10, 1, 100)]).expect("append");
        append(
            &mut c,
            "prg_1",
            &[change("aff_a", 10, 1, 50), change("aff_b", 11, 1, 7)],
        )
        .expect("append");
        let ids = vec!["aff_a".to_string(), "aff_b".to_string()];
        let before = conversion_counts(&mut c, "prg_1", &ids).expect("counts");
        assert_eq!((before["aff_a"], before["aff_b"]), (7, 1));
        let sum = |c: &mut DbConn, aff: &str| -> (i64, i64) {
            rollups::range(c, "prg_1", aff, 0, 100)
                .expect("range")
                .iter()
                .fold((0, 0), |(n, r), (_, _, d)| {
                    (n + d.conversions, r + d.revenue)
                })
        };
        assert_eq!(sum(&mut c, "aff_a"), (2, 150));
        assert_eq!(sum(&mut c, PROGRAM_ROW), (3, 157));

        assert_eq!(fold(&mut c, FOLD_BATCH).expect("fold"), 3);
        assert_eq!(pending(&mut c).expect("pending"), 0);
        assert_eq!(fold(&mut c, FOLD_BATCH).expect("fold"), 0);
        assert_eq!(
            conversion_counts(&mut c, "prg_1", &ids).expect("counts"),
            before
        );
        assert_eq!(sum(&mut c, "aff_a"), (2, 150));
        assert_eq!(sum(&mut c, "aff_b"), (1, 7));
        assert_eq!(sum(&mut c, PROGRAM_ROW), (3, 157));
        // Folded rows are the rollups' own rows now: one per affiliate, day and currency.
        let rows = rollups::range(&mut c, "prg_1", "aff_a", 0, 100).expect("range");
        assert_eq!(rows.len(), 1);
    }
}
