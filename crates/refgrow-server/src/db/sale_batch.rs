//! Group commit for sales on PostgreSQL: many sales written by one statement.
//!
//! A sale whose price needs no lock (see `services::conversions::plan_sale`) is queued here
//! with its [`Plan`]: how to read and price it. A writer thread takes every sale that is
//! waiting (up to [`MAX_BATCH`]), reads the affiliates the sales name with one query
//! ([`super::affiliates::find_many_with_program`]), runs each sale's plan on its
//! connection, and writes every planned sale with one statement
//! ([`super::sales::write_pg`]), outside any explicit transaction: one statement is atomic,
//! so the batch commits or fails as one, and each caller is answered only after the commit.
//! Per sale, PostgreSQL no longer parses a query, starts an executor, a transaction and a
//! WAL flush of its own: a batch of any size costs two round trips.
//!
//! Why the reads are made by the writer too: with the reads made per request on pooled
//! connections, a request spent most of its time there, few waited for the writer, and the
//! batches were small (about 4 sales with two server processes on one database, 11 with
//! one). The fixed cost of a batch then made two replicas on one database slower than one.
//! Reading with the batch keeps nearly every request that waits in the writer's queue, so
//! batches grow with the load, and a sale's share of a batch's cost shrinks with it.
//!
//! Nothing about a sale changes: its conversion is inserted unless its order id is taken
//! (`ON CONFLICT DO NOTHING`, decided by the unique constraint, across replicas), and then
//! everything it earns is inserted in the same statement; else nothing of it is. Rows are
//! inserted in `(program, order id)` order, so two batches (of two replicas) holding the
//! same order ids wait on each other in one order and cannot deadlock. A batch that fails
//! (a constraint, a deadlock, a bug) is written again sale by sale, so one bad sale fails
//! alone; a lost connection fails every sale of the batch with a 503.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::affiliates::{find_many_with_program, SaleContext};
use super::sales::{write_pg, SaleWrite};
use super::{DbConn, Pool};
use crate::error::ApiError;

/// The most sales one statement writes.
pub const MAX_BATCH: usize = 256;
/// The most sales that may wait; past it sales are refused with 503.
pub const MAX_QUEUED: usize = 20_000;
/// Pipelines (a planning thread and a writing thread each). One: while a batch is written
/// the next is planned, and sales gather in the queue meanwhile. Every pipeline of every
/// server writes its own batches concurrently, and PostgreSQL's cost per batch is high
/// (`bench-tracking`, perf: about 0.9 ms of its CPU per batch with four writers on two
/// cores): more pipelines write more, smaller batches, and the sum is slower.
pub const WRITERS: usize = 1;
/// Planned batches that may wait for the writing thread.
const PLANNED_BATCHES: usize = 2;

/// How a queued sale is read and priced on the writer's connection, given its affiliate's
/// [`SaleContext`] when the writer read it with the batch (None: not asked for, or not
/// found). Answers the sale to write, or None when it needs a transaction of its own.
pub type Plan =
    Box<dyn FnOnce(&mut DbConn, Option<SaleContext>) -> Result<Option<SaleWrite>, ApiError> + Send>;

/// What became of a queued sale.
pub enum Outcome {
    /// Written in a batch: the sale, and whether its conversion was inserted (false: its
    /// order id was taken, and nothing of it was written).
    Written(Box<SaleWrite>, bool),
    /// Its plan answered None: record it in a transaction.
    NeedsTransaction,
}

struct Job {
    /// (program id, affiliate id) whose sale context the writer reads for the plan.
    affiliate: Option<(String, String)>,
    plan: Plan,
    reply: oneshot::Sender<Result<Outcome, ApiError>>,
}

/// A planned sale waiting for its batch's statement.
struct Ready {
    sale: SaleWrite,
    reply: oneshot::Sender<Result<Outcome, ApiError>>,
}

/// The queue in front of the sale writers; clones share it.
#[derive(Clone)]
pub struct SaleBatcher {
    queue: SyncSender<Job>,
}

impl SaleBatcher {
    /// Starts the pipelines over the pool: each a planning thread and a writing thread.
    pub fn start(pool: Pool, pipelines: usize) -> Result<SaleBatcher, std::io::Error> {
        let (queue, jobs) = sync_channel::<Job>(MAX_QUEUED);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..pipelines.max(1) {
            let (planned, ready) = sync_channel::<Vec<Ready>>(PLANNED_BATCHES);
            let (pool_p, pool_w, jobs) = (pool.clone(), pool.clone(), jobs.clone());
            std::thread::Builder::new()
                .name(format!("refgrow-plan-{i}"))
                .spawn(move || plan_loop(pool_p, jobs, planned))?;
            std::thread::Builder::new()
                .name(format!("refgrow-sales-{i}"))
                .spawn(move || write_loop(pool_w, ready))?;
        }
        Ok(SaleBatcher { queue })
    }

    /// Queues a sale and waits until its batch has committed (or its plan has failed, or
    /// answered that it needs a transaction). `affiliate`: (program id, affiliate id) whose
    /// context the plan is given.
    pub async fn write(
        &self,
        affiliate: Option<(String, String)>,
        plan: Plan,
    ) -> Result<Outcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            affiliate,
            plan,
            reply,
        };
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ApiError::busy("the sale queue is full")),
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal("the sale writers are gone"))
            }
        }
        answer
            .await
            .map_err(|_| ApiError::internal("a sale was dropped without an answer"))?
    }
}

/// Takes the next batch: blocks for the first job, then takes what else is waiting.
fn next_batch(jobs: &Mutex<Receiver<Job>>) -> Option<Vec<Job>> {
    let jobs = jobs.lock().unwrap_or_else(|e| e.into_inner());
    let first = jobs.recv().ok()?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The planning thread: takes every waiting sale, reads and prices them, and hands the
/// batch to its writing thread (waiting while that one is behind, so sales gather in the
/// queue meanwhile).
fn plan_loop(pool: Pool, jobs: Arc<Mutex<Receiver<Job>>>, planned: SyncSender<Vec<Ready>>) {
    while let Some(batch) = next_batch(&jobs) {
        let mut conn = match pool.get() {
            Ok(c) => c,
            Err(e) => {
                let e = super::pool_error(e);
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
                continue;
            }
        };
        let ready = plan_batch(&mut conn, batch);
        drop(conn);
        if !ready.is_empty() && planned.send(ready).is_err() {
            return;
        }
    }
}

/// The writing thread: writes every batch planned meanwhile with one statement.
fn write_loop(pool: Pool, planned: Receiver<Vec<Ready>>) {
    while let Ok(mut batch) = planned.recv() {
        while batch.len() < MAX_BATCH {
            match planned.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        match pool.get() {
            Ok(mut conn) => write_batch(&mut conn, batch),
            Err(e) => {
                let e = super::pool_error(e);
                for r in batch {
                    let _ = r.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Reads the affiliates the batch names with one query, then runs each sale's plan; answers
/// at once the sales that fail or need a transaction, and returns the others.
fn plan_batch(conn: &mut DbConn, batch: Vec<Job>) -> Vec<Ready> {
    let mut contexts = HashMap::new();
    let mut ids: Vec<&str> = batch
        .iter()
        .filter_map(|j| j.affiliate.as_ref().map(|(_, a)| a.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if let (false, DbConn::Pg(pg)) = (ids.is_empty(), &mut *conn) {
        match find_many_with_program(pg, &ids) {
            Ok(found) => contexts = found,
            Err(e) => {
                let e = ApiError::from(e);
                if e.is_db_down() {
                    for job in batch {
                        let _ = job.reply.send(Err(e.clone()));
                    }
                    return Vec::new();
                }
                // Each plan reads what it needs by itself.
                log::warn!(
                    "reading the affiliates of a sale batch failed: {}",
                    e.message
                );
            }
        }
    }
    let mut ready = Vec::with_capacity(batch.len());
    for Job {
        affiliate,
        plan,
        reply,
    } in batch
    {
        let context = affiliate.and_then(|k| contexts.get(&k).cloned());
        let planned =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan(conn, context)))
                .unwrap_or_else(|_| Err(ApiError::internal("planning a sale panicked")));
        match planned {
            Ok(Some(sale)) => ready.push(Ready { sale, reply }),
            Ok(None) => {
                let _ = reply.send(Ok(Outcome::NeedsTransaction));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }
    ready
}

fn write_one(conn: &mut DbConn, sales: &[&SaleWrite]) -> Result<Vec<String>, ApiError> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match conn {
        DbConn::Pg(pg) => write_pg(pg, sales).map_err(ApiError::from),
        DbConn::Sqlite(_) => Err(ApiError::internal("sale batches are for PostgreSQL")),
    }));
    outcome.unwrap_or_else(|_| Err(ApiError::internal("writing a sale panicked")))
}

fn answer(r: Ready, inserted: &[String]) {
    let was = inserted.contains(&r.sale.conversion.id);
    let _ = r.reply.send(Ok(Outcome::Written(Box::new(r.sale), was)));
}

fn write_batch(conn: &mut DbConn, batch: Vec<Ready>) {
    let sales: Vec<&SaleWrite> = batch.iter().map(|r| &r.sale).collect();
    match write_one(conn, &sales) {
        Ok(inserted) => {
            drop(sales);
            for r in batch {
                answer(r, &inserted);
            }
        }
        Err(e) if batch.len() == 1 || e.is_db_down() => {
            drop(sales);
            for r in batch {
                let _ = r.reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            // Nothing of the batch was written: write each sale alone, so that one that
            // cannot be written fails by itself.
            log::warn!(
                "a batch of {} sales failed ({}); writing them one by one",
                batch.len(),
                e.message
            );
            drop(sales);
            for r in batch {
                match write_one(conn, &[&r.sale]) {
                    Ok(inserted) => answer(r, &inserted),
                    Err(e) => {
                        let _ = r.reply.send(Err(e));
                    }
                }
            }
        }
    }
}
