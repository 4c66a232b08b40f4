//! SQLite's WAL checkpoints, off the writer thread.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies them
//! back into the database file (and fsyncs it) so the WAL can start over. By default the
//! connection that commits past 1,000 WAL pages runs that checkpoint itself, inside its
//! commit: on Refgrow that is the single writer thread ([`super::writer`]), which every
//! write waits for. Under sales, perf put the checkpoints at about 9% of that thread's time,
//! while the machine's other core sat partly idle.
//!
//! So a thread of its own, on a connection of its own, runs a `PASSIVE` checkpoint every
//! [`EVERY`]: it copies what it can without blocking the writer or the readers. The
//! writer's own automatic checkpoint stays, at [`WRITER_AUTOCHECKPOINT_PAGES`], as the
//! bound on the WAL should this thread fall behind or fail: the WAL only starts over from
//! its beginning when a checkpoint has copied everything, which a busy writer may keep
//! this thread from ever seeing.

use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::{ConnectionManager, DbConn, DbSetupError};

/// How often the checkpoint runs.
pub const EVERY: Duration = Duration::from_millis(100);

/// The WAL size, in pages, past which the writer checkpoints in its own commit.
pub const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8_000;

/// Sets the writer's connections' automatic checkpoint to [`WRITER_AUTOCHECKPOINT_PAGES`].
#[derive(Debug, Clone, Copy)]
pub struct WriterPragmas;

impl r2d2::CustomizeConnection<DbConn, DbSetupError> for WriterPragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), DbSetupError> {
        conn.batch_execute(&format!(
            "PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES};"
        ))
        .map_err(|e| DbSetupError::Connect {
            backend: "SQLite",
            reason: e.to_string(),
        })
    }
}

/// The running checkpoint thread: it stops once the last clone of this handle is dropped.
#[derive(Clone)]
pub struct Checkpointer {
    _alive: Arc<()>,
}

/// Starts the thread over connections from `manager`.
pub fn start(manager: ConnectionManager) -> std::io::Result<Checkpointer> {
    let alive = Arc::new(());
    let watch = Arc::downgrade(&alive);
    std::thread::Builder::new()
        .name("refgrow-sqlite-checkpoint".into())
        .spawn(move || run(&manager, &watch))?;
    Ok(Checkpointer { _alive: alive })
}

fn run(manager: &ConnectionManager, alive: &Weak<()>) {
    let mut conn: Option<DbConn> = None;
    let mut failing = false;
    while alive.strong_count() > 0 {
        std::thread::sleep(EVERY);
        if conn.is_none() {
            conn = manager.open().ok();
        }
        let Some(DbConn::Sqlite(c)) = conn.as_mut() else {
            continue;
        };
        match c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
            Ok(()) => failing = false,
            Err(e) => {
                if !failing {
                    log::warn!("SQLite checkpoint failed (the writer checkpoints instead): {e}");
                }
                failing = true;
                conn = None;
            }
        }
    }
}
