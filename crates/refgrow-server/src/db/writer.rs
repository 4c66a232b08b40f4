//! Group commit for SQLite's single writer.
//!
//! SQLite allows one writer at a time, so on SQLite every write goes through this queue: a
//! dedicated thread takes every job that is waiting (up to [`MAX_BATCH`]), runs each in its
//! own savepoint inside one transaction, commits once, and only then answers each caller.
//! A job that fails rolls back its savepoint alone; a failed commit fails every job of the
//! batch. Callers see exactly the semantics of one transaction per call (results are only
//! reported after the data is committed), but pages shared by many writes (an affiliate's
//! row, a day's rollup, index pages) are written once per batch instead of once per call.
//! PostgreSQL does not need this: its pool writes concurrently.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use tokio::sync::oneshot;

use super::{DbConn, Pool};
use crate::error::ApiError;

/// The most jobs one transaction takes.
pub const MAX_BATCH: usize = 512;
/// The most jobs that may wait; past it writes are refused with 503.
pub const MAX_QUEUED: usize = 20_000;

type Finish = Box<dyn FnOnce(Option<ApiError>) + Send>;

trait Job: Send {
    fn run(self: Box<Self>, c: &mut DbConn) -> Finish;
    /// Answers the caller without running (the writer has no connection).
    fn fail(self: Box<Self>, e: ApiError);
}

struct Call<T, F> {
    f: F,
    reply: oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Job for Call<T, F>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send,
    T: Send + 'static,
{
    fn run(self: Box<Self>, c: &mut DbConn) -> Finish {
        let Call { f, reply } = *self;
        let result = c.transaction::<T, ApiError, _>(f);
        Box::new(move |commit_error| {
            let _ = reply.send(match commit_error {
                Some(e) => Err(e),
                None => result,
            });
        })
    }

    fn fail(self: Box<Self>, e: ApiError) {
        let _ = self.reply.send(Err(e));
    }
}

/// The queue in front of the writer thread; clones share it.
#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread over the (single-connection) writing pool.
    pub fn start(pool: Pool) -> Result<Writer, std::io::Error> {
        let (queue, jobs) = sync_channel::<Box<dyn Job>>(MAX_QUEUED);
        std::thread::Builder::new()
            .name("refgrow-sqlite-writer".into())
            .spawn(move || run(pool, jobs))?;
        Ok(Writer { queue })
    }

    /// Queues `f` and waits until its batch has committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        match self.queue.try_send(Box::new(Call { f, reply })) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ApiError::busy("the write queue is full")),
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal("the writer thread is gone"))
            }
        }
        // A job is answered unless it panicked (a bug; the writer rolled its batch back):
        // when the writer has no connection it answers each job with a 503 itself.
        answer
            .await
            .map_err(|_| ApiError::internal("a write was dropped without an answer"))?
    }
}

fn run(pool: Pool, jobs: Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut conn = match pool.get() {
            Ok(c) => c,
            Err(e) => {
                log::error!("the writer cannot get a connection: {e}");
                for job in batch {
                    job.fail(ApiError::unavailable("the SQLite writer has no connection"));
                }
                continue;
            }
        };
        let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            conn.transaction::<(), ApiError, _>(|c| {
                for job in batch {
                    finishes.push(job.run(c));
                }
                Ok(())
            })
        }));
        let commit_error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => {
                log::error!("a write panicked; its batch was rolled back");
                let _ = conn.batch_execute("ROLLBACK");
                Some(ApiError::internal("a write panicked"))
            }
        };
        drop(conn);
        if commit_error.is_some() {
            // What the batch wrote is gone; caches filled from it must go too.
            crate::db::programs::cache::clear();
        }
        for finish in finishes {
            finish(commit_error.clone());
        }
    }
}
