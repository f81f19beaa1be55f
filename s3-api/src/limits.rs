//! The protocol limits, in one place: each is AWS's (so clients written against AWS behave the same
//! here) unless it says otherwise. Settings a deployment may change live in `config` instead.

/// Most buckets one ListBuckets page holds (`max-buckets`, AWS's limit).
pub const MAX_BUCKETS_PER_PAGE: usize = 10_000;

/// Most keys (objects plus common prefixes) one listing page returns, and the default `max-keys`.
pub const MAX_KEYS_PER_PAGE: u32 = 1000;
/// Largest user metadata set (`x-amz-meta-*` names and values, UTF-8 bytes; AWS: 2 KB).
pub const MAX_USER_METADATA_BYTES: usize = 2048;
/// Longest object key, in bytes (AWS: 1024).
pub const MAX_KEY_LENGTH: usize = 1024;
/// Most keys one DeleteObjects request (or one console delete-many call) may name.
pub const MAX_DELETE_KEYS: usize = 1000;
/// Highest multipart part number.
pub const MAX_PART_NUMBER: i32 = 10_000;
/// Most parts or uploads one ListParts / ListMultipartUploads page returns.
pub const MAX_PARTS_PER_PAGE: i32 = 1000;
/// Smallest part of a multipart upload other than the last.
pub const MIN_PART_SIZE: i64 = 5 * 1024 * 1024;
/// Largest object CopyObject copies in one request (larger ones need UploadPartCopy).
pub const MAX_COPY_SIZE: i64 = 5 * 1024 * 1024 * 1024;
/// Largest bucket policy document.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;
/// Most parsed bucket policies the authorizer keeps (ours; `auth::policy_cache`). Each is at most
/// [`MAX_POLICY_BYTES`] of text plus its parse; the cache is cleared when full.
pub const MAX_PARSED_POLICIES: usize = 4096;
/// Most grants in one ACL (AWS's limit); more is `MalformedACLError`.
pub const MAX_ACL_GRANTS: usize = 100;
/// Most tags on one object.
pub const MAX_OBJECT_TAGS: usize = 10;
/// Most tags on one bucket.
pub const MAX_BUCKET_TAGS: usize = 50;
/// The console API's default listing page (ours; its maximum is [`MAX_KEYS_PER_PAGE`]).
pub const CONSOLE_DEFAULT_PAGE: u32 = 100;
/// Most presigned part URLs the console API mints in one call (ours).
pub const MAX_PART_URLS: usize = 1000;
/// Largest signed aws-chunked chunk (buffered until its signature is checked). AWS SDKs and the CLI
/// send chunks of 64 KiB to 8 MiB.
pub const MAX_AWS_CHUNK_SIZE: usize = 16 * 1024 * 1024;
/// Largest XML (or JSON) document body s3s reads into memory: DeleteObjects, CompleteMultipartUpload,
/// bucket and object settings (s3s's default, 20 MiB). Larger: 400 `MaxMessageLengthExceeded`.
pub const MAX_XML_BODY_BYTES: usize = 20 * 1024 * 1024;
/// Most bytes of a browser form (PostObject) before its file's content: the fields, their part
/// headers and the file part's headers (AWS: 20 KB). Larger: 400 `MaxPostPreDataLengthExceededError`.
/// This is also all of a form the listener keeps (`s3::form::FormPrefix`).
pub const MAX_POST_PRE_DATA_BYTES: usize = 20 * 1024;

/// The largest inline threshold `CLOUDVAULT_INLINE_MAX_BYTES` may set: bodies up to it are held in
/// memory while they stream, and stored as one metadata row.
pub const MAX_INLINE_BYTES: u64 = 64 * 1024;
