//! Free space on the data volume: a full disk is an answer (503), not a trap.
//!
//! - A write is refused up front while the volume has less than `CLOUDVAULT_MIN_FREE_BYTES` free after
//!   the announced body ([`Volume::check_room`]), so a client gets 503 before sending its bytes.
//! - A reserve file (`reserve.ballast`, `CLOUDVAULT_RESERVE_BYTES`) holds space back. When a write runs
//!   into ENOSPC anyway (concurrent uploads, another tenant of the volume) the reserve is released
//!   ([`Volume::release_reserve`]), so the metadata store (SQLite's WAL on the same volume) can still
//!   commit deletes, which is how space comes back. The janitor puts the reserve back once there is room
//!   again ([`Volume::restore_reserve`]).
//!
//! What a crash leaves behind: at worst a reserve file of the wrong size, rewritten at the next start.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{EngineError, EngineResult};

/// The data volume's free-space policy.
#[derive(Debug, Clone)]
pub struct Volume {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    min_free: u64,
    reserve: PathBuf,
    reserve_bytes: u64,
}

/// Free bytes available to this process on the volume holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let stats = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// Whether an I/O error means the volume (or a quota) is full.
pub fn is_storage_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

impl Volume {
    /// The policy for the volume at `root`: keep `min_free` bytes free, hold `reserve_bytes` back.
    pub fn new(root: &Path, min_free: u64, reserve_bytes: u64) -> Self {
        Volume {
            inner: Arc::new(Inner {
                root: root.to_owned(),
                min_free,
                reserve: root.join("reserve.ballast"),
                reserve_bytes,
            }),
        }
    }

    /// Refuses a write of `incoming` bytes with [`EngineError::VolumeFull`] when it would leave less than
    /// the minimum free. A volume whose free space cannot be read is not refused (the write itself will
    /// report what is wrong).
    pub fn check_room(&self, incoming: u64) -> EngineResult<()> {
        let Ok(free) = free_bytes(&self.inner.root) else { return Ok(()) };
        let needed = self.inner.min_free.saturating_add(incoming);
        if free < needed {
            return Err(EngineError::VolumeFull { free, needed });
        }
        Ok(())
    }

    /// Deletes the reserve file so the metadata store has room to commit deletes. Idempotent.
    pub fn release_reserve(&self) {
        match std::fs::remove_file(&self.inner.reserve) {
            Ok(()) => tracing::warn!(
                bytes = self.inner.reserve_bytes,
                "data volume full: released the reserve so deletes can still commit"
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not release the reserve file"),
        }
    }

    /// (Re)creates the reserve file when it is missing or short and the volume has room for it and the
    /// minimum free space besides. Called at start-up and by every janitor pass.
    pub async fn restore_reserve(&self) -> io::Result<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.restore()).await.map_err(io::Error::other)?
    }
}

impl Inner {
    fn restore(&self) -> io::Result<()> {
        if self.reserve_bytes == 0 {
            return Ok(());
        }
        let have = std::fs::metadata(&self.reserve).map(|m| m.len()).unwrap_or(0);
        if have >= self.reserve_bytes {
            return Ok(());
        }
        let missing = self.reserve_bytes - have;
        if free_bytes(&self.root)? < self.min_free.saturating_add(missing) {
            return Ok(());
        }
        let file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&self.reserve)?;
        // Real blocks, not a sparse file: fallocate where the filesystem has it, else write zeros.
        if let Err(e) = allocate(&file, have, missing) {
            drop(file);
            let _ = std::fs::remove_file(&self.reserve);
            return Err(e);
        }
        file.sync_all()
    }
}

/// Gives `file` real blocks for `len` bytes from `offset`.
fn allocate(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use rustix::fs::{FallocateFlags, fallocate};
    match fallocate(file, FallocateFlags::empty(), offset, len) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => {}
        Err(e) => return Err(e.into()),
    }
    use std::io::{Seek, Write};
    let mut file = file;
    file.seek(io::SeekFrom::Start(offset))?;
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < len {
        let n = chunk.len().min((len - written) as usize);
        file.write_all(&chunk[..n])?;
        written += n as u64;
    }
    Ok(())
}
