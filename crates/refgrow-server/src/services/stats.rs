//! Statistics from the daily rollups: one affiliate's (`GET /affiliates/{id}/stats`) and the
//! whole program's (`GET /reports/summary`). Never a scan of clicks or sales: the rollups are
//! kept current by every write, per affiliate, UTC day and currency.
//!
//! Ranges are whole UTC days, both ends included. Buckets are days, ISO weeks (Monday first)
//! or calendar months; the first and last bucket are clipped to the range, and every bucket
//! is present, zeros included.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use refgrow_types::api::{
    AffiliateStats, CurrencyStats, EarningsByStatus, ProgramSummary, StatsBucket, StatsInterval,
    StatsTotals, TopAffiliate,
};
use refgrow_types::money::{Currency, Money};
use refgrow_types::AffiliateId;

use crate::db::rollups::{self, day_of, Delta};
use crate::db::{affiliates as affiliate_store, stats as store, DbConn};
use crate::error::ApiError;
use crate::services::{affiliates, program};

/// The longest range a stats request may span, in days (three years).
pub const MAX_RANGE_DAYS: i64 = 3 * 366;
/// The range when none is given, in days, ending today.
pub const DEFAULT_RANGE_DAYS: i64 = 30;
/// How many affiliates the summary ranks.
pub const TOP_AFFILIATES: usize = 10;

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// A checked range of whole UTC days and a bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The first day (days since the Unix epoch).
    pub from_day: i64,
    /// The last day, included.
    pub to_day: i64,
    /// The bucket size.
    pub interval: StatsInterval,
}

/// The date of a day number.
fn date_of(day: i64) -> Result<NaiveDate, ApiError> {
    i32::try_from(day + EPOCH_DAYS_FROM_CE)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or_else(|| ApiError::bad_request("The date is out of range"))
}

/// The day number of a date.
fn day_of_date(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - EPOCH_DAYS_FROM_CE
}

/// Checks the bounds (ms, each truncated to its UTC day) and interval of a stats request.
/// Without `from` the range is the 30 days ending at `to`; without `to` it ends today.
pub fn range(
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    interval: Option<StatsInterval>,
    now_ms: i64,
) -> Result<Range, ApiError> {
    let to_day = day_of(to_ms.unwrap_or(now_ms));
    let from_day = from_ms
        .map(day_of)
        .unwrap_or(to_day - (DEFAULT_RANGE_DAYS - 1));
    if from_day > to_day {
        return Err(ApiError::invalid("from", "must not be after 'to'"));
    }
    if to_day - from_day + 1 > MAX_RANGE_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!("the range from 'from' to 'to' must be at most {MAX_RANGE_DAYS} days"),
        ));
    }
    // Both ends must be representable dates.
    date_of(from_day).map_err(|_| ApiError::invalid("from", "is out of range"))?;
    date_of(to_day).map_err(|_| ApiError::invalid("to", "is out of range"))?;
    Ok(Range {
        from_day,
        to_day,
        interval: interval.unwrap_or_default(),
    })
}

/// The first day of the period holding `day`.
fn period_start(day: i64, interval: StatsInterval) -> Result<i64, ApiError> {
    Ok(match interval {
        StatsInterval::Day => day,
        // 1970-01-01 was a Thursday: Monday is 3 days before it.
        StatsInterval::Week => day - (day + 3).rem_euclid(7),
        StatsInterval::Month => {
            let d = date_of(day)?;
            day - i64::from(d.day0())
        }
    })
}

/// The first day of the period after the one starting on `start`.
fn next_period(start: i64, interval: StatsInterval) -> Result<i64, ApiError> {
    Ok(match interval {
        StatsInterval::Day => start + 1,
        StatsInterval::Week => start + 7,
        StatsInterval::Month => {
            let d = date_of(start)?;
            let (y, m) = if d.month() == 12 {
                (d.year() + 1, 1)
            } else {
                (d.year(), d.month() + 1)
            };
            let next = NaiveDate::from_ymd_opt(y, m, 1)
                .ok_or_else(|| ApiError::bad_request("The date is out of range"))?;
            day_of_date(next)
        }
    })
}

/// The buckets of a range: (first day, last day) each, clipped to the range.
fn buckets(r: &Range) -> Result<Vec<(i64, i64)>, ApiError> {
    let mut out = Vec::new();
    let mut start = period_start(r.from_day, r.interval)?;
    while start <= r.to_day {
        let next = next_period(start, r.interval)?;
        out.push((start.max(r.from_day), (next - 1).min(r.to_day)));
        start = next;
    }
    Ok(out)
}

/// Sums of one bucket (or of the totals).
#[derive(Debug, Default, Clone)]
struct Acc {
    clicks: i64,
    signups: i64,
    conversions: i64,
    money: HashMap<String, Delta>,
}

impl Acc {
    fn add(&mut self, currency: &str, d: Delta) {
        // Saturating: a sum of stored figures never wraps.
        self.clicks = self.clicks.saturating_add(d.clicks);
        self.signups = self.signups.saturating_add(d.signups);
        self.conversions = self.conversions.saturating_add(d.conversions);
        if !currency.is_empty() {
            let m = self.money.entry(currency.to_string()).or_default();
            *m = m.plus(Delta {
                clicks: 0,
                signups: 0,
                conversions: 0,
                ..d
            });
        }
    }

    fn money(&self, currencies: &[Currency]) -> Vec<CurrencyStats> {
        currencies
            .iter()
            .map(|cur| {
                let d = self.money.get(cur.code()).copied().unwrap_or_default();
                let m = |minor: i64| Money::new(minor, *cur).amount();
                CurrencyStats {
                    currency: *cur,
                    revenue: m(d.revenue),
                    refunded: m(d.refunded),
                    earnings: EarningsByStatus {
                        pending: m(d.pending),
                        approved: m(d.approved),
                        paid: m(d.paid),
                        reversed: m(d.reversed),
                    },
                }
            })
            .collect()
    }
}

/// Totals and series of rollup rows `(day, currency, delta)`.
fn aggregate(
    r: &Range,
    program_currency: Currency,
    rows: &[(i64, String, Delta)],
) -> Result<(StatsTotals, Vec<StatsBucket>), ApiError> {
    let spans = buckets(r)?;
    let mut accs = vec![Acc::default(); spans.len()];
    let mut totals = Acc::default();
    let mut currencies = vec![program_currency];
    let mut others: BTreeMap<String, Currency> = BTreeMap::new();
    for (day, currency, d) in rows {
        if *day < r.from_day || *day > r.to_day {
            continue;
        }
        // Buckets are sorted and contiguous: find the one holding the day.
        let i = spans.partition_point(|(_, end)| end < day);
        if let Some(acc) = accs.get_mut(i) {
            acc.add(currency, *d);
        }
        totals.add(currency, *d);
        if !currency.is_empty() && currency != program_currency.code() {
            if let Ok(cur) = Currency::parse(currency) {
                others.insert(cur.code().to_string(), cur);
            }
        }
    }
    currencies.extend(others.into_values());
    let series = spans
        .iter()
        .zip(accs.iter())
        .map(|((start, end), acc)| {
            Ok(StatsBucket {
                start: date_of(*start)?,
                end: date_of(*end)?,
                clicks: acc.clicks,
                signups: acc.signups,
                conversions: acc.conversions,
                money: acc.money(&currencies),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((
        StatsTotals {
            clicks: totals.clicks,
            signups: totals.signups,
            conversions: totals.conversions,
            money: totals.money(&currencies),
        },
        series,
    ))
}

/// `GET /affiliates/{id}/stats`.
pub fn affiliate(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
    r: Range,
) -> Result<AffiliateStats, ApiError> {
    let prog = program::load(c, program_id)?;
    let aff = affiliates::load(c, &prog.id, affiliate_id)?;
    let rows = rollups::range(c, &prog.id, &aff.id, r.from_day, r.to_day)?;
    let (totals, series) = aggregate(&r, program::currency(&prog), &rows)?;
    Ok(AffiliateStats {
        affiliate_id: AffiliateId::from_trusted(aff.id),
        from: date_of(r.from_day)?,
        to: date_of(r.to_day)?,
        interval: r.interval,
        totals,
        series,
    })
}

/// `GET /reports/summary`.
pub fn summary(c: &mut DbConn, program_id: &str, r: Range) -> Result<ProgramSummary, ApiError> {
    let prog = program::load(c, program_id)?;
    let currency = program::currency(&prog);
    let rows = rollups::range(c, &prog.id, rollups::PROGRAM_ROW, r.from_day, r.to_day)?;
    let (totals, series) = aggregate(&r, currency, &rows)?;

    // Rank by earnings (pending + approved + paid) in the program currency, then revenue,
    // from the money rows; then read the clicks and signups of the few ranked.
    #[derive(Default)]
    struct Rank {
        conversions: i64,
        revenue: i64,
        earnings: i64,
    }
    let mut ranks: HashMap<String, Rank> = HashMap::new();
    for (aff, cur, d) in store::money_by_affiliate(c, &prog.id, r.from_day, r.to_day)? {
        let e = ranks.entry(aff).or_default();
        e.conversions = e.conversions.saturating_add(d.conversions);
        if cur == currency.code() {
            e.revenue = e.revenue.saturating_add(d.revenue);
            e.earnings = e
                .earnings
                .saturating_add(d.pending.saturating_add(d.approved).saturating_add(d.paid));
        }
    }
    let mut ranked: Vec<(String, Rank)> = ranks
        .into_iter()
        .filter(|(_, r)| r.earnings != 0 || r.revenue != 0 || r.conversions != 0)
        .collect();
    ranked.sort_by(|a, b| {
        b.1.earnings
            .cmp(&a.1.earnings)
            .then(b.1.revenue.cmp(&a.1.revenue))
            .then(a.0.cmp(&b.0))
    });
    ranked.truncate(TOP_AFFILIATES);
    let mut top_affiliates = Vec::with_capacity(ranked.len());
    for (id, rank) in ranked {
        let name = affiliate_store::find(c, &prog.id, &id)?
            .map(|a| a.name)
            .unwrap_or_default();
        let (mut clicks, mut signups) = (0, 0);
        for (_, _, d) in rollups::range(c, &prog.id, &id, r.from_day, r.to_day)? {
            clicks = d.clicks.saturating_add(clicks);
            signups = d.signups.saturating_add(signups);
        }
        top_affiliates.push(TopAffiliate {
            affiliate_id: AffiliateId::from_trusted(id),
            name,
            clicks,
            signups,
            conversions: rank.conversions,
            currency,
            revenue: Money::new(rank.revenue, currency).amount(),
            earnings: Money::new(rank.earnings, currency).amount(),
        });
    }
    Ok(ProgramSummary {
        from: date_of(r.from_day)?,
        to: date_of(r.to_day)?,
        interval: r.interval,
        currency,
        totals,
        series,
        top_affiliates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DAY_MS;

    fn d(s: &str) -> i64 {
        day_of_date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // (day, interval, its period's first day, the next period's first day); 2026-01-01
        // is a Thursday: its ISO week starts Monday 2025-12-29.
        for (day, interval, start, next) in [
            (
                "2026-01-01",
                StatsInterval::Week,
                "2025-12-29",
                "2026-01-05",
            ),
            (
                "2026-01-05",
                StatsInterval::Week,
                "2026-01-05",
                "2026-01-12",
            ),
            (
                "2026-02-17",
                StatsInterval::Month,
                "2026-02-01",
                "2026-03-01",
            ),
            (
                "2026-12-01",
                StatsInterval::Month,
                "2026-12-01",
                "2027-01-01",
            ),
        ] {
            assert_eq!(period_start(d(day), interval).unwrap(), d(start), "{day}");
            assert_eq!(next_period(d(start), interval).unwrap(), d(next), "{day}");
        }
        let r = Range {
            from_day: d("2026-01-30"),
            to_day: d("2026-03-02"),
            interval: StatsInterval::Month,
        };
        assert_eq!(
            buckets(&r).unwrap(),
            vec![
                (d("2026-01-30"), d("2026-01-31")),
                (d("2026-02-01"), d("2026-02-28")),
                (d("2026-03-01"), d("2026-03-02")),
            ]
        );
    }

    #[test]
    fn ranges_are_checked() {
        let now = d("2026-06-15") * DAY_MS + 5000;
        let ms = |s: &str| Some(d(s) * DAY_MS);
        let r = range(None, None, None, now).unwrap();
        assert_eq!((r.from_day, r.to_day), (d("2026-05-17"), d("2026-06-15")));
        let r = range(ms("2026-06-01"), ms("2026-06-01"), None, now).unwrap();
        assert_eq!((r.from_day, r.to_day), (d("2026-06-01"), d("2026-06-01")));
        let e = range(ms("2026-06-16"), ms("2026-06-15"), None, now).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "from");
        let e = range(ms("2020-01-01"), ms("2026-01-01"), None, now).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "to");
    }
}
