//! Password hashing with bounded memory and CPU. An argon2id hash or check costs 19 MiB and tens of
//! milliseconds of one core, and sign-in is open to anyone: without a bound, 64 parallel sign-ins took
//! the process to 2.2 GiB. The pool runs at most `CLOUDVAULT_PASSWORD_HASH_CONCURRENCY` (default 2)
//! at once; a few more wait up to [`QUEUE_WAIT`]; everything beyond answers "busy" at once (the console
//! API's 503 with `Retry-After`).
//!
//! The work runs on the pool's own threads, one per slot, never on tokio's blocking pool: the allocator
//! keeps a freed 19 MiB block in the arena of the thread that used it, so hashes spread over hundreds
//! of blocking threads would each leave one behind. With dedicated threads the memory argon2 can ever
//! hold is the slot count times 19 MiB.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::secrets::{hash_password, verify_password};

/// How long a password check waits for a free slot before answering busy.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// Waiting checks allowed per running slot; more are refused without waiting.
pub const QUEUE_PER_SLOT: usize = 4;

/// The pool is full: retry shortly.
#[derive(Debug, thiserror::Error)]
#[error("password hashing is busy; retry shortly")]
pub struct Busy;

/// One unit of work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// The bounded pool of password hashing (see the module docs).
#[derive(Debug)]
pub struct PasswordPool {
    running: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    jobs: std::sync::mpsc::Sender<Job>,
}

impl PasswordPool {
    /// A pool running at most `concurrency` hashes at once (at least one), on as many threads of its
    /// own. The threads end when the pool is dropped.
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("password-{n}")).spawn(move || {
                loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        PasswordPool {
            running: tokio::sync::Semaphore::new(concurrency),
            waiting: AtomicUsize::new(0),
            max_waiting: concurrency * QUEUE_PER_SLOT,
            jobs,
        }
    }

    /// Runs `work` on one of the pool's threads once a slot is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let slot = tokio::time::timeout(QUEUE_WAIT, self.running.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _slot = slot.map_err(|_| Busy)?.map_err(|_| Busy)?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).map_err(|_| Busy)?;
        result.await.map_err(|_| Busy)
    }

    /// Whether `password` matches the stored argon2 `hash`.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, Busy> {
        self.run(move || verify_password(&password, &hash)).await
    }

    /// A new argon2id hash of `password`.
    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        self.run(move || hash_password(&password)).await?.map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            Busy
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_queue_checks_are_refused_at_once() {
        let pool = std::sync::Arc::new(PasswordPool::new(1));
        let hash = hash_password("right password").expect("hash");
        let tries: Vec<_> = (0..12)
            .map(|_| {
                let (pool, hash) = (pool.clone(), hash.clone());
                tokio::spawn(async move { pool.verify("wrong".into(), hash).await })
            })
            .collect();
        let mut busy = 0;
        for t in tries {
            match t.await.expect("join") {
                Ok(ok) => assert!(!ok),
                Err(Busy) => busy += 1,
            }
        }
        assert!(busy >= 12 - 1 - QUEUE_PER_SLOT, "{busy} of 12 refused as busy");
        assert!(pool.verify("right password".into(), hash).await.expect("a free pool answers"));
    }
}
