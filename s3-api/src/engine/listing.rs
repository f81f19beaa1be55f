//! Listing: the one keyset scan behind ListObjects (V1 and V2), ListObjectVersions,
//! ListMultipartUploads and the console's browser.
//!
//! [`scan`] runs index range scans in byte order that start after a marker, stop at the end of the
//! prefix range, and roll keys up into common prefixes at a delimiter: the rows of small folders are
//! skipped within the batch that holds them, and a folder that runs past the end of a batch is jumped
//! over with one new index seek. A page costs O(page) rows and at most one query per folder larger
//! than what is left of its batch, never O(bucket). The same algorithm serves object rows (ordered by
//! key), version rows (by key, then newest first; `engine/versions.rs`) and upload rows (by key, then
//! upload id): only the query that fetches a batch differs.
//!
//! Resuming: every marker means "after this position". When the marker is a common prefix that was
//! already returned (or lies inside one), the keys under it are skipped, so a prefix is never returned
//! twice across pages.

use cloudvault_metadata::{BucketId, ListBound, ListColumns, ListedObject, Upload, key_successor};

use super::{Engine, EngineResult};
use crate::limits::MAX_KEYS_PER_PAGE;

/// What a listing asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListParams<'a> {
    /// Only keys starting with this (empty: every key).
    pub prefix: &'a [u8],
    /// Roll keys up into common prefixes at the first occurrence of this after the prefix.
    pub delimiter: Option<&'a [u8]>,
    /// Resume strictly after this key (or common prefix).
    pub marker: Option<&'a [u8]>,
    /// For uploads: with `marker`, resume after this upload id of the marker's key (without it, after
    /// every upload of that key).
    pub marker_id: Option<&'a str>,
    /// Most entries (items plus common prefixes) in the page.
    pub max: usize,
    /// Which columns object rows carry: their stored attributes only for the console, which shows the
    /// content type (an S3 listing returns none, so it does not read them).
    pub columns: ListColumns,
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page<T> {
    /// Rows, in order.
    pub items: Vec<T>,
    /// Common prefixes, in order.
    pub prefixes: Vec<Vec<u8>>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page resumes.
    pub last: Option<Vec<u8>>,
    /// The upload id of the last entry when it was an upload (empty otherwise).
    pub last_id: String,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page { items: Vec::new(), prefixes: Vec::new(), truncated: false, last: None, last_id: String::new() }
    }
}

/// A row a listing returns: its key, its id among rows of the same key (uploads), and the query that
/// fetches a batch of such rows in order.
pub trait Listed: Sized + Send {
    /// The object key.
    fn key(&self) -> &[u8];
    /// The tie-breaker among rows of one key (empty for objects).
    fn id(&self) -> &str {
        ""
    }
    /// Up to `batch` rows of `bucket_id` at or after `at` and before `end`, in order (`p` says which
    /// columns).
    fn fetch(
        engine: &Engine,
        bucket_id: BucketId,
        p: &ListParams<'_>,
        at: &Cursor,
        end: Option<&[u8]>,
        batch: u32,
    ) -> impl Future<Output = EngineResult<Vec<Self>>> + Send;
}

impl Listed for ListedObject {
    fn key(&self) -> &[u8] {
        &self.key
    }

    async fn fetch(
        engine: &Engine,
        bucket_id: BucketId,
        p: &ListParams<'_>,
        at: &Cursor,
        end: Option<&[u8]>,
        batch: u32,
    ) -> EngineResult<Vec<Self>> {
        let bound = match (at.key.is_empty(), &at.after) {
            (true, None) => ListBound::Unbounded,
            (_, None) => ListBound::From(&at.key),
            (_, Some(_)) => ListBound::After(&at.key),
        };
        Ok(engine.meta.list_objects(bucket_id, bound, end, batch, p.columns).await?)
    }
}

impl Listed for Upload {
    fn key(&self) -> &[u8] {
        &self.key
    }

    fn id(&self) -> &str {
        &self.upload_id
    }

    async fn fetch(
        engine: &Engine,
        bucket_id: BucketId,
        _p: &ListParams<'_>,
        at: &Cursor,
        end: Option<&[u8]>,
        batch: u32,
    ) -> EngineResult<Vec<Self>> {
        let after = at.after.as_deref().unwrap_or("");
        Ok(engine.meta.list_uploads(bucket_id, &at.key, after, end, batch).await?)
    }
}

/// The `Cursor::after` that means "after every row of the key" (a marker without an id).
pub const UNTIL_KEY_END: &str = "\u{10FFFF}";

/// Where the next batch starts: at `key` itself (`after: None`) or strictly after `(key, after)`.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// The key.
    pub key: Vec<u8>,
    /// `None`: from `key` inclusive. `Some(id)`: after `key`'s rows up to `id` (for objects, after `key`).
    pub after: Option<String>,
}

/// Position of `needle` in `haystack` (the delimiter in a key, for rolling keys up).
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The scan: fetches batches of rows of `bucket_id` ([`Listed::fetch`]) until the page is full or the
/// prefix range is exhausted.
pub async fn scan<T: Listed>(engine: &Engine, bucket_id: BucketId, p: ListParams<'_>) -> EngineResult<Page<T>> {
    let prefix = p.prefix;
    let end = key_successor(prefix).filter(|_| !prefix.is_empty());
    let marker = p.marker.filter(|m| !m.is_empty());
    if marker.zip(end.as_deref()).is_some_and(|(m, e)| m >= e) {
        // Past the end of the prefix range: nothing follows.
        return Ok(Page::default());
    }
    let mut cursor = Some(match marker {
        // Strictly after the marker (and, without an upload-id marker, after every row of its key).
        Some(m) if m >= prefix => {
            Cursor { key: m.to_vec(), after: Some(p.marker_id.unwrap_or(UNTIL_KEY_END).to_owned()) }
        }
        _ => Cursor { key: prefix.to_vec(), after: None },
    });
    let mut page = Page::default();
    while let Some(at) = cursor.take() {
        let count = page.items.len() + page.prefixes.len();
        let batch = (p.max - count).clamp(1, MAX_KEYS_PER_PAGE as usize) as u32 + 1;
        let rows = T::fetch(engine, bucket_id, &p, &at, end.as_deref(), batch).await?;
        let exhausted = rows.len() < batch as usize;
        let mut next = None;
        // The common prefix the previous row rolled into: the rows after it under the same prefix are
        // skipped within this batch; a new seek jumps past the prefix only when the batch ends in it.
        let mut rolled: Option<Vec<u8>> = None;
        for row in rows {
            let cut =
                p.delimiter.and_then(|d| find(&row.key()[prefix.len()..], d).map(|at| prefix.len() + at + d.len()));
            if let (Some(c), Some(cp)) = (cut, rolled.as_deref())
                && row.key()[..c] == *cp
            {
                continue;
            }
            let common = cut.map(|c| row.key()[..c].to_vec());
            let returned_before = common.as_ref().is_some_and(|cp| marker.is_some_and(|m| m.starts_with(cp)));
            if !returned_before && page.items.len() + page.prefixes.len() == p.max {
                page.truncated = true;
                return Ok(page);
            }
            match common {
                Some(cp) => {
                    next = key_successor(&cp).map(|key| Cursor { key, after: None });
                    if !returned_before {
                        page.last = Some(cp.clone());
                        page.last_id.clear();
                        page.prefixes.push(cp.clone());
                    }
                    rolled = Some(cp);
                }
                None => {
                    next = Some(Cursor { key: row.key().to_vec(), after: Some(row.id().to_owned()) });
                    page.last = Some(row.key().to_vec());
                    page.last_id = row.id().to_owned();
                    page.items.push(row);
                    rolled = None;
                }
            }
        }
        cursor = if exhausted { None } else { next };
        if cursor.as_ref().zip(end.as_ref()).is_some_and(|(c, e)| &c.key >= e) {
            cursor = None;
        }
    }
    Ok(page)
}

impl Engine {
    /// One page of the objects of `bucket_id` (see [`scan`]).
    pub async fn list_objects(&self, bucket_id: BucketId, p: ListParams<'_>) -> EngineResult<Page<ListedObject>> {
        scan(self, bucket_id, p).await
    }

    /// One page of the multipart uploads in progress in `bucket_id`, in (key, upload id) order (see
    /// [`scan`]).
    pub async fn list_uploads(&self, bucket_id: BucketId, p: ListParams<'_>) -> EngineResult<Page<Upload>> {
        scan(self, bucket_id, p).await
    }

    /// Up to `limit` objects under `prefix` after `after` whose remainder after the prefix contains
    /// `needle`, ignoring case (the console's search; it reads the whole subtree).
    pub async fn search_objects(
        &self,
        bucket_id: BucketId,
        prefix: &[u8],
        after: Option<&[u8]>,
        needle: &str,
        limit: u32,
    ) -> EngineResult<Vec<ListedObject>> {
        Ok(self.meta.search_objects(bucket_id, prefix, after, needle, limit).await?)
    }

    /// How many objects are under `prefix`, and their total size in bytes.
    pub async fn prefix_totals(&self, bucket_id: BucketId, prefix: &[u8]) -> EngineResult<(i64, i64)> {
        Ok(self.meta.prefix_totals(bucket_id, prefix).await?)
    }
}
