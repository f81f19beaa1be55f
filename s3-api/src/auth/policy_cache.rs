//! Parsed bucket policies, so a request (or each of DeleteObjects' thousand keys) is judged against
//! a document parsed once, not re-parsed from its JSON every time.
//!
//! An entry is keyed by bucket id and holds the text it was parsed from; a lookup whose bucket
//! carries other text (the policy was replaced, here or on another replica, and the bucket cache
//! has the new row) parses again and replaces the entry. So the cache can never answer with a
//! policy other than the one on the bucket row the decision is made on. It holds only buckets that
//! exist and have a policy, at most [`MAX_PARSED_POLICIES`] of them (cleared when full): nothing an
//! unauthenticated request names can grow it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cloudvault_metadata::{Bucket, BucketId};

use super::iam::{PolicyDocument, PolicyError};
use crate::limits::MAX_PARSED_POLICIES;

/// A policy as parsed, with whether it is public (computed once too).
#[derive(Debug)]
pub struct ParsedPolicy {
    /// The document.
    pub document: PolicyDocument,
    /// [`PolicyDocument::is_public`] of it.
    pub public: bool,
}

/// One cached policy: the text it was parsed from, and the parse.
type Entry = (Arc<str>, Arc<ParsedPolicy>);

/// The cache; see the module comment.
#[derive(Debug, Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<BucketId, Entry>>,
}

impl PolicyCache {
    /// The parsed policy of `bucket` (`None` without one). A stored policy that no longer parses is
    /// returned as its error, and not cached.
    pub fn of(&self, bucket: &Bucket) -> Option<Result<Arc<ParsedPolicy>, PolicyError>> {
        let text = bucket.policy.as_deref()?;
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((cached, parsed)) = entries.get(&bucket.id)
                && **cached == *text
            {
                return Some(Ok(parsed.clone()));
            }
        }
        let document = match PolicyDocument::parse(&bucket.name, text) {
            Ok(document) => document,
            Err(e) => return Some(Err(e)),
        };
        let parsed = Arc::new(ParsedPolicy { public: document.is_public(), document });
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_PARSED_POLICIES && !entries.contains_key(&bucket.id) {
            entries.clear();
        }
        entries.insert(bucket.id, (Arc::from(text), parsed.clone()));
        Some(Ok(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(id: BucketId, policy: Option<&str>) -> Bucket {
        Bucket {
            id,
            name: "b".into(),
            owner_id: 1,
            region: "us-east-1".into(),
            created_at: 0,
            policy: policy.map(str::to_owned),
            tags: None,
            cors: None,
            versioning: cloudvault_metadata::Versioning::Unversioned,
            object_lock: None,
            lifecycle: None,
            ownership: None,
            public_access_block: None,
            acl: None,
        }
    }

    const PUBLIC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    const PRIVATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;

    #[test]
    fn a_changed_policy_is_parsed_again_and_a_broken_one_is_an_error() {
        let cache = PolicyCache::default();
        assert!(cache.of(&bucket(1, None)).is_none());
        let first = cache.of(&bucket(1, Some(PUBLIC))).expect("test value").expect("test value");
        assert!(first.public);
        assert!(Arc::ptr_eq(&first, &cache.of(&bucket(1, Some(PUBLIC))).expect("test value").expect("test value")));
        assert!(!cache.of(&bucket(1, Some(PRIVATE))).expect("test value").expect("test value").public);
        assert!(cache.of(&bucket(1, Some("{"))).expect("test value").is_err());
        assert!(cache.of(&bucket(2, Some(PUBLIC))).expect("test value").expect("test value").public);
    }
}
