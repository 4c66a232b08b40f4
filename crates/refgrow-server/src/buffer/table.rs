//! A database table as a buffer's [`Store`]: the store of clicks and of audit entries.

use std::sync::Arc;

use diesel::QueryResult;

use super::{Row, Store};
use crate::db::{Db, DbConn};
use crate::error::ApiError;

/// Writes a batch of rows, all or nothing (in one transaction).
pub type WriteRows<T> = fn(&mut DbConn, &[T]) -> QueryResult<()>;
/// Writes replayed rows, skipping those already stored; returns how many were new.
pub type ReplayRows<T> = fn(&mut DbConn, &[T]) -> QueryResult<usize>;

/// A table written through [`Db::write`]: refuses at once while the database is known to
/// be down, so a batch goes straight to the buffer's fallback.
pub struct TableStore<T> {
    db: Db,
    write: WriteRows<T>,
    replay: Option<ReplayRows<T>>,
}

impl<T> TableStore<T> {
    /// Batches written with `write`; replays too, as batches.
    pub fn new(db: Db, write: WriteRows<T>) -> Self {
        TableStore {
            db,
            write,
            replay: None,
        }
    }

    /// Replays written with `replay` instead.
    pub fn with_replay(mut self, replay: ReplayRows<T>) -> Self {
        self.replay = Some(replay);
        self
    }
}

impl<T: Row> Store<T> for TableStore<T> {
    type Error = ApiError;

    fn available(&self) -> Result<(), ApiError> {
        if self.db.is_down() {
            Err(ApiError::unavailable("known down"))
        } else {
            Ok(())
        }
    }

    async fn write(&self, batch: Arc<Vec<T>>) -> Result<(), ApiError> {
        let write = self.write;
        self.db.write(move |c| Ok(write(c, &batch)?)).await
    }

    async fn write_replay(&self, rows: Arc<Vec<T>>) -> Result<usize, ApiError> {
        match self.replay {
            Some(replay) => self.db.write(move |c| Ok(replay(c, &rows)?)).await,
            None => {
                let n = rows.len();
                self.write(rows).await.map(|()| n)
            }
        }
    }
}
