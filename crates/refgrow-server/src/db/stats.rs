//! Aggregated reads of the `daily_stats` rollups for the program-wide report. One
//! affiliate's rows are few and are read with [`super::rollups::range`] (primary key
//! `(program_id, affiliate_id, day, currency)`); the program's are summed in the database
//! over the `(program_id, day)` index, so the answer is one row per day and currency (or per
//! affiliate and currency), whatever the number of affiliates.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::rollups::Delta;
use super::schema::daily_stats as ds;
use super::DbConn;

type Sums = (i64, i64, i64, i64, i64, i64, i64, i64, i64);

fn delta(s: Sums) -> Delta {
    Delta {
        clicks: s.0,
        signups: s.1,
        conversions: s.2,
        revenue: s.3,
        refunded: s.4,
        pending: s.5,
        approved: s.6,
        paid: s.7,
        reversed: s.8,
    }
}

/// The nine sums of a group, each `CAST(… AS BIGINT)`: PostgreSQL sums BIGINT into NUMERIC
/// otherwise.
macro_rules! sums {
    () => {
        (
            sql::<BigInt>("CAST(SUM(clicks) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(signups) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(conversions) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(revenue_minor) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(refunded_minor) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(pending_minor) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(approved_minor) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(paid_minor) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(reversed_minor) AS BIGINT)"),
        )
    };
}

/// The program's rollups between two days (inclusive), summed per day and currency.
pub fn program_by_day(
    c: &mut DbConn,
    program_id: &str,
    from_day: i64,
    to_day: i64,
) -> QueryResult<Vec<(i64, String, Delta)>> {
    type Row = (i64, String, Sums);
    let rows: Vec<Row> = ds::table
        .filter(ds::program_id.eq(program_id))
        .filter(ds::day.ge(from_day))
        .filter(ds::day.le(to_day))
        .group_by((ds::day, ds::currency))
        .select((ds::day, ds::currency, sums!()))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(day, cur, s)| (day, cur, delta(s)))
        .collect())
}

/// The program's rollups between two days (inclusive), summed per affiliate and currency.
pub fn program_by_affiliate(
    c: &mut DbConn,
    program_id: &str,
    from_day: i64,
    to_day: i64,
) -> QueryResult<Vec<(String, String, Delta)>> {
    type Row = (String, String, Sums);
    let rows: Vec<Row> = ds::table
        .filter(ds::program_id.eq(program_id))
        .filter(ds::day.ge(from_day))
        .filter(ds::day.le(to_day))
        .group_by((ds::affiliate_id, ds::currency))
        .select((ds::affiliate_id, ds::currency, sums!()))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(aff, cur, s)| (aff, cur, delta(s)))
        .collect())
}
