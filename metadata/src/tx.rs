//! Write transactions that either really commit or report why they did not.
//!
//! sqlx's own `Transaction` tracks its nesting depth in the connection. When SQLite rolls a
//! transaction back by itself (`SQLITE_FULL`, `SQLITE_IOERR`: the volume is full) and sqlx's ROLLBACK
//! then fails, that depth stays at one, and every later `begin()` on the connection opens a
//! SAVEPOINT instead of a transaction: "commits" only release savepoints, clients get 200s, and a
//! restart loses all of it. A lost MySQL connection mid-transaction is the same shape of hazard.
//!
//! [`WriteTx`] removes the hazard by construction: it issues `BEGIN` and `COMMIT` itself (sqlx never
//! believes a transaction is open), and the connection goes back to the pool **only after a COMMIT
//! that succeeded**, the one state in which it is proven to be outside a transaction. On every other
//! path (an error in any statement, a failed COMMIT, an early return, a cancelled request) the
//! connection is closed instead, which makes the database roll back whatever was open. What a crash
//! leaves behind: nothing of an uncommitted transaction; the next connection starts clean.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor};

use crate::error::MetaResult;
use crate::store::{Backend, MetaStore};

/// An open write transaction on a connection of the writer pool. Dereferences to the connection, so
/// statements run with `.execute(&mut **tx)` (or `&mut *tx` when owned). Dropped without
/// [`WriteTx::commit`], the connection is closed, never reused.
pub(crate) struct WriteTx {
    conn: PoolConnection<Any>,
    /// Set by a successful COMMIT: only then may the connection serve another request.
    committed: bool,
}

impl WriteTx {
    /// Begins a write transaction. On SQLite `BEGIN IMMEDIATE` takes the write lock up front, so a
    /// transaction never fails half-way to upgrade its lock.
    pub(crate) async fn begin(store: &MetaStore) -> MetaResult<Self> {
        let conn = store.writer.acquire().await?;
        let mut tx = WriteTx { conn, committed: false };
        let begin = match store.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::MySql => "BEGIN",
        };
        tx.conn.execute(begin).await?;
        Ok(tx)
    }

    /// Commits. `Ok` means the database acknowledged the COMMIT; any error reaches the caller (and the
    /// connection is discarded, so whatever state it was left in dies with it).
    pub(crate) async fn commit(mut self) -> MetaResult<()> {
        self.conn.execute("COMMIT").await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.committed {
            // Closing the connection rolls back anything still open on the server side.
            self.conn.close_on_drop();
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}
