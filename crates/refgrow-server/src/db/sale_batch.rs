//! Group commit for sales on PostgreSQL: many sales written by one statement.
//!
//! A sale whose price needs no lock (see `services::conversions::plan_sale`) is read and
//! priced on a pooled connection, then handed here already complete ([`SaleWrite`]). A few
//! writer threads each take every sale that is waiting (up to [`MAX_BATCH`]) and write them
//! with one statement ([`super::sales::write_pg`]), outside any explicit transaction: one
//! statement is atomic, so the batch commits or fails as one, and each caller is answered
//! only after the commit. Per sale, PostgreSQL no longer starts an executor, a transaction
//! and a WAL flush of its own, and the server makes one round trip where it made four.
//!
//! Nothing about a sale changes: its conversion is inserted unless its order id is taken
//! (`ON CONFLICT DO NOTHING`, decided by the unique constraint, across replicas), and then
//! everything it earns is inserted in the same statement; else nothing of it is. Rows are
//! inserted in `(program, order id)` order, so two batches (of two replicas) holding the
//! same order ids wait on each other in one order and cannot deadlock. A batch that fails
//! (a constraint, a deadlock, a bug) is written again sale by sale, so one bad sale fails
//! alone; a lost connection fails every sale of the batch with a 503.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::sales::{write_pg, SaleWrite};
use super::{DbConn, Pool};
use crate::error::ApiError;

/// The most sales one statement writes.
pub const MAX_BATCH: usize = 256;
/// The most sales that may wait; past it sales are refused with 503.
pub const MAX_QUEUED: usize = 20_000;
/// Writer threads: while one batch waits for its commit, the next is being written.
pub const WRITERS: usize = 3;

struct Job {
    sale: SaleWrite,
    /// The sale back, and whether its conversion was inserted (false: its order id was
    /// taken).
    reply: oneshot::Sender<Result<(SaleWrite, bool), ApiError>>,
}

/// The queue in front of the sale writers; clones share it.
#[derive(Clone)]
pub struct SaleBatcher {
    queue: SyncSender<Job>,
}

impl SaleBatcher {
    /// Starts the writer threads over the pool.
    pub fn start(pool: Pool) -> Result<SaleBatcher, std::io::Error> {
        let (queue, jobs) = sync_channel::<Job>(MAX_QUEUED);
        let jobs = Arc::new(Mutex::new(jobs));
        let writers = std::env::var("REFGROW_SALE_WRITERS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| (1..=32).contains(n))
            .unwrap_or(WRITERS);
        for i in 0..writers {
            let (pool, jobs) = (pool.clone(), jobs.clone());
            std::thread::Builder::new()
                .name(format!("refgrow-sales-{i}"))
                .spawn(move || run(pool, jobs))?;
        }
        Ok(SaleBatcher { queue })
    }

    /// Queues a sale and waits until its batch has committed; answers the sale back with
    /// true when its conversion was inserted, false when its order id was already taken
    /// (nothing of it was written).
    pub async fn write(&self, sale: SaleWrite) -> Result<(SaleWrite, bool), ApiError> {
        let (reply, answer) = oneshot::channel();
        match self.queue.try_send(Job { sale, reply }) {
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

fn run(pool: Pool, jobs: Arc<Mutex<Receiver<Job>>>) {
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
        write_batch(&mut conn, batch);
    }
}

fn write_one(conn: &mut DbConn, sales: &[&SaleWrite]) -> Result<Vec<String>, ApiError> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match conn {
        DbConn::Pg(pg) => write_pg(pg, sales).map_err(ApiError::from),
        DbConn::Sqlite(_) => Err(ApiError::internal("sale batches are for PostgreSQL")),
    }));
    outcome.unwrap_or_else(|_| Err(ApiError::internal("writing a sale panicked")))
}

fn write_batch(conn: &mut DbConn, batch: Vec<Job>) {
    let sales: Vec<&SaleWrite> = batch.iter().map(|j| &j.sale).collect();
    match write_one(conn, &sales) {
        Ok(inserted) => {
            drop(sales);
            for job in batch {
                let was = inserted.contains(&job.sale.conversion.id);
                let _ = job.reply.send(Ok((job.sale, was)));
            }
        }
        Err(e) if batch.len() == 1 || e.is_db_down() => {
            drop(sales);
            for job in batch {
                let _ = job.reply.send(Err(e.clone()));
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
            for job in batch {
                let result = write_one(conn, &[&job.sale])
                    .map(|inserted| inserted.contains(&job.sale.conversion.id));
                let _ = job.reply.send(result.map(|was| (job.sale, was)));
            }
        }
    }
}
