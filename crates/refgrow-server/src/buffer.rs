//! One mechanism for rows written in batches off the request path (clicks and the audit
//! log): a bounded in-memory buffer, written by a background flusher every interval (and
//! sooner once a batch's worth waits, when asked), one flush at a time, and a graceful stop
//! that writes what is held before the process ends.
//!
//! What a buffer knows of its rows is a key ([`Row`]); where they go is a [`Store`] (one
//! atomic write per batch); where a batch the store refuses goes is an optional
//! [`Fallback`] (a [`spill::Spill`] file), from which it is replayed once the store is
//! back. Without a fallback a refused batch goes back to the front of the queue.
//!
//! Every row is in one index by key from the moment it is accepted until its batch is
//! committed (waiting, taken by a flush whose outcome is not known yet, or kept in the
//! fallback), so [`Buffer::contains`] answers "is this row still on its way?" in constant
//! time at every instant: the read-your-writes of click ids is built on it. The index also
//! bounds the buffer: past `max_held` rows, [`Buffer::push`] refuses ([`Refused::Full`]) and
//! the caller decides what a refusal means to its client (counted in [`BufferCounters`]).

pub mod spill;
pub mod table;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus::{Counter, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// A row a buffer holds: it has a key, unique among the rows of its buffer.
pub trait Row: Clone + Send + Sync + 'static {
    /// The row's key (its id).
    fn key(&self) -> &str;
}

/// Where a buffer's rows are written.
pub trait Store<T>: Send + Sync + 'static {
    /// What a failed write says.
    type Error: std::fmt::Display + Send + 'static;

    /// Whether writing is worth trying now: an error when the store is known to be down (a
    /// batch then goes straight to the fallback).
    fn available(&self) -> Result<(), Self::Error>;

    /// Writes a batch, all or nothing.
    fn write(&self, batch: Arc<Vec<T>>) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Writes rows replayed from the fallback, some of which may already be stored (a
    /// write whose outcome was unknown): those are skipped. Returns how many were new. The
    /// default writes them as a batch, which suits a store that never has a fallback.
    fn write_replay(
        &self,
        rows: Arc<Vec<T>>,
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send {
        let n = rows.len();
        let write = self.write(rows);
        async move { write.await.map(|()| n) }
    }
}

/// Durable local storage for batches the store refused (see [`spill::Spill`]). Its calls
/// block (they fsync): the buffer makes them off the async threads.
pub trait Fallback<T>: Send + Sync + 'static {
    /// Adds rows, durably, before returning.
    fn keep(&self, rows: &[T]) -> io::Result<()>;
    /// Replaces everything kept with `rows` (none: empties it).
    fn replace(&self, rows: &[T]) -> io::Result<()>;
    /// What an earlier process kept, and how many unreadable records were skipped.
    fn load(&self) -> io::Result<(Vec<T>, usize)>;
    /// Where it is, for the logs.
    fn location(&self) -> String;
}

/// How a buffer behaves.
#[derive(Debug, Clone)]
pub struct BufferSettings {
    /// What its rows are, for the logs ("clicks", "audit entries").
    pub name: &'static str,
    /// The most rows held before they are committed; past it [`Buffer::push`] refuses.
    pub max_held: usize,
    /// Wake the flusher as soon as this many rows wait, before its interval is up (None:
    /// on the interval only).
    pub flush_at: Option<usize>,
}

/// Why a row was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The buffer holds `max_held` rows.
    Full,
    /// It had to be durable before its answer and could be made so nowhere.
    NotDurable,
}

/// What a graceful stop did with the rows it held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StopReport {
    /// Committed to the store during the stop.
    pub written: usize,
    /// Left in the fallback (written at the next start).
    pub spilled: usize,
    /// Neither: lost.
    pub lost: usize,
}

/// The counters of one buffer, `refgrow_{prefix}_…`, so a bench can compute the write rate
/// and see every row that was not taken.
#[derive(Clone)]
pub struct BufferCounters {
    /// `…_flushed_total`: rows committed to the store.
    pub flushed: IntCounter,
    /// `…_write_seconds_total`: time spent in the store's writes of committed batches, so
    /// `flushed_total / write_seconds_total` is the rate at which the flusher can write,
    /// whatever the load offered it.
    pub write_seconds: Counter,
    /// `…_refused_total{reason}`: rows refused to a client that was told so (reasons
    /// `buffer_full`, `not_durable`).
    pub refused: IntCounterVec,
    /// `…_dropped_total{reason}`: rows not taken while the client's answer went on as if
    /// they had been.
    pub dropped: IntCounterVec,
    /// `…_spilled_total`: rows kept in the fallback while the store was unreachable.
    pub spilled: IntCounter,
    /// `…_buffered`: rows held (waiting, being written or spilled), at scrape time.
    pub buffered: IntGauge,
}

impl BufferCounters {
    /// Fresh counters named `refgrow_{prefix}_…`, not registered anywhere: `what` names
    /// the rows in the help texts ("Clicks"); `refused` and `dropped` are the help texts of
    /// those two families, which say what a refusal means to the buffer's clients.
    pub fn new(
        prefix: &str,
        what: &str,
        refused: &str,
        dropped: &str,
    ) -> Result<BufferCounters, prometheus::Error> {
        let name = |suffix: &str| format!("refgrow_{prefix}_{suffix}");
        Ok(BufferCounters {
            flushed: IntCounter::new(
                name("flushed_total"),
                format!("{what} committed to the database"),
            )?,
            write_seconds: Counter::new(
                name("write_seconds_total"),
                format!("Seconds spent writing batches of {what} that were committed"),
            )?,
            refused: IntCounterVec::new(Opts::new(name("refused_total"), refused), &["reason"])?,
            dropped: IntCounterVec::new(Opts::new(name("dropped_total"), dropped), &["reason"])?,
            spilled: IntCounter::new(
                name("spilled_total"),
                format!(
                    "{what} written to the local spill file while the database was unreachable"
                ),
            )?,
            buffered: IntGauge::new(
                name("buffered"),
                format!("{what} held in memory and not yet in the database"),
            )?,
        })
    }

    /// Registers every family.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.flushed.clone()))?;
        registry.register(Box::new(self.write_seconds.clone()))?;
        registry.register(Box::new(self.refused.clone()))?;
        registry.register(Box::new(self.dropped.clone()))?;
        registry.register(Box::new(self.spilled.clone()))?;
        registry.register(Box::new(self.buffered.clone()))
    }
}

/// The most rows a flush reserves room for in the next batch.
const PREALLOCATED_ROWS: usize = 16_384;

struct State<T> {
    /// Accepted, in memory only.
    pending: Vec<T>,
    /// In the fallback, not yet committed.
    kept: Vec<T>,
    /// Taken by the flush in progress, until its outcome is known.
    in_flight: Option<Arc<Vec<T>>>,
    /// Every row not yet committed, by key: whether it is in the fallback.
    held: HashMap<String, bool>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    flush_lock: tokio::sync::Mutex<()>,
    settings: BufferSettings,
    fallback: Option<Arc<dyn Fallback<T>>>,
    counters: BufferCounters,
    wake: tokio::sync::Notify,
}

/// A buffer of rows on their way to a [`Store`]; clones share it.
pub struct Buffer<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        Buffer {
            shared: self.shared.clone(),
        }
    }
}

impl<T: Row> Buffer<T> {
    /// An empty buffer. With a fallback, call [`Buffer::load_fallback`] before use.
    pub fn new(
        settings: BufferSettings,
        fallback: Option<Arc<dyn Fallback<T>>>,
        counters: BufferCounters,
    ) -> Self {
        Buffer {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    pending: Vec::new(),
                    kept: Vec::new(),
                    in_flight: None,
                    held: HashMap::new(),
                }),
                flush_lock: tokio::sync::Mutex::new(()),
                settings,
                fallback,
                counters,
                wake: tokio::sync::Notify::new(),
            }),
        }
    }

    fn name(&self) -> &'static str {
        self.shared.settings.name
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave it inconsistent in a way that loses
        // rows (every change is one push or one take), so a poisoned lock is used as is.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters.
    pub fn counters(&self) -> &BufferCounters {
        &self.shared.counters
    }

    /// Takes up the rows an earlier process left in the fallback (the next flush writes
    /// them). Returns how many.
    pub fn load_fallback(&self) -> io::Result<usize> {
        let Some(fallback) = &self.shared.fallback else {
            return Ok(0);
        };
        let (rows, bad) = fallback.load()?;
        let name = self.name();
        if bad > 0 {
            log::warn!(
                "{name} spill file {}: skipped {bad} torn line(s) (never acknowledged)",
                fallback.location()
            );
        }
        if rows.is_empty() {
            if bad > 0 {
                fallback.replace(&[])?;
            }
            return Ok(0);
        }
        fallback.replace(&rows)?;
        let n = rows.len();
        let mut state = self.lock();
        for r in &rows {
            state.held.insert(r.key().to_string(), true);
        }
        state.kept.extend(rows);
        log::warn!(
            "{name} spill file {}: {n} {name} from an earlier run will be written to the database",
            fallback.location()
        );
        Ok(n)
    }

    /// Accepts a row (in memory). Refuses when the buffer is full.
    pub fn push(&self, row: T) -> Result<(), Refused> {
        let mut state = self.lock();
        if state.held.len() >= self.shared.settings.max_held {
            return Err(Refused::Full);
        }
        state.held.insert(row.key().to_string(), false);
        state.pending.push(row);
        let wake = self
            .shared
            .settings
            .flush_at
            .is_some_and(|n| state.pending.len() >= n);
        drop(state);
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Accepts a row and, when `durable`, writes (or keeps in the fallback) what waits before
    /// answering; a row that could be made durable nowhere is withdrawn, never half-taken.
    pub async fn record<S: Store<T>>(
        &self,
        store: &S,
        row: T,
        durable: bool,
    ) -> Result<(), Refused> {
        let key = row.key().to_string();
        self.push(row)?;
        if !durable {
            return Ok(());
        }
        let _ = self.flush(store).await;
        let mut state = self.lock();
        match state.held.get(&key) {
            None | Some(true) => Ok(()),
            Some(false) => {
                state.held.remove(&key);
                state.pending.retain(|r| r.key() != key);
                Err(Refused::NotDurable)
            }
        }
    }

    /// How many rows are held (not yet committed).
    pub fn len(&self) -> usize {
        self.lock().held.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a row is held and not yet committed (waiting, being written or kept in the
    /// fallback).
    pub fn contains(&self, key: &str) -> bool {
        self.lock().held.contains_key(key)
    }

    /// Writes every waiting row now, then (the store being available) the rows kept in the
    /// fallback. A batch the store refuses goes to the fallback (when there is one) so a
    /// crash does not lose it; otherwise back to the front of the queue. Returns how many
    /// rows were committed.
    pub async fn flush<S: Store<T>>(&self, store: &S) -> Result<usize, S::Error> {
        let _guard = self.shared.flush_lock.lock().await;
        // The next batch starts with room for one as large as this one (up to a bound): a
        // buffer growing from empty at every flush reallocates and copies its rows several
        // times per batch.
        let batch = {
            let mut state = self.lock();
            let room = state.pending.len().min(PREALLOCATED_ROWS);
            std::mem::replace(&mut state.pending, Vec::with_capacity(room))
        };
        let mut written = 0;
        let mut failure = None;
        if !batch.is_empty() {
            let batch = Arc::new(batch);
            let result = match store.available() {
                Err(e) => Err(e),
                Ok(()) => {
                    self.lock().in_flight = Some(batch.clone());
                    let started = Instant::now();
                    let r = store.write(batch.clone()).await;
                    self.lock().in_flight = None;
                    r.map(|()| started.elapsed())
                }
            };
            match result {
                Ok(took) => {
                    self.shared
                        .counters
                        .write_seconds
                        .inc_by(took.as_secs_f64());
                    let mut state = self.lock();
                    for r in batch.iter() {
                        state.held.remove(r.key());
                    }
                    drop(state);
                    written += batch.len();
                    self.shared.counters.flushed.inc_by(batch.len() as u64);
                }
                Err(e) => {
                    // The outcome of a failed commit may be unknown: kept rows are replayed
                    // later, skipping those already stored.
                    let batch = Arc::try_unwrap(batch).unwrap_or_else(|b| (*b).clone());
                    if let Err(why) = self.keep(batch).await {
                        log::error!("{}: spilling failed: {why}", self.name());
                    }
                    failure = Some(e);
                }
            }
        }
        if failure.is_none() && store.available().is_ok() {
            match self.drain(store).await {
                Ok(n) => written += n,
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// Puts a batch in the fallback and marks it kept; without a fallback (silently), or
    /// when keeping fails, back at the front of the queue.
    async fn keep(&self, batch: Vec<T>) -> Result<(), String> {
        let Some(fallback) = self.shared.fallback.clone() else {
            self.requeue(batch);
            return Ok(());
        };
        let n = batch.len();
        let this = self.clone();
        let outcome = tokio::task::spawn_blocking(move || match fallback.keep(&batch) {
            Ok(()) => {
                let mut state = this.lock();
                for r in &batch {
                    state.held.insert(r.key().to_string(), true);
                }
                state.kept.extend(batch);
                Ok(())
            }
            Err(e) => {
                this.requeue(batch);
                Err(format!("{}: {e}", fallback.location()))
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        if outcome.is_ok() {
            self.shared.counters.spilled.inc_by(n as u64);
        }
        outcome
    }

    fn requeue(&self, batch: Vec<T>) {
        let mut state = self.lock();
        let newer = std::mem::take(&mut state.pending);
        state.pending = batch;
        state.pending.extend(newer);
    }

    /// Writes the rows kept in the fallback (skipping those already stored), then empties
    /// the fallback. Called under the flush lock.
    async fn drain<S: Store<T>>(&self, store: &S) -> Result<usize, S::Error> {
        let rows = {
            let state = self.lock();
            if state.kept.is_empty() {
                return Ok(0);
            }
            Arc::new(state.kept.clone())
        };
        let inserted = store.write_replay(rows.clone()).await?;
        let this = self.clone();
        let done = rows.len();
        let trimmed = tokio::task::spawn_blocking(move || {
            let mut state = this.lock();
            let at = done.min(state.kept.len());
            let rest = state.kept.split_off(at);
            for r in rows.iter() {
                state.held.remove(r.key());
            }
            if let Some(fallback) = &this.shared.fallback {
                if let Err(e) = fallback.replace(&rest) {
                    // The rows are stored: a replay would skip them.
                    log::error!("{}: cannot empty {}: {e}", this.name(), fallback.location());
                }
            }
            state.kept = rest;
        })
        .await;
        if let Err(e) = trimmed {
            log::error!("{}: trimming the spill file failed: {e}", self.name());
        }
        self.shared.counters.flushed.inc_by(inserted as u64);
        log::info!(
            "{}: wrote {inserted} spilled rows to the database ({done} drained)",
            self.name()
        );
        Ok(inserted)
    }

    /// The graceful stop: writes everything held, retrying until `timeout`; then puts what is
    /// still only in memory in the fallback. Logs and returns the counts.
    pub async fn stop<S: Store<T>>(&self, store: &S, timeout: Duration) -> StopReport {
        let name = self.name();
        let started = Instant::now();
        let held = self.len();
        let mut report = StopReport::default();
        if held > 0 {
            log::info!("stopping: writing {held} held {name} (at most {timeout:?})");
        }
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.flush(store)).await {
                Ok(Ok(n)) => report.written += n,
                Ok(Err(e)) => log::warn!("stopping: writing {name} failed, retrying: {e}"),
                Err(_) => log::warn!("stopping: writing {name} did not finish in {timeout:?}"),
            }
            if self.is_empty() || started.elapsed() >= timeout {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200).min(timeout)).await;
        }
        // What is still only in memory, including a write that never answered (if it did
        // commit, the replay skips those keys), goes to the fallback.
        if self.shared.fallback.is_some() {
            let left = {
                let mut state = self.lock();
                let mut left: Vec<T> = state
                    .in_flight
                    .take()
                    .map(|b| b.iter().cloned().collect())
                    .unwrap_or_default();
                left.extend(std::mem::take(&mut state.pending));
                left
            };
            if !left.is_empty() {
                if let Err(e) = self.keep(left).await {
                    log::error!("stopping: cannot spill {name}: {e}");
                }
            }
        }
        let state = self.lock();
        report.spilled = state.kept.len();
        report.lost = state.held.values().filter(|kept| !**kept).count();
        drop(state);
        if report.lost > 0 {
            log::error!(
                "stopping: {} {name} could not be written to the database nor to a spill file \
                 and are lost ({} written, {} spilled)",
                report.lost,
                report.written,
                report.spilled
            );
        } else if report.spilled > 0 {
            log::warn!(
                "stopping: {} {name} written, {} left in the spill file {} (written at the \
                 next start)",
                report.written,
                report.spilled,
                self.shared
                    .fallback
                    .as_ref()
                    .map(|f| f.location())
                    .unwrap_or_default()
            );
        } else if held > 0 {
            log::info!("stopping: all {} held {name} written", report.written);
        }
        report
    }
}

/// Flushes `buffer` into `store` every `every` (and as soon as `flush_at` rows wait) until
/// the process stops; a failed flush is handed to `on_error` and retried on the next round.
pub fn spawn_flusher<T, S>(
    buffer: Buffer<T>,
    store: S,
    every: Duration,
    on_error: impl Fn(&S::Error) + Send + 'static,
) where
    T: Row,
    S: Store<T>,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = buffer.shared.wake.notified() => {}
            }
            if let Err(e) = buffer.flush(&store).await {
                on_error(&e);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct R(String);

    impl Row for R {
        fn key(&self) -> &str {
            &self.0
        }
    }

    /// A store that can be down, remembering what it was given.
    #[derive(Clone, Default)]
    struct Mem {
        down: Arc<AtomicBool>,
        rows: Arc<Mutex<Vec<R>>>,
    }

    impl Store<R> for Mem {
        type Error = String;

        fn available(&self) -> Result<(), String> {
            if self.down.load(Ordering::SeqCst) {
                Err("down".into())
            } else {
                Ok(())
            }
        }

        async fn write(&self, batch: Arc<Vec<R>>) -> Result<(), String> {
            self.available()?;
            self.rows
                .lock()
                .map_err(|e| e.to_string())?
                .extend(batch.iter().cloned());
            Ok(())
        }

        async fn write_replay(&self, rows: Arc<Vec<R>>) -> Result<usize, String> {
            let mut stored = self.rows.lock().map_err(|e| e.to_string())?;
            let fresh: Vec<R> = rows
                .iter()
                .filter(|r| !stored.contains(r))
                .cloned()
                .collect();
            stored.extend(fresh.iter().cloned());
            Ok(fresh.len())
        }
    }

    fn buffer(max: usize, fallback: Option<Arc<dyn Fallback<R>>>) -> Buffer<R> {
        Buffer::new(
            BufferSettings {
                name: "rows",
                max_held: max,
                flush_at: None,
            },
            fallback,
            BufferCounters::new("test_rows", "Rows", "refused", "dropped").expect("counters"),
        )
    }

    fn r(k: &str) -> R {
        R(k.into())
    }

    #[tokio::test]
    async fn bounded_indexed_and_written_in_batches() {
        let b = buffer(2, None);
        let store = Mem::default();
        b.push(r("a")).expect("a");
        b.push(r("b")).expect("b");
        assert_eq!(b.push(r("c")), Err(Refused::Full));
        assert!(b.contains("a") && !b.contains("c"));
        assert_eq!(b.flush(&store).await, Ok(2));
        assert!(b.is_empty() && !b.contains("a"));
        assert_eq!(b.counters().flushed.get(), 2);
        assert_eq!(store.rows.lock().expect("rows").len(), 2);
    }

    #[tokio::test]
    async fn without_a_fallback_a_refused_batch_waits_in_order() {
        let b = buffer(10, None);
        let store = Mem::default();
        b.push(r("a")).expect("a");
        store.down.store(true, Ordering::SeqCst);
        assert!(b.flush(&store).await.is_err());
        b.push(r("b")).expect("b");
        assert!(b.contains("a"));
        assert_eq!(
            b.record(&store, r("c"), true).await,
            Err(Refused::NotDurable),
            "durable nowhere: withdrawn"
        );
        assert!(!b.contains("c"));
        let stopped = b.stop(&store, Duration::from_millis(10)).await;
        assert_eq!((stopped.written, stopped.spilled, stopped.lost), (0, 0, 2));
        store.down.store(false, Ordering::SeqCst);
        assert_eq!(b.flush(&store).await, Ok(2));
        assert_eq!(*store.rows.lock().expect("rows"), vec![r("a"), r("b")]);
    }

    #[tokio::test]
    async fn with_a_fallback_a_refused_batch_is_kept_and_replayed_once() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("rows.spill");
        let fallback: Arc<dyn Fallback<R>> = Arc::new(spill::Spill::<R>::new(&path));
        let b = buffer(10, Some(fallback.clone()));
        let store = Mem::default();
        store.down.store(true, Ordering::SeqCst);
        assert_eq!(
            b.record(&store, r("a"), true).await,
            Ok(()),
            "kept: durable"
        );
        assert!(b.contains("a") && path.exists());
        assert_eq!(b.counters().spilled.get(), 1);
        // A later process takes it up; the store already has it once.
        let again = buffer(10, Some(fallback));
        assert_eq!(again.load_fallback().expect("load"), 1);
        store.down.store(false, Ordering::SeqCst);
        store.rows.lock().expect("rows").push(r("a"));
        assert_eq!(again.flush(&store).await, Ok(0), "already stored: skipped");
        assert!(again.is_empty() && !path.exists());
        assert_eq!(store.rows.lock().expect("rows").len(), 1);
    }

    #[tokio::test]
    async fn the_flusher_wakes_early_once_a_batch_waits() {
        let b = Buffer::new(
            BufferSettings {
                name: "rows",
                max_held: 100,
                flush_at: Some(3),
            },
            None,
            BufferCounters::new("test_rows", "Rows", "refused", "dropped").expect("counters"),
        );
        let store = Mem::default();
        spawn_flusher(b.clone(), store.clone(), Duration::from_secs(3600), |_| {});
        // Until the flusher has taken what waits (bounded: a missed wake fails the test).
        let taken = || async {
            for _ in 0..2000 {
                if b.is_empty() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            false
        };
        // The first tick of an interval is at once; after it, nothing for an hour...
        b.push(r("z")).expect("push");
        assert!(taken().await);
        b.push(r("a")).expect("push");
        b.push(r("b")).expect("push");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(b.len(), 2, "below flush_at: waits for the interval");
        // ... unless a batch's worth waits.
        b.push(r("c")).expect("push");
        assert!(taken().await);
        assert!(b.is_empty(), "written long before the hour is up");
    }
}
