//! Errors of the storage engine. Mapped to S3 codes in `s3/error.rs`, the one place that does so.

use cloudvault_metadata::MetaError;

/// What can go wrong while storing or reading object bytes.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The metadata store failed or refused (no such bucket, precondition, database down...).
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The data volume failed (ENOSPC, EIO, a missing blob file).
    #[error("data volume: {0}")]
    Io(#[from] std::io::Error),
    /// The request body failed while streaming: the client went away, sent fewer bytes than announced,
    /// or the protocol layer rejected its framing/signature. Carries the protocol's error code for it
    /// (for S3, the code's name, e.g. `IncompleteBody`); the engine only passes it through.
    #[error("request body: {message}")]
    Body {
        /// The protocol's error code for this body failure.
        code: String,
        /// What happened.
        message: String,
    },
    /// The data volume has less free space than `CLOUDVAULT_MIN_FREE_BYTES` (plus the announced body),
    /// or ran out while writing. Answered 503 so clients retry later; nothing was stored.
    #[error("the data volume is full: {free} bytes free, {needed} needed")]
    VolumeFull {
        /// Free bytes when the write was refused (0 when the volume ran out mid-write).
        free: u64,
        /// Bytes the write needed to leave the minimum free.
        needed: u64,
    },
    /// The request breaks a rule the engine enforces (a multipart completion with parts out of order,
    /// missing, or too small; a stored object that changed under an update). Carries the S3 error code's
    /// name (the protocol's vocabulary for these, which the console maps too) and a message.
    #[error("{code}: {message}")]
    Rejected {
        /// The error code's name, e.g. `InvalidPartOrder`.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A stored value does not parse (an attributes or upload-state column): a bug or a damaged row.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The body was longer than the configured maximum object size.
    #[error("object larger than the {limit}-byte limit")]
    TooLarge {
        /// The configured limit.
        limit: u64,
    },
}

impl EngineError {
    /// A [`EngineError::Rejected`] with `code` and `message`.
    pub fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        EngineError::Rejected { code, message: message.into() }
    }
}

/// Result alias of the engine.
pub type EngineResult<T> = Result<T, EngineError>;
