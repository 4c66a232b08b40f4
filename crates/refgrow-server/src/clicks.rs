//! The click path, built for public traffic.
//!
//! A click is answered from memory: the referral code is resolved through a short-lived
//! cache, the click gets its id at once, and the row waits in a buffer that a background
//! task writes in batches (one transaction per batch, counters bumped once per affiliate).
//! No write lock is taken on the request path, so the click rate is not capped by the single
//! SQLite writer. A lookup of a click id that is still buffered flushes the buffer first, so
//! binding a signup right after its click works. A crash loses at most one flush interval of
//! clicks (50 ms by default); money never goes through this buffer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::db::schema::clicks;
use crate::db::{affiliates, Db, DbConn};
use crate::error::ApiError;

/// The most clicks held in memory; past it, clicks are refused with 503 until the
/// database catches up.
const MAX_BUFFERED: usize = 200_000;
/// How long a resolved referral code is trusted.
const CODE_TTL: Duration = Duration::from_secs(5);

/// A click waiting to be written.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = clicks)]
pub struct ClickRow {
    /// `click_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// Whose link.
    pub affiliate_id: String,
    /// The code clicked.
    pub referral_code: String,
    /// Referrer.
    pub source_url: Option<String>,
    /// Landing page.
    pub landing_url: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Visitor address.
    pub ip_address: Option<String>,
    /// When, ms.
    pub created_at: i64,
}

/// What a referral code resolves to.
#[derive(Debug, Clone)]
pub struct ResolvedCode {
    /// The program.
    pub program_id: String,
    /// The affiliate.
    pub affiliate_id: String,
    /// The affiliate's status.
    pub status: String,
    /// The program's website.
    pub website_url: Option<String>,
    /// The program's attribution window.
    pub cookie_days: i32,
    /// Whether the program keeps the first click (else the last one wins).
    pub attribution_first_click: bool,
}

#[derive(Default)]
struct Inner {
    pending: Vec<ClickRow>,
    codes: HashMap<(Option<String>, String), (Instant, Option<ResolvedCode>)>,
    /// Codes found to be unknown (the negative cache), apart from `codes` so a flood of
    /// made-up codes fills and clears only this map.
    unknown: HashMap<(Option<String>, String), Instant>,
}

/// The most unknown codes remembered.
const MAX_UNKNOWN: usize = 100_000;

/// The buffer and the code cache; clones share them.
#[derive(Clone, Default)]
pub struct ClickBuffer {
    inner: Arc<Mutex<Inner>>,
    flush_lock: Arc<tokio::sync::Mutex<()>>,
}

impl ClickBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        ClickBuffer::default()
    }

    /// Queues a click. Refuses when the buffer is full (the database is not keeping up).
    pub fn push(&self, click: ClickRow) -> Result<(), ApiError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| ApiError::internal("click buffer poisoned"))?;
        if inner.pending.len() >= MAX_BUFFERED {
            return Err(ApiError::unavailable("click buffer full"));
        }
        inner.pending.push(click);
        Ok(())
    }

    /// How many clicks wait.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.pending.len()).unwrap_or(0)
    }

    /// Whether no click waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a click id is still waiting in memory.
    pub fn contains(&self, id: &str) -> bool {
        self.inner
            .lock()
            .map(|i| i.pending.iter().any(|c| c.id == id))
            .unwrap_or(false)
    }

    /// Forgets cached codes (after an affiliate or program changed).
    pub fn invalidate_codes(&self) {
        if let Ok(mut i) = self.inner.lock() {
            i.codes.clear();
            i.unknown.clear();
        }
    }

    /// Resolves a code (within a program when given), through the cache.
    pub async fn resolve(
        &self,
        db: &Db,
        program_id: Option<&str>,
        code: &str,
    ) -> Result<Option<ResolvedCode>, ApiError> {
        let key = (program_id.map(str::to_string), code.to_string());
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let (p, c) = key.clone();
        let found = db
            .read(move |conn| Ok(lookup_code(conn, p.as_deref(), &c)?))
            .await?;
        if let Ok(mut i) = self.inner.lock() {
            match &found {
                Some(_) => {
                    if i.codes.len() > 100_000 {
                        i.codes.clear();
                    }
                    i.codes.insert(key, (Instant::now(), found.clone()));
                }
                None => {
                    if i.unknown.len() >= MAX_UNKNOWN {
                        i.unknown.clear();
                    }
                    i.unknown.insert(key, Instant::now());
                }
            }
        }
        Ok(found)
    }

    /// What the cache knows of a code (program, code): `Some(None)` for a known-unknown code.
    fn cached(&self, key: &(Option<String>, String)) -> Option<Option<ResolvedCode>> {
        let i = self.inner.lock().ok()?;
        if let Some((at, hit)) = i.codes.get(key) {
            if at.elapsed() < CODE_TTL {
                return Some(hit.clone());
            }
        }
        i.unknown
            .get(key)
            .filter(|at| at.elapsed() < CODE_TTL)
            .map(|_| None)
    }

    /// A public code's resolution if the cache holds it, without asking the database.
    pub fn cached_public(&self, code: &str) -> Option<Option<ResolvedCode>> {
        self.cached(&(None, code.to_string()))
    }

    /// Where an unknown code lands: `REFGROW_FALLBACK_URL`, else the website of the only
    /// program that has one (cached like codes).
    pub async fn fallback_website(
        &self,
        db: &Db,
        config: &crate::config::Config,
    ) -> Result<Option<String>, ApiError> {
        if let Some(url) = config
            .fallback_url
            .as_ref()
            .filter(|u| !u.trim().is_empty())
        {
            return Ok(Some(url.trim().to_string()));
        }
        let key = (Some(String::new()), String::new());
        if let Ok(i) = self.inner.lock() {
            if let Some((at, hit)) = i.codes.get(&key) {
                if at.elapsed() < CODE_TTL {
                    return Ok(hit.as_ref().and_then(|r| r.website_url.clone()));
                }
            }
        }
        let sites: Vec<Option<String>> = db
            .read(|c| {
                use crate::db::schema::programs as p;
                Ok(p::table
                    .filter(p::website_url.is_not_null())
                    .select(p::website_url)
                    .limit(2)
                    .load(c)?)
            })
            .await?;
        let site = match sites.as_slice() {
            [Some(one)] => Some(one.clone()),
            _ => None,
        };
        if let Ok(mut i) = self.inner.lock() {
            let entry = site.clone().map(|w| ResolvedCode {
                program_id: String::new(),
                affiliate_id: String::new(),
                status: String::new(),
                website_url: Some(w),
                cookie_days: 0,
                attribution_first_click: true,
            });
            i.codes.insert(key, (Instant::now(), entry));
        }
        Ok(site)
    }

    /// Writes every waiting click now.
    pub async fn flush(&self, db: &Db) -> Result<usize, ApiError> {
        let _guard = self.flush_lock.lock().await;
        let batch = match self.inner.lock() {
            Ok(mut i) => std::mem::take(&mut i.pending),
            Err(_) => return Err(ApiError::internal("click buffer poisoned")),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        let result = db
            .write({
                let batch = batch.clone();
                move |c| Ok(write_batch(c, &batch)?)
            })
            .await;
        if let Err(e) = result {
            // Put the batch back in front so nothing is lost; the next flush retries it.
            if let Ok(mut i) = self.inner.lock() {
                let newer = std::mem::take(&mut i.pending);
                i.pending = batch;
                i.pending.extend(newer);
            }
            return Err(e);
        }
        Ok(n)
    }
}

fn lookup_code(
    c: &mut DbConn,
    program_id: Option<&str>,
    code: &str,
) -> QueryResult<Option<ResolvedCode>> {
    use crate::db::schema::{affiliates as a, programs as p};
    let mut q = a::table
        .inner_join(p::table.on(p::id.eq(a::program_id)))
        // Codes are unique per deployment (index `affiliates_referral_code`): one row at
        // most, found through the index.
        .filter(a::referral_code.eq(code))
        .select((
            a::program_id,
            a::id,
            a::status,
            p::website_url,
            p::cookie_days,
            p::attribution,
        ))
        .into_boxed();
    if let Some(pid) = program_id {
        q = q.filter(a::program_id.eq(pid.to_string()));
    }
    type Row = (String, String, String, Option<String>, i32, String);
    let row: Option<Row> = q.first(c).optional()?;
    Ok(row.map(
        |(program_id, affiliate_id, status, website_url, cookie_days, attribution)| ResolvedCode {
            program_id,
            affiliate_id,
            status,
            website_url,
            cookie_days,
            attribution_first_click: attribution != "last_click",
        },
    ))
}

/// Writes a batch of clicks and their counters in one transaction.
pub fn write_batch(c: &mut DbConn, batch: &[ClickRow]) -> QueryResult<()> {
    c.transaction(|c| {
        let mut per_affiliate: HashMap<&str, i64> = HashMap::new();
        for click in batch {
            crate::db::direct!(c, |c| diesel::insert_into(clicks::table)
                .values(click)
                .execute(c))?;
            *per_affiliate
                .entry(click.affiliate_id.as_str())
                .or_default() += 1;
        }
        for (aff, n) in per_affiliate {
            affiliates::bump_counters(c, aff, n, 0, 0)?;
        }
        crate::db::rollups::add_clicks(c, batch)?;
        Ok(())
    })
}

/// Flushes the buffer every `every` until the process stops.
pub fn spawn_flusher(buffer: ClickBuffer, db: Db, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = buffer.flush(&db).await {
                log::warn!("flushing clicks failed, will retry: {e}");
            }
        }
    });
}
