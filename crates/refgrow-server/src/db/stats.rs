//! Reads of the `daily_stats` rollups for the program-wide report. The program's totals
//! and series are its own rollup rows ([`super::rollups::PROGRAM_ROW`]), read by primary
//! key; its top affiliates are ranked from the affiliates' money rows, summed in the
//! database over the covering index `daily_stats_money`, so neither read touches more than
//! the rows that carry money in the range.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use super::rollups::Delta;
use super::schema::daily_stats as ds;
use super::DbConn;

type Sums = (i64, i64, i64, i64, i64);

/// The affiliates' money rows between two days (inclusive), summed per affiliate and
/// currency: conversions, revenue and commission money (clicks and signups are not in
/// them, see [`super::rollups::range`] for one affiliate's).
pub fn money_by_affiliate(
    c: &mut DbConn,
    program_id: &str,
    from_day: i64,
    to_day: i64,
) -> QueryResult<Vec<(String, String, Delta)>> {
    type Row = (String, String, Sums);
    // The literal condition is the index's own, so SQLite may use the partial index (a
    // bound parameter could not prove it).
    let rows: Vec<Row> = super::direct!(c, |c| ds::table
        .filter(ds::program_id.eq(program_id))
        .filter(ds::day.ge(from_day))
        .filter(ds::day.le(to_day))
        .filter(sql::<Bool>("currency <> '' AND affiliate_id <> '*'"))
        .group_by((ds::affiliate_id, ds::currency))
        .select((
            ds::affiliate_id,
            ds::currency,
            // CAST: PostgreSQL sums BIGINT into NUMERIC otherwise.
            (
                sql::<BigInt>("CAST(SUM(conversions) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(revenue_minor) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(pending_minor) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(approved_minor) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(paid_minor) AS BIGINT)"),
            ),
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(aff, cur, s)| {
            let d = Delta {
                conversions: s.0,
                revenue: s.1,
                pending: s.2,
                approved: s.3,
                paid: s.4,
                ..Delta::default()
            };
            (aff, cur, d)
        })
        .collect())
}
