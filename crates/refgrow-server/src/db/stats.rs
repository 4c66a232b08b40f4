//! Reads of the `daily_stats` rollups for the program-wide report. The program's totals
//! and series are its own rollup rows ([`super::rollups::PROGRAM_ROW`]), read by primary
//! key; its top affiliates are ranked from the affiliates' money rows, read from the
//! covering index `daily_stats_money`, so neither read touches more than the rows that
//! carry money in the range.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::rollups::Delta;
use super::schema::daily_stats as ds;
use super::DbConn;

/// The affiliates' money rows between two days (inclusive), summed per affiliate and
/// currency: conversions, revenue and commission money (clicks and signups are not in
/// them, see [`super::rollups::range`] for one affiliate's).
///
/// The rows are read in index order and summed here: SQLite's `GROUP BY` would sort them by
/// affiliate first (a temporary b-tree of text keys), which was most of the report's time.
pub fn money_by_affiliate(
    c: &mut DbConn,
    program_id: &str,
    from_day: i64,
    to_day: i64,
) -> QueryResult<Vec<(String, String, Delta)>> {
    use super::schema::stats_deltas as sd;
    use diesel::query_dsl::CombineDsl;
    type Row = (String, String, i64, i64, i64, i64, i64);
    // The literal condition is the index's own, so SQLite may use the partial index (a
    // bound parameter could not prove it).
    let rolled = ds::table
        .filter(ds::program_id.eq(program_id))
        .filter(ds::day.ge(from_day))
        .filter(ds::day.le(to_day))
        .filter(sql::<Bool>("currency <> '' AND affiliate_id <> '*'"))
        .select((
            ds::affiliate_id,
            ds::currency,
            ds::conversions,
            ds::revenue_minor,
            ds::pending_minor,
            ds::approved_minor,
            ds::paid_minor,
        ));
    // The changes not folded yet, in the same statement (one snapshot).
    let deltas = sd::table
        .filter(sd::program_id.eq(program_id))
        .filter(sd::day.ge(from_day))
        .filter(sd::day.le(to_day))
        .filter(sd::currency.ne(""))
        .select((
            sd::affiliate_id,
            sd::currency,
            sd::conversions,
            sd::revenue_minor,
            sd::pending_minor,
            sd::approved_minor,
            sd::paid_minor,
        ));
    let rows: Vec<Row> = super::direct!(c, |c| rolled.union_all(deltas).load(c))?;
    let mut sums: HashMap<(String, String), Delta> = HashMap::new();
    for (aff, cur, conversions, revenue, pending, approved, paid) in rows {
        let d = Delta {
            conversions,
            revenue,
            pending,
            approved,
            paid,
            ..Delta::default()
        };
        let e = sums.entry((aff, cur)).or_default();
        *e = e.plus(d);
    }
    Ok(sums
        .into_iter()
        .map(|((aff, cur), d)| (aff, cur, d))
        .collect())
}
