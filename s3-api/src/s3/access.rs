//! The s3s access hook: every S3 request is authorized by the shared [`crate::auth::Authorizer`] after
//! s3s verified its signature, with the condition keys its headers and query carry.

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::PostObjectInput;
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use crate::auth::authorizer::AccessRequest;
use crate::auth::context::{ConditionKeys, RequestKeys, add_tag_keys, s3_request_keys, version_keys};
use crate::auth::origin::Origin;
use crate::auth::{Authorizer, Principal, action_of};
use crate::engine::buckets::AuthorizedBucket;
use cloudvault_metadata::Bucket;

/// Operations whose keys are not in the path: the check here only resolves the bucket (and the key's
/// scope), and each key is authorized where it is known — DeleteObjects in the operation, PostObject
/// in [`S3Authz::post_object`] once s3s has read the form.
const PER_KEY: [&str; 2] = ["DeleteObjects", "PostObject"];

/// Whether the caller of an S3 request (its principal, origin and condition keys as the hook left
/// them in `ext`) may perform `action` on `key` (its version `version`, if named) in `bucket`: for
/// the checks operations make themselves (each key of DeleteObjects, a governance bypass).
pub async fn key_allowed(
    authorizer: &Authorizer,
    ext: &http::Extensions,
    bucket: &Bucket,
    action: &str,
    key: &str,
    version: Option<&str>,
) -> S3Result<bool> {
    let mut keys = ext.get::<RequestKeys>().map(|k| k.0.clone()).unwrap_or_default();
    keys.extend(version_keys(version));
    let request = AccessRequest {
        caller: ext.get::<Principal>(),
        origin: ext.get::<Origin>().copied().unwrap_or_default(),
        action,
        bucket: Some(&bucket.name),
        key: Some(key),
        keys,
        per_key: false,
    };
    authorizer.judge(bucket, &request).await
}

/// The condition keys of a browser form: the request's, less everything its headers say about the
/// object (a form's object settings are its fields, and a header may say otherwise), plus the
/// fields: ACL, grants, tags, lock settings, encryption and storage class.
fn form_keys(req: &S3Request<PostObjectInput>) -> ConditionKeys {
    let mut keys = req.extensions.get::<RequestKeys>().map(|k| k.0.clone()).unwrap_or_default();
    keys.retain(|k, _| !k.starts_with("s3:x-amz-") && !k.starts_with("s3:requestobjecttag"));
    let i = &req.input;
    let mut set = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            keys.insert(format!("s3:{name}"), vec![v.to_owned()]);
        }
    };
    set("x-amz-acl", i.acl.as_ref().map(|a| a.as_str()));
    set("x-amz-grant-full-control", i.grant_full_control.as_deref());
    set("x-amz-grant-read", i.grant_read.as_deref());
    set("x-amz-grant-read-acp", i.grant_read_acp.as_deref());
    set("x-amz-grant-write-acp", i.grant_write_acp.as_deref());
    set("x-amz-object-lock-mode", i.object_lock_mode.as_ref().map(|m| m.as_str()));
    set("x-amz-object-lock-legal-hold", i.object_lock_legal_hold_status.as_ref().map(|h| h.as_str()));
    set("x-amz-server-side-encryption", i.server_side_encryption.as_ref().map(|e| e.as_str()));
    set("x-amz-storage-class", i.storage_class.as_ref().map(|c| c.as_str()));
    if let Some(tagging) = &i.tagging {
        add_tag_keys(&mut keys, tagging);
    }
    keys
}

/// The actions a request needs beside its own: a write that sets object lock state with headers
/// needs `s3:PutObjectRetention` / `s3:PutObjectLegalHold` too, and GetObjectAttributes needs read
/// access to the object (AWS: `s3:GetObject`, or `s3:GetObjectVersion` when a version is named).
fn extra_actions(operation: &str, headers: &http::HeaderMap, versioned: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    match operation {
        "PutObject" | "CopyObject" | "CreateMultipartUpload" => {
            if headers.contains_key("x-amz-object-lock-mode")
                || headers.contains_key("x-amz-object-lock-retain-until-date")
            {
                out.push("s3:PutObjectRetention");
            }
            if headers.contains_key("x-amz-object-lock-legal-hold") {
                out.push("s3:PutObjectLegalHold");
            }
        }
        "GetObjectAttributes" => out.push(if versioned { "s3:GetObjectVersion" } else { "s3:GetObject" }),
        _ => {}
    }
    out
}

/// The s3s access hook: resolves the signed access key to its user (once per request) and asks the
/// [`Authorizer`]. The principal and the authorized bucket go into the request's extensions, where the
/// operation finds them.
#[derive(Debug, Clone)]
pub struct S3Authz(pub Arc<Authorizer>);

#[async_trait::async_trait]
impl S3Access for S3Authz {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let operation = cx.s3_op().name().to_owned();
        if let Some(slot) = cx.extensions_mut().get::<crate::metrics::OperationSlot>() {
            slot.set(&operation);
        }
        // The listener records where the request came from (`server::RequestIds`).
        let origin = cx.extensions_mut().get::<Origin>().copied().unwrap_or_default();
        let caller = match cx.credentials() {
            Some(creds) => Some(Principal { origin, ..self.0.keys.principal(&creds.access_key).await? }),
            None => None,
        };
        if let Some(p) = &caller {
            cx.extensions_mut().insert(p.clone());
        }
        // Decoded as s3s decodes the query, so `%76ersionId=` is the version it serves.
        let keys = s3_request_keys(cx.headers(), cx.uri().query());
        let action = action_of(&operation, keys.contains_key("s3:versionid"));
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        let request = AccessRequest {
            caller: caller.as_ref(),
            origin,
            action: &action,
            bucket: bucket.as_deref(),
            key: key.as_deref(),
            keys: keys.clone(),
            per_key: PER_KEY.contains(&operation.as_str()),
        };
        let found = self.0.decide(request.clone()).await?;
        if let Some(found) = &found {
            for extra in extra_actions(&operation, cx.headers(), keys.contains_key("s3:versionid")) {
                if !self.0.judge(found, &AccessRequest { action: extra, ..request.clone() }).await? {
                    return Err(s3_error!(AccessDenied, "Access Denied"));
                }
            }
        }
        drop(request);
        if let Some(found) = found {
            cx.extensions_mut().insert(AuthorizedBucket(found));
        }
        cx.extensions_mut().insert(RequestKeys(keys));
        Ok(())
    }

    /// A browser-form upload, authorized as `s3:PutObject` on the form's key (and the lock actions
    /// when the form sets a retention or legal hold), with the form's fields as condition keys, now
    /// that s3s has verified the form and read them.
    async fn post_object(&self, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
        let Some(AuthorizedBucket(bucket)) = req.extensions.get::<AuthorizedBucket>().cloned() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        crate::s3::form::complete_input(req).await?;
        let keys = form_keys(req);
        let request = AccessRequest {
            caller: req.extensions.get::<Principal>(),
            origin: req.extensions.get::<Origin>().copied().unwrap_or_default(),
            action: "s3:PutObject",
            bucket: Some(&bucket.name),
            key: Some(&req.input.key),
            keys,
            per_key: false,
        };
        let i = &req.input;
        let mut actions = vec!["s3:PutObject"];
        if i.object_lock_mode.is_some() || i.object_lock_retain_until_date.is_some() {
            actions.push("s3:PutObjectRetention");
        }
        if i.object_lock_legal_hold_status.is_some() {
            actions.push("s3:PutObjectLegalHold");
        }
        for action in actions {
            if !self.0.judge(&bucket, &AccessRequest { action, ..request.clone() }).await? {
                return Err(s3_error!(AccessDenied, "Access Denied"));
            }
        }
        Ok(())
    }
}
