//! ACLs, object ownership and Block Public Access: Get/PutBucketAcl, Get/PutObjectAcl,
//! Put/Get/DeleteBucketOwnershipControls, Put/Get/DeletePublicAccessBlock, and the ACL a write
//! (CreateBucket, PutObject, CopyObject, CreateMultipartUpload) asks for with `x-amz-acl` or
//! `x-amz-grant-*`. This file translates S3's forms to the engine's (`engine::access`), which enforces
//! the rules (ACLs disabled under BucketOwnerEnforced, Block Public Access).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Bucket, UserId};

use super::owner;
use super::tagging::Target;
use crate::auth::Principal;
use crate::auth::context::canonical_id;
use crate::engine::access::{Acl, Canned, Grant as AclGrant, Grantee as AclGrantee, Ownership, Permission};
use crate::engine::access::{PublicAccessBlock, check_acl, object_owner};
use crate::limits::MAX_ACL_GRANTS;
use crate::s3::vault::CloudVault;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// The `x-amz-grant-*` headers of a request.
#[derive(Debug, Default)]
pub struct GrantHeaders {
    /// `x-amz-grant-full-control`.
    pub full_control: Option<String>,
    /// `x-amz-grant-read`.
    pub read: Option<String>,
    /// `x-amz-grant-read-acp`.
    pub read_acp: Option<String>,
    /// `x-amz-grant-write` (buckets only).
    pub write: Option<String>,
    /// `x-amz-grant-write-acp`.
    pub write_acp: Option<String>,
}

/// The grant headers of an s3s input that has them (objects have no `x-amz-grant-write`).
macro_rules! grant_headers {
    ($i:expr) => {
        $crate::s3::ops::acl::GrantHeaders {
            full_control: $i.grant_full_control.clone(),
            read: $i.grant_read.clone(),
            read_acp: $i.grant_read_acp.clone(),
            write: None,
            write_acp: $i.grant_write_acp.clone(),
        }
    };
    ($i:expr, bucket) => {
        $crate::s3::ops::acl::GrantHeaders { write: $i.grant_write.clone(), ..grant_headers!($i) }
    };
}
pub(crate) use grant_headers;

impl GrantHeaders {
    fn is_empty(&self) -> bool {
        [&self.full_control, &self.read, &self.read_acp, &self.write, &self.write_acp].iter().all(|h| h.is_none())
    }
}

/// What an ACL request or write asks for, before it is resolved against its owner.
pub struct AclRequest<'a> {
    /// `x-amz-acl`.
    pub canned: Option<&'a str>,
    /// `x-amz-grant-*`.
    pub headers: GrantHeaders,
    /// The AccessControlPolicy body (Put*Acl only).
    pub body: Option<AccessControlPolicy>,
    /// Whether it is for a bucket (WRITE is grantable, log-delivery-write allowed).
    pub bucket: bool,
}

impl AclRequest<'_> {
    /// The ACL asked for on something owned by `owner` in a bucket owned by `bucket_owner` (None: the
    /// request names none).
    /// A canned ACL with grants is `InvalidRequest`; an unknown canned ACL or grantee, or a grant to
    /// an unknown user, is `InvalidArgument`; e-mail grantees are `UnresolvableGrantByEmailAddress`
    /// (CloudVault users have no e-mail addresses).
    pub async fn resolve(self, v: &CloudVault, owner: UserId, bucket_owner: UserId) -> S3Result<Option<Acl>> {
        let explicit = !self.headers.is_empty() || self.body.is_some();
        match (self.canned, explicit) {
            (Some(_), true) => {
                Err(s3_error!(InvalidRequest, "Specifying both Canned ACLs and Header Grants is not allowed"))
            }
            (Some(name), false) => canned(name, self.bucket).map(|c| Some(c.acl(owner, bucket_owner))),
            (None, false) => Ok(None),
            (None, true) => {
                let mut named = Vec::new();
                for (header, permission) in [
                    (&self.headers.full_control, Permission::FullControl),
                    (&self.headers.read, Permission::Read),
                    (&self.headers.read_acp, Permission::ReadAcp),
                    (&self.headers.write, Permission::Write),
                    (&self.headers.write_acp, Permission::WriteAcp),
                ] {
                    for grantee in header.as_deref().map(parse_grantees).transpose()?.unwrap_or_default() {
                        named.push((grantee, permission));
                    }
                }
                for g in self.body.and_then(|b| b.grants).unwrap_or_default() {
                    let permission = g.permission.as_ref().and_then(|p| Permission::parse(p.as_str()));
                    let permission = permission.ok_or_else(|| s3_error!(MalformedACLError, "Invalid permission"))?;
                    let grantee = g.grantee.ok_or_else(|| s3_error!(MalformedACLError, "A grant has no grantee"))?;
                    named.push((grantee_of_dto(&grantee)?, permission));
                }
                // Counted before any user is looked up: AWS's limit, and a bound on the lookups.
                if named.len() > MAX_ACL_GRANTS {
                    return Err(s3_error!(MalformedACLError, "An ACL has at most {MAX_ACL_GRANTS} grants"));
                }
                let mut grants = Vec::with_capacity(named.len());
                for (grantee, permission) in named {
                    grants.push(AclGrant { grantee: resolve_grantee(v, grantee).await?, permission });
                }
                if !self.bucket && grants.iter().any(|g| g.permission == Permission::Write) {
                    return Err(s3_error!(InvalidArgument, "WRITE cannot be granted on an object"));
                }
                Ok(Some(Acl { grants }))
            }
        }
    }
}

fn canned(name: &str, bucket: bool) -> S3Result<Canned> {
    match (Canned::parse(name), name) {
        (Some(Canned::LogDeliveryWrite), _) if !bucket => Err(s3_error!(InvalidArgument, "Invalid canned ACL")),
        (Some(c), _) => Ok(c),
        (None, "aws-exec-read") => Err(s3_error!(NotImplemented, "The aws-exec-read canned ACL is not supported.")),
        (None, _) => Err(s3_error!(InvalidArgument, "Invalid canned ACL")),
    }
}

/// A grantee as written in a header or a body, before it is checked.
enum Named {
    Id(String),
    Uri(String),
    Email,
}

/// Parses an `x-amz-grant-*` value: `id="..."`, `uri="..."` or `emailAddress="..."`, comma-separated.
fn parse_grantees(header: &str) -> S3Result<Vec<Named>> {
    header
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            let (kind, value) =
                entry.split_once('=').ok_or_else(|| s3_error!(InvalidArgument, "Invalid grant header"))?;
            let value = value.trim().trim_matches('"').to_owned();
            match kind.trim().to_ascii_lowercase().as_str() {
                "id" => Ok(Named::Id(value)),
                "uri" => Ok(Named::Uri(value)),
                "emailaddress" => Ok(Named::Email),
                _ => Err(s3_error!(InvalidArgument, "Argument format not recognized")),
            }
        })
        .collect()
}

fn grantee_of_dto(g: &Grantee) -> S3Result<Named> {
    match g.type_.as_str() {
        Type::CANONICAL_USER => {
            g.id.clone().map(Named::Id).ok_or_else(|| s3_error!(MalformedACLError, "A grantee has no ID"))
        }
        Type::GROUP => g.uri.clone().map(Named::Uri).ok_or_else(|| s3_error!(MalformedACLError, "A group has no URI")),
        Type::AMAZON_CUSTOMER_BY_EMAIL => Ok(Named::Email),
        _ => Err(s3_error!(MalformedACLError, "Invalid grantee type")),
    }
}

async fn resolve_grantee(v: &CloudVault, named: Named) -> S3Result<AclGrantee> {
    match named {
        Named::Uri(uri) => match uri.as_str() {
            ALL_USERS => Ok(AclGrantee::AllUsers),
            AUTHENTICATED_USERS => Ok(AclGrantee::AuthenticatedUsers),
            LOG_DELIVERY => Ok(AclGrantee::LogDelivery),
            _ => Err(s3_error!(InvalidArgument, "Invalid group uri")),
        },
        Named::Id(id) => {
            let user = (id.len() == 64).then(|| i64::from_str_radix(&id, 16).ok()).flatten();
            match user {
                Some(user) if v.keys.user_exists(user).await? => Ok(AclGrantee::User(user)),
                _ => Err(s3_error!(InvalidArgument, "Invalid id")),
            }
        }
        Named::Email => Err(s3_error!(
            UnresolvableGrantByEmailAddress,
            "The e-mail address you provided does not match any account on record."
        )),
    }
}

/// The Owner and Grants S3 reports for `acl` on something owned by `owner_id`.
async fn acl_to_dto(v: &CloudVault, acl: &Acl, owner_id: UserId) -> S3Result<(Owner, Vec<Grant>)> {
    let mut grants = Vec::with_capacity(acl.grants.len());
    for g in &acl.grants {
        let grantee = match g.grantee {
            AclGrantee::User(id) => Grantee {
                display_name: Some(v.keys.user_name(id).await?),
                email_address: None,
                id: Some(canonical_id(id)),
                type_: Type::from_static(Type::CANONICAL_USER),
                uri: None,
            },
            group => Grantee {
                display_name: None,
                email_address: None,
                id: None,
                type_: Type::from_static(Type::GROUP),
                uri: Some(
                    match group {
                        AclGrantee::AllUsers => ALL_USERS,
                        AclGrantee::AuthenticatedUsers => AUTHENTICATED_USERS,
                        _ => LOG_DELIVERY,
                    }
                    .to_owned(),
                ),
            },
        };
        grants.push(Grant {
            grantee: Some(grantee),
            permission: Some(Permission::as_str(g.permission).to_owned().into()),
        });
    }
    Ok((owner(owner_id, v.keys.user_name(owner_id).await?), grants))
}

/// The owner and ACL of an object a request writes into `bucket`: the ACL it asks for (checked
/// against the bucket's ownership control and Block Public Access) and who owns the object then.
pub async fn write_acl(
    v: &CloudVault,
    ext: &http::Extensions,
    bucket: &Bucket,
    request: AclRequest<'_>,
) -> S3Result<(UserId, Option<Acl>)> {
    let writer = ext.get::<Principal>().map(|p| p.user_id);
    let provisional = writer.unwrap_or(bucket.owner_id);
    let acl = request.resolve(v, provisional, bucket.owner_id).await?;
    if let Some(acl) = &acl {
        check_acl(bucket, acl, provisional).map_err(crate::engine::EngineError::from)?;
    }
    let owner_id = object_owner(bucket, writer, acl.as_ref());
    // With ACLs disabled an accepted ACL grants nothing beyond the owner's: store none.
    let acl = acl.filter(|_| crate::engine::access::acls_enabled(bucket));
    Ok((owner_id, acl))
}

/// GetBucketAcl: the bucket's grants (the owner's FULL_CONTROL when private or ACLs are disabled).
pub async fn get_bucket_acl(
    v: &CloudVault,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let (owner, grants) = acl_to_dto(v, &Acl::of_bucket(&bucket), bucket.owner_id).await?;
    Ok(S3Response::new(GetBucketAclOutput { owner: Some(owner), grants: Some(grants) }))
}

/// PutBucketAcl: a canned ACL, grant headers or an AccessControlPolicy body (exactly one form).
pub async fn put_bucket_acl(
    v: &CloudVault,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let request = AclRequest {
        canned: i.acl.as_ref().map(BucketCannedACL::as_str),
        headers: grant_headers!(i, bucket),
        body: i.access_control_policy,
        bucket: true,
    };
    let acl = request.resolve(v, bucket.owner_id, bucket.owner_id).await?;
    let acl = acl.ok_or_else(|| s3_error!(MissingSecurityHeader, "Your request was missing a required header"))?;
    v.engine.set_bucket_acl(&bucket, &acl).await?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

/// GetObjectAcl: the grants of the object version (its owner's FULL_CONTROL when it has none or
/// ACLs are disabled).
pub async fn get_object_acl(
    v: &CloudVault,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let i = &req.input;
    let target = Target::resolve(v, &req.extensions, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    let acl = Acl::of_object(&target.bucket, target.object.owner_id, target.attributes.acl.as_ref());
    let (owner, grants) = acl_to_dto(v, &acl, target.object.owner_id).await?;
    Ok(S3Response::new(GetObjectAclOutput { owner: Some(owner), grants: Some(grants), ..Default::default() }))
}

/// PutObjectAcl: replaces the ACL of exactly the version read (current, or `versionId`).
pub async fn put_object_acl(
    v: &CloudVault,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let i = req.input;
    let target = Target::resolve(v, &req.extensions, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    let request = AclRequest {
        canned: i.acl.as_ref().map(ObjectCannedACL::as_str),
        headers: grant_headers!(i),
        body: i.access_control_policy,
        bucket: false,
    };
    let owner_id = target.object.owner_id;
    let acl = request.resolve(v, owner_id, target.bucket.owner_id).await?;
    let acl = acl.ok_or_else(|| s3_error!(MissingSecurityHeader, "Your request was missing a required header"))?;
    let writer = req.extensions.get::<Principal>().map_or(target.bucket.owner_id, |p| p.user_id);
    let Target { bucket, object, attributes } = target;
    v.engine.set_object_acl(&bucket, &object, attributes, acl, writer).await?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

/// GetBucketOwnershipControls: the bucket's control, or `OwnershipControlsNotFoundError` after
/// DeleteBucketOwnershipControls.
pub async fn get_bucket_ownership_controls(
    v: &CloudVault,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let ownership = Ownership::of(&bucket).ok_or_else(|| {
        super::config::not_found(
            s3s::S3ErrorCode::OwnershipControlsNotFoundError,
            "The bucket ownership controls were not found",
        )
    })?;
    let rule = OwnershipControlsRule { object_ownership: ObjectOwnership::from(ownership.as_str().to_owned()) };
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls { rules: vec![rule] }),
    }))
}

/// PutBucketOwnershipControls: exactly one rule with a known ObjectOwnership.
pub async fn put_bucket_ownership_controls(
    v: &CloudVault,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let rules = &req.input.ownership_controls.rules;
    let [rule] = rules.as_slice() else {
        return Err(s3_error!(MalformedXML, "OwnershipControls must have exactly one rule"));
    };
    let ownership = ownership_of(rule.object_ownership.as_str())?;
    v.engine.set_ownership(&bucket, Some(ownership)).await?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
}

/// An `ObjectOwnership` value, or AWS's `InvalidArgument`.
pub fn ownership_of(name: &str) -> S3Result<Ownership> {
    Ownership::parse(name).ok_or_else(|| s3_error!(InvalidArgument, "Invalid ObjectOwnership: {name}"))
}

/// DeleteBucketOwnershipControls: the bucket has no control afterwards (it behaves as ObjectWriter).
pub async fn delete_bucket_ownership_controls(
    v: &CloudVault,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.set_ownership(&bucket, None).await?;
    Ok(S3Response::new(DeleteBucketOwnershipControlsOutput {}))
}

/// GetPublicAccessBlock: the flags, or `NoSuchPublicAccessBlockConfiguration`.
pub async fn get_public_access_block(
    v: &CloudVault,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    if bucket.public_access_block.is_none() {
        return Err(super::config::not_found(
            s3s::S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
            "The public access block configuration was not found",
        ));
    }
    let f = PublicAccessBlock::of(&bucket);
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(f.block_public_acls),
            ignore_public_acls: Some(f.ignore_public_acls),
            block_public_policy: Some(f.block_public_policy),
            restrict_public_buckets: Some(f.restrict_public_buckets),
        }),
    }))
}

/// PutPublicAccessBlock: the four flags (a missing one is off).
pub async fn put_public_access_block(
    v: &CloudVault,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let c = &req.input.public_access_block_configuration;
    let flags = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    v.engine.set_public_access_block(&bucket, Some(flags)).await?;
    Ok(S3Response::new(PutPublicAccessBlockOutput {}))
}

/// DeletePublicAccessBlock: 204; nothing is blocked afterwards.
pub async fn delete_public_access_block(
    v: &CloudVault,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.set_public_access_block(&bucket, None).await?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
}
