//! THE WRITE PROTOCOL, described once. Every other description in the code links here.
//!
//! Object bytes live in blob files named by opaque ids ([`super::blobs`]); an object exists when a
//! committed metadata row names its blobs in its manifest. The invariants:
//! - **No reader sees a partial object**: a row is committed only after its blobs are durable.
//! - **No row without its blob**: a blob is removed only after a committed transaction made it garbage
//!   (its row was replaced or deleted, or its intent was claimed by the janitor, which a commit needs).
//! - **Nothing leaked for long**: every file on the volume is named by a row (object, part, intent or
//!   garbage) or sits in `staging/`, and the janitor removes what no object needs after the grace period.
//!
//! # A single-object write (PutObject, CopyObject)
//! 1. **staged** ([`super::Engine::stage`]): the body streams into `staging/<id>` while it is hashed,
//!    then the file is fsynced. Crash: a staging file, removed by the staging sweep after the grace
//!    period (a live upload's file is never swept: see [`super::blobs::BlobStore::sweep_staging`]).
//! 2. **intent recorded** (`MetaStore::register_pending_blob`): a `pending_blobs` row names the blob.
//!    Crash: the staging file and a stale intent; the janitor claims the intent and removes the file.
//! 3. **placed** ([`super::blobs::durable_rename`]): the file moves to `blobs/ab/<id>` and the directory
//!    is fsynced. Crash: a durable blob and its intent, removed as in 2.
//! 4. **committed** (`MetaStore::commit_object`): one transaction locks the bucket row shared (it must
//!    still exist) and the key's row, checks the write condition, claims the intent (the row must still be there, else
//!    `IntentLost` and the blob is discarded), writes the object row, queues the replaced blobs in
//!    `garbage_blobs` and adjusts the counters. Only now can anyone read the object. A crash before the
//!    COMMIT leaves the state of 3; after it, the replaced blobs wait in the garbage queue.
//!
//! # An inline write (a body of at most `CLOUDVAULT_INLINE_MAX_BYTES`)
//! 1. **staged** (`inline.staged`): the body was received and hashed in memory; nothing is on disk.
//! 2. **committed** (`inline.committed`, `MetaStore::commit_inline_object`): the transaction of step 4
//!    above, with the bytes inserted into `inline_blobs` in place of claiming an intent. A crash before
//!    the COMMIT leaves nothing at all; after it the bytes are as durable as the row. Replaced inline
//!    blobs go through the garbage queue like files (the janitor deletes their rows), so a GET that
//!    read the old row still finds them. Parts are never inline: a small part's bytes are written to
//!    a staging file first (`BlobStore::spill`) and follow the part protocol below.
//!
//! # A part (UploadPart, UploadPartCopy)
//! Steps 1–3 as above; 4 is `MetaStore::put_part`: locks the upload (it must still be in progress),
//! claims the intent, writes the part row and queues a re-sent part's old blob as garbage.
//!
//! # Complete (CompleteMultipartUpload)
//! One transaction (`MetaStore::complete_upload`): locks the bucket and the upload, checks that every
//! listed part is still the current one, commits the object as in 4 with the part blobs as its manifest
//! (no data is copied), queues unused parts as garbage and deletes the upload. Crash: before the COMMIT
//! nothing changed; after it, only garbage is left to sweep.
//!
//! # Delete (DeleteObject, DeleteObjects, console deletes, DeleteBucket)
//! One transaction deletes the row and queues its blobs as garbage; files are removed later by the
//! janitor, so a crash never leaves a row pointing at a missing file.
//!
//! # Janitor sweep ([`super::janitor::sweep_once`])
//! 1. **intent claimed** (`MetaStore::expire_pending_blob`): an intent older than the grace period is
//!    deleted and its blob queued as garbage in one transaction. A commit racing it either claimed the
//!    intent first (the janitor's delete finds nothing) or finds it gone and fails: no clock involved.
//! 2. **garbage removed**: files queued before the grace period are deleted, then their rows. A GET
//!    holds every file it reads open from before its first byte, so it survives this.
//! 3. **staging swept**: staging files not being written by this process and seen unchanged (mtime
//!    and length, watched on this process's monotonic clock, never compared with it) for the grace
//!    period are deleted; other replicas refresh their live files every `STAGING_HEARTBEAT`. A write
//!    stalled so long that a sweep took its file fails at step 3 as `IntentLost`: nothing is visible.
//!
//! # Transactions
//! Each metadata transaction either commits for real or its error reaches the client: a connection goes
//! back to the pool only after a successful COMMIT (`cloudvault_metadata`'s `WriteTx`).
