//! Lifecycle: a bucket's rules (stored as JSON in its row) and the worker every replica's janitor runs
//! to apply them: current versions expire (a delete marker in a versioned bucket), noncurrent versions
//! expire after N days while the newest M stay, delete markers left alone are removed, and incomplete
//! multipart uploads are aborted.
//!
//! INVARIANTS
//! - Every action is conditional on what the worker saw (the current version's ETag and time, a version
//!   id, an upload id), so two replicas applying the same rule at once do each action once and the
//!   second finds nothing to do; a version written meanwhile is never expired for its predecessor.
//! - The worker destroys versions only through the engine's delete transactions, which refuse versions
//!   object lock protects (no bypass): a locked version survives every rule.
//! - Each pass examines at most [`PASS_BUDGET`] rows in total; a rule resumes where the previous pass
//!   stopped, so a large bucket is covered over several passes and no pass is unbounded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use cloudvault_metadata::{Bucket, ListColumns, ListedVersion, MetaError, Upload, VersionSel};

use super::attributes::ObjectAttributes;
use super::{Engine, EngineError, EngineResult, ListParams};

/// Rows (objects, versions, uploads) one pass examines across every bucket and rule.
pub const PASS_BUDGET: usize = 5_000;
/// Rows fetched per listing page.
const PAGE: usize = 500;
/// Lifecycle rules per bucket (AWS's limit).
pub const MAX_RULES: usize = 1_000;
/// The length of a real day.
pub const DAY_MS: i64 = 86_400_000;

/// Which objects a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Objects carrying every one of these tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Objects larger than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<i64>,
    /// Objects smaller than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<i64>,
}

/// One lifecycle rule, validated by the S3 layer before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The rule's id (unique within the bucket, at most 255 characters).
    pub id: String,
    /// `Status: Enabled`; disabled rules are kept but not applied.
    pub enabled: bool,
    /// Which objects it applies to.
    #[serde(default)]
    pub filter: Filter,
    /// Expire current versions this many days after they were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<i64>,
    /// Expire current versions from this time on (ms since the epoch, a midnight UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_ms: Option<i64>,
    /// Remove delete markers that are the only version left of their key.
    #[serde(default)]
    pub expired_object_delete_marker: bool,
    /// Expire noncurrent versions this many days after they became noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i64>,
    /// Keep this many of the newest noncurrent versions whatever their age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i64>,
    /// Abort incomplete multipart uploads this many days after they were started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_days: Option<i64>,
}

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The rules, in the order they were given.
    pub rules: Vec<Rule>,
}

impl Lifecycle {
    /// The stored configuration of `bucket`, if it has one.
    pub fn of(bucket: &Bucket) -> EngineResult<Option<Self>> {
        bucket
            .lifecycle
            .as_deref()
            .map(|json| serde_json::from_str(json).map_err(|e| EngineError::Corrupt(format!("lifecycle: {e}"))))
            .transpose()
    }

    /// When the current version `(key, size, tags, written at)` expires under these rules, and by which
    /// rule (`x-amz-expiration`): the earliest matching enabled expiration.
    pub fn expiry_of(
        &self,
        key: &[u8],
        size: i64,
        tags: &BTreeMap<String, String>,
        written: i64,
        day: i64,
    ) -> Option<(i64, &str)> {
        self.rules
            .iter()
            .filter(|r| r.enabled && r.filter.matches(key, size, tags))
            .filter_map(|r| r.current_expiry(written, day).map(|at| (at, r.id.as_str())))
            .min()
    }
}

impl Filter {
    /// Whether an object with this key, size and tags is in the rule's scope.
    pub fn matches(&self, key: &[u8], size: i64, tags: &BTreeMap<String, String>) -> bool {
        key.starts_with(self.prefix.as_bytes())
            && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
    }
}

/// `days` after `from`: with real days rounded up to the next midnight UTC, as AWS does; with a
/// shortened test day, exact.
pub fn after_days(from: i64, days: i64, day: i64) -> i64 {
    let at = from.saturating_add(days.saturating_mul(day));
    if day == DAY_MS { at.div_euclid(DAY_MS).saturating_add(1).saturating_mul(DAY_MS) } else { at }
}

/// Longest rule id AWS accepts.
pub const MAX_RULE_ID: usize = 255;
/// Most noncurrent versions a rule may keep (`NewerNoncurrentVersions`, AWS's limit).
pub const MAX_NEWER_NONCURRENT: i64 = 100;

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::rejected("InvalidArgument", message)
}

/// Day counts are S3's 32-bit integers: 1..=2147483647.
fn positive(days: Option<i64>, what: &str) -> EngineResult<()> {
    match days {
        Some(d) if d <= 0 || d > i64::from(i32::MAX) => {
            Err(invalid(format!("'{what}' for the rule must be a positive integer")))
        }
        _ => Ok(()),
    }
}

impl Lifecycle {
    /// The configuration as it is stored, checked as AWS checks one (whichever front it came from):
    /// 1 to [`MAX_RULES`] rules (`MalformedXML`), ids at most [`MAX_RULE_ID`] characters and unique (a
    /// missing id gets the lowest free `rule-N`), day counts in 1..=2^31-1, midnight dates,
    /// `NewerNoncurrentVersions` in 1..=100, no tag filter on upload aborts, prefixes of at most 1024
    /// bytes, size bounds non-negative and in order (`InvalidArgument`), at most one kind of expiration
    /// (`MalformedXML`), and at least one action per rule (`InvalidRequest`).
    pub fn validated(mut self) -> EngineResult<Self> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(EngineError::rejected(
                "MalformedXML",
                format!("A lifecycle configuration holds 1 to {MAX_RULES} rules."),
            ));
        }
        // A missing id gets the lowest `rule-N` no rule names, so ids stay unique whatever the order.
        let named: HashSet<String> = self.rules.iter().map(|r| r.id.clone()).filter(|id| !id.is_empty()).collect();
        let mut free = (1..).map(|n| format!("rule-{n}")).filter(|id| !named.contains(id));
        let mut ids = HashSet::new();
        for rule in &mut self.rules {
            if rule.id.is_empty() {
                rule.id = free.next().unwrap_or_default();
            }
            if rule.id.chars().count() > MAX_RULE_ID {
                return Err(invalid(format!("ID length should not exceed allowed limit of {MAX_RULE_ID}")));
            }
            if !ids.insert(rule.id.clone()) {
                return Err(invalid("Rule ID must be unique. Found same ID for more than one rule"));
            }
            rule.check()?;
        }
        Ok(self)
    }
}

impl Rule {
    fn check(&self) -> EngineResult<()> {
        positive(self.expiration_days, "Days")?;
        positive(self.noncurrent_days, "NoncurrentDays")?;
        positive(self.abort_incomplete_days, "DaysAfterInitiation")?;
        if self.expiration_date_ms.is_some_and(|ms| ms.rem_euclid(DAY_MS) != 0) {
            return Err(invalid("'Date' must be at midnight GMT"));
        }
        let expirations =
            [self.expiration_days.is_some(), self.expiration_date_ms.is_some(), self.expired_object_delete_marker];
        if expirations.iter().filter(|set| **set).count() > 1 {
            return Err(EngineError::rejected(
                "MalformedXML",
                "Expiration holds exactly one of Days, Date and ExpiredObjectDeleteMarker.",
            ));
        }
        if self.filter.prefix.len() > crate::limits::MAX_KEY_LENGTH {
            return Err(invalid("The prefix of a rule is at most 1024 bytes."));
        }
        if self.filter.size_greater_than.is_some_and(|n| n < 0) || self.filter.size_less_than.is_some_and(|n| n < 0) {
            return Err(invalid("ObjectSizeGreaterThan and ObjectSizeLessThan must not be negative."));
        }
        if let Some(n) = self.newer_noncurrent_versions {
            if !(1..=MAX_NEWER_NONCURRENT).contains(&n) {
                return Err(invalid("NewerNoncurrentVersions must be between 1 and 100."));
            }
            if self.noncurrent_days.is_none() {
                return Err(EngineError::rejected("MalformedXML", "NewerNoncurrentVersions needs NoncurrentDays."));
            }
        }
        if self.abort_incomplete_days.is_some() && !self.filter.tags.is_empty() {
            return Err(invalid("AbortIncompleteMultipartUpload cannot be specified with Tags."));
        }
        if let (Some(gt), Some(lt)) = (self.filter.size_greater_than, self.filter.size_less_than)
            && gt >= lt
        {
            return Err(invalid("ObjectSizeGreaterThan must be less than ObjectSizeLessThan."));
        }
        let acts = self.expiration_days.is_some()
            || self.expiration_date_ms.is_some()
            || self.expired_object_delete_marker
            || self.noncurrent_days.is_some()
            || self.abort_incomplete_days.is_some();
        if !acts {
            return Err(EngineError::rejected("InvalidRequest", "At least one action needs to be specified in a rule"));
        }
        Ok(())
    }

    fn current_expiry(&self, written: i64, day: i64) -> Option<i64> {
        match (self.expiration_days, self.expiration_date_ms) {
            (Some(days), _) => Some(after_days(written, days, day)),
            (None, Some(date)) => Some(date),
            (None, None) => None,
        }
    }
}

/// Where a rule's scan resumes: after this key (and, when not empty, after this id among its rows).
type Resume = (Vec<u8>, String);

/// How far each (bucket, rule, action) got in the previous pass on this replica.
#[derive(Debug, Default)]
pub struct Cursors(Mutex<HashMap<(i64, String, &'static str), Resume>>);

impl Cursors {
    fn get(&self, bucket: i64, rule: &str, what: &'static str) -> Option<Resume> {
        self.0.lock().ok()?.get(&(bucket, rule.to_owned(), what)).cloned()
    }

    fn set(&self, bucket: i64, rule: &str, what: &'static str, at: Option<Resume>) {
        if let Ok(mut map) = self.0.lock() {
            match at {
                Some(key) => map.insert((bucket, rule.to_owned(), what), key),
                None => map.remove(&(bucket, rule.to_owned(), what)),
            };
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Current versions expired.
    pub expired: usize,
    /// Noncurrent versions and lone delete markers removed.
    pub removed: usize,
    /// Multipart uploads aborted.
    pub aborted: usize,
    /// Actions refused because object lock protects the version.
    pub locked: usize,
}

impl Engine {
    /// Stores (or with `None` removes) `bucket`'s lifecycle rules.
    pub async fn set_lifecycle(&self, bucket: &Bucket, rules: Option<&Lifecycle>) -> EngineResult<()> {
        let json = rules.map(serde_json::to_string).transpose().map_err(|e| EngineError::Corrupt(e.to_string()))?;
        self.set_bucket_setting(bucket, cloudvault_metadata::BucketSetting::Lifecycle, json.as_deref()).await
    }

    /// One lifecycle pass over every bucket with rules, at `now` with days of `day` ms (see the
    /// module's invariants).
    pub async fn lifecycle_pass(&self, now: i64, day: i64) -> EngineResult<Applied> {
        let mut applied = Applied::default();
        let mut budget = PASS_BUDGET;
        let mut after = 0;
        loop {
            let buckets = self.meta.buckets_with_lifecycle(after, 100).await?;
            let Some(last) = buckets.last() else { return Ok(applied) };
            after = last.id;
            for bucket in &buckets {
                let Some(lifecycle) = Lifecycle::of(bucket)? else { continue };
                for rule in lifecycle.rules.iter().filter(|r| r.enabled) {
                    let pass = RulePass { engine: self, bucket, rule, now, day };
                    pass.run(&mut budget, &mut applied).await?;
                    if budget == 0 {
                        return Ok(applied);
                    }
                }
            }
        }
    }
}

/// One rule applied to one bucket within a pass.
struct RulePass<'a> {
    engine: &'a Engine,
    bucket: &'a Bucket,
    rule: &'a Rule,
    now: i64,
    day: i64,
}

impl RulePass<'_> {
    async fn run(&self, budget: &mut usize, applied: &mut Applied) -> EngineResult<()> {
        if self.rule.abort_incomplete_days.is_some() {
            self.abort_uploads(budget, applied).await?;
        }
        if self.rule.expiration_days.is_some() || self.rule.expiration_date_ms.is_some() {
            self.expire_current(budget, applied).await?;
        }
        if self.rule.noncurrent_days.is_some() || self.rule.expired_object_delete_marker {
            self.expire_versions(budget, applied).await?;
        }
        Ok(())
    }

    fn params<'p>(&'p self, at: Option<&'p Resume>, budget: usize, columns: ListColumns) -> ListParams<'p> {
        ListParams {
            prefix: self.rule.filter.prefix.as_bytes(),
            delimiter: None,
            marker: at.map(|(key, _)| key.as_slice()),
            marker_id: at.map(|(_, id)| id.as_str()).filter(|id| !id.is_empty()),
            max: budget.min(PAGE),
            columns,
        }
    }

    async fn abort_uploads(&self, budget: &mut usize, applied: &mut Applied) -> EngineResult<()> {
        let days = self.rule.abort_incomplete_days.unwrap_or(0);
        let at = self.engine.lifecycle_cursors.get(self.bucket.id, &self.rule.id, "uploads");
        let page =
            self.engine.list_uploads(self.bucket.id, self.params(at.as_ref(), *budget, ListColumns::Bare)).await?;
        *budget -= page.items.len();
        for upload in page.items.iter().filter(|u: &&Upload| after_days(u.initiated_at, days, self.day) <= self.now) {
            match self.engine.abort_upload(&upload.upload_id).await {
                Ok(()) => applied.aborted += 1,
                Err(super::EngineError::Meta(MetaError::NoSuchUpload)) => {}
                Err(e) => return Err(e),
            }
        }
        let next = page.last.filter(|_| page.truncated).map(|key| (key, page.last_id));
        self.engine.lifecycle_cursors.set(self.bucket.id, &self.rule.id, "uploads", next);
        Ok(())
    }

    async fn expire_current(&self, budget: &mut usize, applied: &mut Applied) -> EngineResult<()> {
        let at = self.engine.lifecycle_cursors.get(self.bucket.id, &self.rule.id, "current");
        let columns = if self.rule.filter.tags.is_empty() { ListColumns::Bare } else { ListColumns::WithAttributes };
        let page = self.engine.list_objects(self.bucket.id, self.params(at.as_ref(), *budget, columns)).await?;
        *budget -= page.items.len();
        for o in &page.items {
            let tags = if self.rule.filter.tags.is_empty() {
                BTreeMap::new()
            } else {
                ObjectAttributes::decode(&o.attributes).map(|a| a.tags).unwrap_or_default()
            };
            let due = self.rule.current_expiry(o.last_modified, self.day).is_some_and(|at| at <= self.now);
            if !due || !self.rule.filter.matches(&o.key, o.size, &tags) {
                continue;
            }
            let expected = (o.etag.as_str(), o.last_modified);
            // Through the engine's delete wrapper, as every delete: its failpoints and the full-volume
            // retry apply to the worker too.
            let (bucket_id, owner_id) = (self.bucket.id, self.bucket.owner_id);
            let expire = || self.engine.meta.expire_current(bucket_id, &o.key, expected, owner_id, self.now);
            match self.engine.deleting(expire).await {
                Ok(d) if d.changed => applied.expired += 1,
                Ok(_) => {}
                Err(EngineError::Meta(MetaError::ObjectLocked)) => applied.locked += 1,
                Err(e) => return Err(e),
            }
        }
        let next = page.last.filter(|_| page.truncated).map(|key| (key, String::new()));
        self.engine.lifecycle_cursors.set(self.bucket.id, &self.rule.id, "current", next);
        Ok(())
    }

    /// Noncurrent versions past their days (beyond the newest M kept) and lone delete markers. A key's
    /// versions are examined together: a page is cut at a key boundary, so each key is seen whole
    /// (a key with more versions than a page is examined page by page from its newest).
    async fn expire_versions(&self, budget: &mut usize, applied: &mut Applied) -> EngineResult<()> {
        let at = self.engine.lifecycle_cursors.get(self.bucket.id, &self.rule.id, "versions");
        let page =
            self.engine.list_versions(self.bucket.id, self.params(at.as_ref(), *budget, ListColumns::Bare)).await?;
        *budget -= page.items.len();
        let (mut i, mut last_whole) = (0, None);
        while i < page.items.len() {
            let key = &page.items[i].object.key;
            let end = page.items[i..].iter().position(|v| &v.object.key != key).map_or(page.items.len(), |n| i + n);
            let cut = end == page.items.len() && page.truncated;
            self.expire_key(&page.items[i..end], cut, applied).await?;
            if !cut {
                last_whole = Some(key.clone());
            }
            i = end;
        }
        // Resume after the last key seen whole, so a key cut by the page is examined from its newest
        // version next time; a key longer than a page continues after its last version seen.
        let next = match (page.truncated, last_whole, page.items.last()) {
            (false, _, _) | (true, _, None) => None,
            (true, Some(key), _) => Some((key, String::new())),
            (true, None, Some(v)) => Some((v.object.key.clone(), v.version_id.clone())),
        };
        self.engine.lifecycle_cursors.set(self.bucket.id, &self.rule.id, "versions", next);
        Ok(())
    }

    /// The versions of one key, newest first (`cut`: more versions of it follow on the next page).
    async fn expire_key(&self, versions: &[ListedVersion], cut: bool, applied: &mut Applied) -> EngineResult<()> {
        let Some(newest) = versions.first() else { return Ok(()) };
        if self.rule.expired_object_delete_marker && newest.is_marker && newest.is_latest && versions.len() == 1 && !cut
        {
            self.remove(newest, applied).await?;
            return Ok(());
        }
        let Some(days) = self.rule.noncurrent_days else { return Ok(()) };
        let keep = self.rule.newer_noncurrent_versions.unwrap_or(0).max(0) as usize;
        // A version became noncurrent when the next newer one was written.
        for (n, pair) in versions.windows(2).enumerate() {
            let (newer, version) = (&pair[0], &pair[1]);
            let noncurrent_rank = if versions[0].is_latest { n } else { n + 1 };
            if version.is_marker || noncurrent_rank < keep {
                continue;
            }
            if after_days(newer.object.last_modified, days, self.day) > self.now {
                continue;
            }
            if !self.rule.filter.tags.is_empty()
                || self.rule.filter.size_greater_than.is_some()
                || self.rule.filter.size_less_than.is_some()
            {
                let sel = VersionSel::parse(&version.version_id);
                let found = match sel {
                    Some(sel) => self.engine.meta.object_version(self.bucket.id, &version.object.key, &sel).await?,
                    None => None,
                };
                let Some(found) = found else { continue };
                let tags = ObjectAttributes::decode(&found.object.attributes).map(|a| a.tags).unwrap_or_default();
                if !self.rule.filter.matches(&found.object.key, found.object.size, &tags) {
                    continue;
                }
            }
            self.remove(version, applied).await?;
        }
        Ok(())
    }

    async fn remove(&self, version: &ListedVersion, applied: &mut Applied) -> EngineResult<()> {
        let Some(sel) = VersionSel::parse(&version.version_id) else { return Ok(()) };
        match self.engine.delete_version(self.bucket.id, &version.object.key, &sel, false).await {
            Ok(d) if d.changed => applied.removed += 1,
            Ok(_) => {}
            Err(EngineError::Meta(MetaError::ObjectLocked)) => applied.locked += 1,
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_days_round_up_to_midnight_and_test_days_are_exact() {
        let noon = 10 * DAY_MS + DAY_MS / 2;
        assert_eq!(after_days(noon, 1, DAY_MS), 12 * DAY_MS, "1 day after noon of day 10 is midnight ending day 11");
        assert_eq!(after_days(10 * DAY_MS, 1, DAY_MS), 12 * DAY_MS, "an exact midnight still rounds to the next");
        assert_eq!(after_days(1_000, 3, 2_000), 7_000);
    }

    #[test]
    fn filters_match_prefix_tags_and_sizes() {
        let f = Filter {
            prefix: "logs/".into(),
            tags: BTreeMap::from([("class".into(), "tmp".into())]),
            size_greater_than: Some(10),
            size_less_than: Some(100),
        };
        let tags = BTreeMap::from([("class".to_owned(), "tmp".to_owned()), ("x".to_owned(), "y".to_owned())]);
        assert!(f.matches(b"logs/a", 50, &tags));
        assert!(!f.matches(b"other/a", 50, &tags), "prefix");
        assert!(!f.matches(b"logs/a", 50, &BTreeMap::new()), "tags");
        assert!(!f.matches(b"logs/a", 10, &tags) && !f.matches(b"logs/a", 100, &tags), "sizes are exclusive");
    }

    #[test]
    fn the_earliest_enabled_expiration_wins() {
        let rule = |id: &str, enabled, days| Rule {
            id: id.into(),
            enabled,
            expiration_days: Some(days),
            ..Default::default()
        };
        let l = Lifecycle { rules: vec![rule("late", true, 5), rule("off", false, 1), rule("soon", true, 2)] };
        assert_eq!(l.expiry_of(b"k", 1, &BTreeMap::new(), 0, 1_000), Some((2_000, "soon")));
    }
}
