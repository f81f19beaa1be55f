//! The blob store: object bytes on the data volume, in files named by opaque ids.
//!
//! Layout under `CLOUDVAULT_DATA_DIR`:
//! - `staging/<id>`: a blob being written. Never read by anyone.
//! - `blobs/<first two hex digits of id>/<id>`: a durable blob. Visible to readers only once a committed
//!   metadata row names it in its manifest.
//!
//! Object keys never appear in a path, so no key (`../`, NUL, 1024 bytes...) can escape or collide.
//!
//! This module holds the file half of the write protocol; the protocol itself, step by step with what
//! a crash leaves after each, is described once in [`super::protocol`].

use std::collections::{HashMap, HashSet};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use cloudvault_metadata::{BlobRef, Manifest};

use super::error::{EngineError, EngineResult};

/// Size of the write buffer in front of a staging file and of each read chunk: large enough for
/// sequential throughput, small enough that memory stays flat per request.
const IO_CHUNK: usize = 256 * 1024;
/// Chunks a GET may have read ahead of the client.
const READ_AHEAD_CHUNKS: usize = 4;
/// A read of at most this many bytes from one blob is done in one blocking call (open, seek, read),
/// not as a stream of chunks through a reader task: most objects are small, and each hop to the
/// blocking pool costs more than reading them.
const SMALL_READ: u64 = 64 * 1024;
/// How often a staging file whose body is paused (or trickling into the write buffer) has its mtime
/// refreshed, so that another replica's staging sweep (which waits for a file to stop changing) sees
/// it as alive. The staging grace period must be longer than this (its default is an hour).
pub const STAGING_HEARTBEAT: Duration = Duration::from_secs(10);

/// The blob store rooted at the data directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    staging: PathBuf,
    blobs: PathBuf,
    /// Ids of the staging files this process is writing right now. INVARIANT: the staging sweep never
    /// removes one of them, whatever its age (a paused upload keeps its file).
    live: Arc<Mutex<HashSet<String>>>,
    /// What the staging sweep saw of each other staging file, and since when (see
    /// [`BlobStore::sweep_staging`]). Holds one entry per file in `staging/`, pruned every sweep.
    seen: Arc<Mutex<HashMap<String, Sighting>>>,
    /// A body that sends no byte for this long is cut (see [`BlobStore::with_body_timeout`]).
    body_timeout: Duration,
}

/// One staging file as the sweep last saw it: its mtime and length, and when (on this process's
/// monotonic clock) the sweep first saw it with exactly those.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    modified: SystemTime,
    len: u64,
    since: Instant,
}

/// How long a request body may send nothing before it is cut, unless configured
/// (`CLOUDVAULT_BODY_TIMEOUT_SECS`).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A fully received body that no one references yet: a fsynced staging file, or (at most the inline
/// threshold) its bytes in memory, which the commit writes into the metadata store. Dropping it deletes
/// the file.
#[derive(Debug)]
pub struct StagedBlob {
    /// The opaque id the blob will keep once placed (an inline blob's starts with
    /// [`cloudvault_metadata::INLINE_BLOB_PREFIX`]).
    pub blob_id: String,
    /// Bytes written.
    pub size: u64,
    /// MD5 of the bytes written.
    pub md5: [u8; 16],
    /// The bytes of an inline blob (no file was written).
    inline: Option<Bytes>,
    path: Option<PathBuf>,
    live: Arc<Mutex<HashSet<String>>>,
}

impl StagedBlob {
    /// The bytes of an inline blob (`None`: the body is in a staging file).
    pub fn inline_bytes(&self) -> Option<&Bytes> {
        self.inline.as_ref()
    }

    /// The manifest entry of this blob.
    pub fn blob_ref(&self) -> BlobRef {
        BlobRef { blob_id: self.blob_id.clone(), size: self.size as i64, md5_hex: hex::encode(self.md5) }
    }

    /// Takes the file out of the live set: from here on it is placed (or gone).
    fn unregister(&self) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&self.blob_id);
        }
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Best effort: if this fails the staging sweep removes the file later.
            let _ = std::fs::remove_file(path);
        }
        self.unregister();
    }
}

/// A read stream of `bytes` as its one chunk (no chunk when empty).
pub fn one_chunk(bytes: Bytes) -> ReceiverStream<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(1);
    if !bytes.is_empty() {
        let _ = tx.try_send(Ok(bytes));
    }
    ReceiverStream::new(rx)
}

/// Flushes a staging file's write buffer and fsyncs the file.
async fn sync_staging_file(mut out: BufWriter<tokio::fs::File>) -> io::Result<()> {
    out.flush().await?;
    out.into_inner().sync_all().await
}

fn new_blob_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn fsync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all()).await.map_err(io::Error::other)?
}

/// CRASH-SAFETY PRIMITIVE: moves the (already fsynced) file `from` to `to` and fsyncs `to`'s directory,
/// so that once this returns the new name survives power loss. A crash before the directory fsync may
/// leave the file under either name, never both and never neither; the caller's intent row covers both.
///
/// Caveat: this is only as strong as the filesystem's rename and directory-fsync semantics. On local
/// filesystems (ext4, xfs) and CephFS they hold; on NFS a rename is atomic on the server but the
/// directory fsync is a COMMIT whose durability depends on the export (`sync`, not `async`). Run the
/// data volume on an export that honours it.
pub async fn durable_rename(from: &Path, to: &Path) -> io::Result<()> {
    tokio::fs::rename(from, to).await?;
    match to.parent() {
        Some(dir) => fsync_dir(dir).await,
        None => Ok(()),
    }
}

/// Sets a file's mtime to "now" (`UTIME_NOW`), which another replica's staging sweep sees as a change:
/// the file is alive. Which clock stamps it does not matter (see [`BlobStore::sweep_staging`]).
fn touch(path: &Path) -> io::Result<()> {
    use rustix::fs::{Timespec, Timestamps, UTIME_NOW, UTIME_OMIT, futimens};
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let times = Timestamps {
        last_access: Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT },
        last_modification: Timespec { tv_sec: 0, tv_nsec: UTIME_NOW },
    };
    Ok(futimens(&file, &times)?)
}

impl BlobStore {
    /// Opens (creating if needed) the blob store under `data_dir`. All 256 fan-out directories are
    /// created and made durable up front, so a write only ever fsyncs its one leaf directory.
    pub async fn open(data_dir: &Path) -> io::Result<Self> {
        let staging = data_dir.join("staging");
        let blobs = data_dir.join("blobs");
        tokio::fs::create_dir_all(&staging).await?;
        for i in 0..=255u8 {
            tokio::fs::create_dir_all(blobs.join(format!("{i:02x}"))).await?;
        }
        fsync_dir(&blobs).await?;
        fsync_dir(data_dir).await?;
        Ok(BlobStore { staging, blobs, live: Arc::default(), seen: Arc::default(), body_timeout: DEFAULT_BODY_TIMEOUT })
    }

    /// Sets how long a body being staged may send nothing before it is cut with `RequestTimeout` (its
    /// staging file removed): a client that stalls mid-upload cannot hold a connection, a task and a
    /// file forever. AWS answers `RequestTimeout` the same way.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout.max(Duration::from_millis(100));
        self
    }

    /// The data directory the store lives in.
    pub fn root(&self) -> &Path {
        self.staging.parent().unwrap_or(&self.staging)
    }

    /// Where a placed blob lives.
    pub fn blob_path(&self, blob_id: &str) -> PathBuf {
        self.blobs.join(blob_id.get(..2).unwrap_or("00")).join(blob_id)
    }

    fn staging_path(&self, blob_id: &str) -> PathBuf {
        self.staging.join(blob_id)
    }

    /// Streams `body` into a new staging file, computing its MD5 and showing every chunk to `observe`
    /// (the S3 layer's flexible-checksum hasher), and fsyncs it. A body of at most `inline_max` bytes
    /// (0: none) is kept in memory instead, as an inline blob (no file is created); a longer one is
    /// buffered only up to that many bytes before its file is created. Fails with
    /// [`EngineError::TooLarge`] past `max_size` bytes, and with the body's own error if the client
    /// fails mid-stream; either way nothing is left behind.
    ///
    /// # Cancel safety
    /// Dropping the future drops the partially written [`StagedBlob`], which deletes the file.
    pub async fn stage<S, E>(
        &self,
        mut body: S,
        max_size: u64,
        inline_max: u64,
        observe: &mut (dyn FnMut(&[u8]) + Send),
    ) -> EngineResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<EngineError>,
    {
        let mut staged = self.new_staged(0, [0; 16]);
        let mut head = BytesMut::new();
        let mut out = match inline_max {
            0 => Some(self.create_staging_file(&mut staged).await?),
            _ => None,
        };
        let mut md5 = Md5::new();
        let mut touched = Instant::now();
        while let Some(chunk) = self.next_chunk(&mut body, staged.path.as_deref(), &mut touched).await? {
            staged.size += chunk.len() as u64;
            if staged.size > max_size {
                return Err(EngineError::TooLarge { limit: max_size });
            }
            md5.update(&chunk);
            observe(&chunk);
            match out.as_mut() {
                Some(out) => out.write_all(&chunk).await?,
                None if staged.size <= inline_max => head.extend_from_slice(&chunk),
                None => {
                    let mut file = self.create_staging_file(&mut staged).await?;
                    file.write_all(&head).await?;
                    file.write_all(&chunk).await?;
                    head = BytesMut::new();
                    touched = Instant::now();
                    out = Some(file);
                }
            }
        }
        staged.md5 = md5.finalize().into();
        match out {
            Some(out) => sync_staging_file(out).await?,
            None => {
                staged.blob_id.insert(0, cloudvault_metadata::INLINE_BLOB_PREFIX);
                staged.inline = Some(head.freeze());
            }
        }
        Ok(staged)
    }

    /// The body's next chunk (`None` at its end). While it waits, the staging file at `path` (if any)
    /// has its mtime refreshed every [`STAGING_HEARTBEAT`]; a body that sends nothing for the body
    /// timeout is cut with `RequestTimeout`.
    async fn next_chunk<S, E>(
        &self,
        body: &mut S,
        path: Option<&Path>,
        touched: &mut Instant,
    ) -> EngineResult<Option<Bytes>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<EngineError>,
    {
        let waiting = Instant::now();
        loop {
            let next = tokio::time::timeout(STAGING_HEARTBEAT.min(self.body_timeout), body.next()).await;
            if let Some(path) = path
                && touched.elapsed() >= STAGING_HEARTBEAT
            {
                let _ = touch(path);
                *touched = Instant::now();
            }
            match next {
                Err(_paused) if waiting.elapsed() >= self.body_timeout => {
                    return Err(EngineError::Body {
                        code: "RequestTimeout".to_owned(),
                        message: format!(
                            "The request body sent nothing for {:?}; the upload was cut.",
                            self.body_timeout
                        ),
                    });
                }
                Err(_paused) => continue,
                Ok(next) => return next.transpose().map_err(Into::into),
            }
        }
    }

    /// Creates `staged`'s staging file (registered as live, so the sweep leaves it alone), behind a
    /// write buffer.
    async fn create_staging_file(&self, staged: &mut StagedBlob) -> io::Result<BufWriter<tokio::fs::File>> {
        let path = self.staging_path(&staged.blob_id);
        if let Ok(mut live) = self.live.lock() {
            live.insert(staged.blob_id.clone());
        }
        let file = tokio::fs::File::create_new(&path).await?;
        staged.path = Some(path);
        Ok(BufWriter::with_capacity(IO_CHUNK, file))
    }

    /// Writes an inline staged blob's bytes into a fsynced staging file of a new id, for a write that
    /// needs a file (a multipart part); a blob that is a file already is returned as it is.
    pub async fn spill(&self, staged: StagedBlob) -> io::Result<StagedBlob> {
        let Some(bytes) = staged.inline.clone() else {
            return Ok(staged);
        };
        let mut file = self.new_staged(staged.size, staged.md5);
        let mut out = self.create_staging_file(&mut file).await?;
        out.write_all(&bytes).await?;
        sync_staging_file(out).await?;
        Ok(file)
    }

    /// A staged blob of a new id with no file yet (and no inline bytes).
    fn new_staged(&self, size: u64, md5: [u8; 16]) -> StagedBlob {
        StagedBlob { blob_id: new_blob_id(), size, md5, inline: None, path: None, live: self.live.clone() }
    }

    /// Moves a staged blob to its durable name and fsyncs the directory entry. After this returns the
    /// blob survives a crash; it becomes visible only when a metadata commit references it.
    pub async fn place(&self, mut staged: StagedBlob) -> io::Result<BlobRef> {
        let target = self.blob_path(&staged.blob_id);
        let source = staged.path.take().ok_or_else(|| io::Error::other("blob already placed"))?;
        if let Err(e) = durable_rename(&source, &target).await {
            // The file is under one of the two names; `remove` (on a definite failure) or the janitor
            // (through the intent row) deletes either.
            staged.path = Some(source);
            return Err(e);
        }
        staged.unregister();
        Ok(BlobRef { blob_id: staged.blob_id.clone(), size: staged.size as i64, md5_hex: hex::encode(staged.md5) })
    }

    /// Opens every blob file that `range` of the object described by `manifest` needs, then streams the
    /// range from them in order. INVARIANT: all files are open before the first byte is sent, so a GET
    /// that outlives an overwrite and the janitor's removal of the old blobs still reads every byte (an
    /// unlinked file stays readable while open). A missing blob fails here, before any header is sent.
    /// Memory is bounded by a few chunks whatever the object size; if the client goes away the reader
    /// stops. A blob file shorter than its manifest says ends the stream with an error, so a client
    /// never gets a silently truncated 200.
    pub async fn open_read(
        &self,
        manifest: &Manifest,
        range: Range<u64>,
    ) -> io::Result<ReceiverStream<io::Result<Bytes>>> {
        if let [blob] = manifest.0.as_slice()
            && range.end.saturating_sub(range.start) <= SMALL_READ
        {
            return self.read_small(blob, range).await;
        }
        let mut segments = Vec::new();
        let mut offset = 0u64;
        for blob in &manifest.0 {
            let size = blob.size.max(0) as u64;
            let (start, end) = (range.start.max(offset), range.end.min(offset + size));
            if start < end {
                let path = self.blob_path(&blob.blob_id);
                let file = tokio::fs::File::open(&path).await?;
                segments.push((file, path, start - offset, end - start));
            }
            offset += size;
        }
        let (tx, rx) = mpsc::channel(READ_AHEAD_CHUNKS);
        tokio::spawn(async move {
            for (file, path, start, len) in segments {
                if let Err(e) = send_segment(&tx, file, &path, start, len).await {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(ReceiverStream::new(rx))
    }

    /// `range` of a one-blob object, read whole in one blocking call (see [`SMALL_READ`]), as a
    /// stream of one chunk. A blob shorter than the range is an error, as in [`send_segment`].
    async fn read_small(&self, blob: &BlobRef, range: Range<u64>) -> io::Result<ReceiverStream<io::Result<Bytes>>> {
        let path = self.blob_path(&blob.blob_id);
        let len = range.end.saturating_sub(range.start).min(blob.size.max(0) as u64) as usize;
        let start = range.start;
        let bytes = tokio::task::spawn_blocking(move || -> io::Result<Bytes> {
            use std::io::{Read, Seek};
            let mut file = std::fs::File::open(&path)?;
            if start > 0 {
                file.seek(io::SeekFrom::Start(start))?;
            }
            let mut buf = vec![0u8; len];
            file.read_exact(&mut buf).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("blob {} is shorter than its manifest says", path.display()),
                ),
                _ => e,
            })?;
            Ok(Bytes::from(buf))
        })
        .await
        .map_err(io::Error::other)??;
        Ok(one_chunk(bytes))
    }

    /// Deletes a placed blob; a blob that is already gone is not an error (janitors of several replicas
    /// may race).
    pub async fn remove(&self, blob_id: &str) -> io::Result<()> {
        for path in [self.blob_path(blob_id), self.staging_path(blob_id)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Deletes staging files that stayed unchanged for longer than `grace` (writes interrupted by a
    /// crash). A file this process is still writing is never removed, however long its upload pauses;
    /// one that another replica is writing changes (its bytes, or its mtime refreshed every
    /// [`STAGING_HEARTBEAT`], far inside the grace), which restarts its wait.
    ///
    /// INVARIANT: no clock but this process's monotonic one is involved. A file's age is how long this
    /// sweep has watched it keep the same mtime and length, never "now minus mtime": mtimes are stamped
    /// by whichever clock the writer's node (or libfaketime, or a client-stamped filesystem such as
    /// CephFS) has, so a replica whose clock runs hours ahead would otherwise sweep the live files of
    /// the others. The cost: a file left by a crash goes one grace period after a sweeper first sees
    /// it, so a replica restarting more often than the grace period never sweeps (another one does).
    pub async fn sweep_staging(&self, grace: Duration) -> io::Result<usize> {
        let mut present = HashMap::new();
        let mut entries = tokio::fs::read_dir(&self.staging).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let live = self.live.lock().map(|l| l.contains(&name)).unwrap_or(true);
            if live {
                continue;
            }
            let meta = match entry.metadata().await {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            present.insert(name, (meta.modified()?, meta.len()));
        }
        let stale = self.note_sightings(present, grace);
        let mut removed = 0;
        for name in stale {
            match tokio::fs::remove_file(self.staging_path(&name)).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Records this sweep's view of the staging files (`name -> (mtime, length)`) and returns the
    /// names seen unchanged for longer than `grace`. Files gone since the last sweep are forgotten.
    fn note_sightings(&self, present: HashMap<String, (SystemTime, u64)>, grace: Duration) -> Vec<String> {
        let Ok(mut seen) = self.seen.lock() else { return Vec::new() };
        seen.retain(|name, _| present.contains_key(name));
        let now = Instant::now();
        let mut stale = Vec::new();
        for (name, (modified, len)) in present {
            match seen.get(&name) {
                Some(s) if s.modified == modified && s.len == len => {
                    if now.duration_since(s.since) > grace {
                        stale.push(name);
                    }
                }
                _ => {
                    seen.insert(name, Sighting { modified, len, since: now });
                }
            }
        }
        stale
    }
}

/// Sends `len` bytes of `path` from `start`, chunk by chunk. Returns early (Ok) when the receiver is gone.
async fn send_segment(
    tx: &mpsc::Sender<io::Result<Bytes>>,
    mut file: tokio::fs::File,
    path: &Path,
    start: u64,
    len: u64,
) -> io::Result<()> {
    if start > 0 {
        file.seek(io::SeekFrom::Start(start)).await?;
    }
    let mut remaining = len;
    while remaining > 0 {
        let want = remaining.min(IO_CHUNK as u64) as usize;
        let mut buf = BytesMut::zeroed(want);
        let mut filled = 0;
        while filled < want {
            let n = file.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("blob {} is shorter than its manifest says", path.display()),
                ));
            }
            filled += n;
        }
        remaining -= want as u64;
        if tx.send(Ok(buf.freeze())).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}
