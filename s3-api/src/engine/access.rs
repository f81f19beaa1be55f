//! The access settings a bucket or object carries besides the bucket policy, as AWS defines them:
//! object ownership (which decides whether ACLs apply at all), Block Public Access, and ACLs (grants
//! of READ / WRITE / READ_ACP / WRITE_ACP / FULL_CONTROL to users and to the AllUsers /
//! AuthenticatedUsers / LogDelivery groups). Stored as JSON the engine writes: a bucket's in its row,
//! an object's with its attributes (so every version keeps its own). The authorizer evaluates them;
//! both fronts set them through [`Engine`] calls that enforce AWS's rules once, here.

use serde::{Deserialize, Serialize};

use cloudvault_metadata::{Bucket, BucketSetting, ObjectRecord, UserId};

use super::attributes::ObjectAttributes;
use super::{Engine, EngineError, EngineResult};

/// A bucket's object ownership control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// ACLs are disabled: the bucket owner owns every object; only ACLs that grant nothing beyond
    /// the owner's full control are accepted. AWS's default for new buckets.
    BucketOwnerEnforced,
    /// ACLs apply; an object written with `bucket-owner-full-control` is owned by the bucket owner.
    BucketOwnerPreferred,
    /// ACLs apply; the writer owns what it writes (also what a bucket without controls does).
    ObjectWriter,
}

impl Ownership {
    /// The S3 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::BucketOwnerEnforced => "BucketOwnerEnforced",
            Ownership::BucketOwnerPreferred => "BucketOwnerPreferred",
            Ownership::ObjectWriter => "ObjectWriter",
        }
    }

    /// Parses an S3 name.
    pub fn parse(name: &str) -> Option<Self> {
        [Ownership::BucketOwnerEnforced, Ownership::BucketOwnerPreferred, Ownership::ObjectWriter]
            .into_iter()
            .find(|o| o.as_str() == name)
    }

    /// The control `bucket` has (`None`: none, which behaves as ObjectWriter).
    pub fn of(bucket: &Bucket) -> Option<Self> {
        bucket.ownership.as_deref().and_then(Self::parse)
    }
}

/// Whether ACLs apply in `bucket` (not BucketOwnerEnforced).
pub fn acls_enabled(bucket: &Bucket) -> bool {
    Ownership::of(bucket) != Some(Ownership::BucketOwnerEnforced)
}

/// A bucket's Block Public Access flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessBlock {
    /// Refuse requests that set a public ACL.
    pub block_public_acls: bool,
    /// Evaluate as if public ACL grants were not there.
    pub ignore_public_acls: bool,
    /// Refuse bucket policies that are public.
    pub block_public_policy: bool,
    /// With a public policy, its grants reach only signed-in users, never anonymous callers.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// The flags `bucket` has (all off without a configuration, or one that no longer parses).
    pub fn of(bucket: &Bucket) -> Self {
        bucket.public_access_block.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
    }
}

/// An ACL permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    /// Every permission below.
    FullControl,
    /// Bucket: list it. Object: read its bytes and metadata.
    Read,
    /// Bucket: create, overwrite and delete any object in it. (Not grantable on objects.)
    Write,
    /// Read the ACL.
    ReadAcp,
    /// Replace the ACL.
    WriteAcp,
}

impl Permission {
    /// The S3 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
        }
    }

    /// Parses an S3 name.
    pub fn parse(name: &str) -> Option<Self> {
        use Permission::*;
        [FullControl, Read, Write, ReadAcp, WriteAcp].into_iter().find(|p| p.as_str() == name)
    }
}

/// Who an ACL grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "user")]
pub enum Grantee {
    /// One CloudVault user (by canonical id in S3).
    User(UserId),
    /// Everyone, anonymous callers included (`http://acs.amazonaws.com/groups/global/AllUsers`).
    AllUsers,
    /// Every signed-in user (`.../global/AuthenticatedUsers`).
    AuthenticatedUsers,
    /// The log delivery group (`.../s3/LogDelivery`); CloudVault delivers no logs, so it reaches no one.
    LogDelivery,
}

impl Grantee {
    /// Whether the grant reaches `caller` (None: anonymous).
    fn reaches(self, caller: Option<UserId>) -> bool {
        match self {
            Grantee::User(id) => caller == Some(id),
            Grantee::AllUsers => true,
            Grantee::AuthenticatedUsers => caller.is_some(),
            Grantee::LogDelivery => false,
        }
    }

    /// Whether it is a public grantee (AllUsers or AuthenticatedUsers), as Block Public Access sees it.
    pub fn is_public(self) -> bool {
        matches!(self, Grantee::AllUsers | Grantee::AuthenticatedUsers)
    }
}

/// One ACL grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Who.
    pub grantee: Grantee,
    /// What.
    pub permission: Permission,
}

/// An access control list: its grants (its owner is the bucket's or object's owner).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Acl {
    /// The grants, in the order given.
    pub grants: Vec<Grant>,
}

/// The canned ACLs S3 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canned {
    /// The owner's FULL_CONTROL.
    Private,
    /// And AllUsers READ.
    PublicRead,
    /// And AllUsers READ and WRITE.
    PublicReadWrite,
    /// And AuthenticatedUsers READ.
    AuthenticatedRead,
    /// (Objects) and the bucket owner's READ.
    BucketOwnerRead,
    /// (Objects) and the bucket owner's FULL_CONTROL.
    BucketOwnerFullControl,
    /// (Buckets) and LogDelivery WRITE and READ_ACP.
    LogDeliveryWrite,
}

impl Canned {
    /// Parses a canned ACL name; `aws-exec-read` and unknown names are `None`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "private" => Canned::Private,
            "public-read" => Canned::PublicRead,
            "public-read-write" => Canned::PublicReadWrite,
            "authenticated-read" => Canned::AuthenticatedRead,
            "bucket-owner-read" => Canned::BucketOwnerRead,
            "bucket-owner-full-control" => Canned::BucketOwnerFullControl,
            "log-delivery-write" => Canned::LogDeliveryWrite,
            _ => return None,
        })
    }

    /// The ACL it stands for, on something owned by `owner` in a bucket owned by `bucket_owner`.
    pub fn acl(self, owner: UserId, bucket_owner: UserId) -> Acl {
        let grant = |grantee, permission| Grant { grantee, permission };
        let mut grants = vec![grant(Grantee::User(owner), Permission::FullControl)];
        match self {
            Canned::Private => {}
            Canned::PublicRead => grants.push(grant(Grantee::AllUsers, Permission::Read)),
            Canned::PublicReadWrite => {
                grants.push(grant(Grantee::AllUsers, Permission::Read));
                grants.push(grant(Grantee::AllUsers, Permission::Write));
            }
            Canned::AuthenticatedRead => grants.push(grant(Grantee::AuthenticatedUsers, Permission::Read)),
            Canned::BucketOwnerRead if bucket_owner != owner => {
                grants.push(grant(Grantee::User(bucket_owner), Permission::Read));
            }
            Canned::BucketOwnerFullControl if bucket_owner != owner => {
                grants.push(grant(Grantee::User(bucket_owner), Permission::FullControl));
            }
            Canned::BucketOwnerRead | Canned::BucketOwnerFullControl => {}
            Canned::LogDeliveryWrite => {
                grants.push(grant(Grantee::LogDelivery, Permission::Write));
                grants.push(grant(Grantee::LogDelivery, Permission::ReadAcp));
            }
        }
        Acl { grants }
    }
}

impl Acl {
    /// The private ACL of something owned by `owner`.
    pub fn private(owner: UserId) -> Self {
        Canned::Private.acl(owner, owner)
    }

    /// The stored ACL (`None`: private to `owner`; one that no longer parses grants only that).
    pub fn stored(json: Option<&str>, owner: UserId) -> Self {
        json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_else(|| Self::private(owner))
    }

    /// The ACL that counts for `bucket`: its own, or the owner's FULL_CONTROL when it has none or ACLs
    /// are disabled.
    pub fn of_bucket(bucket: &Bucket) -> Self {
        match acls_enabled(bucket) {
            true => Self::stored(bucket.acl.as_deref(), bucket.owner_id),
            false => Self::private(bucket.owner_id),
        }
    }

    /// The ACL that counts for a version owned by `owner` in `bucket` with `acl` stored: that, or the
    /// owner's FULL_CONTROL when it has none or ACLs are disabled.
    pub fn of_object(bucket: &Bucket, owner: UserId, acl: Option<&Acl>) -> Self {
        match (acls_enabled(bucket), acl) {
            (true, Some(acl)) => acl.clone(),
            _ => Self::private(owner),
        }
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether it grants anything to AllUsers or AuthenticatedUsers.
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| g.grantee.is_public())
    }

    /// Whether it grants nothing beyond `owner`'s FULL_CONTROL (what a bucket with ACLs disabled
    /// accepts).
    pub fn only_owner(&self, owner: UserId) -> bool {
        self.grants.iter().all(|g| g.grantee == Grantee::User(owner) && g.permission == Permission::FullControl)
    }

    /// Whether it grants `wanted` (or FULL_CONTROL) to `caller` (None: anonymous); with
    /// `ignore_public` (Block Public Access's IgnorePublicAcls), public grants count for nothing.
    pub fn grants(&self, caller: Option<UserId>, wanted: Permission, ignore_public: bool) -> bool {
        self.grants.iter().any(|g| {
            (g.permission == wanted || g.permission == Permission::FullControl)
                && g.grantee.reaches(caller)
                && !(ignore_public && g.grantee.is_public())
        })
    }
}

/// Why an access setting is refused (the S3 front maps each to AWS's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRefusal {
    /// The bucket has ACLs disabled and the ACL grants more than the owner's full control:
    /// 400 `AccessControlListNotSupported`.
    AclsDisabled,
    /// Block Public Access refuses a public ACL or policy: 403 `AccessDenied`.
    BlockedPublic,
    /// BucketOwnerEnforced asked for on a bucket whose ACL grants others:
    /// 400 `InvalidBucketAclWithObjectOwnership`.
    AclConflictsWithOwnership,
}

impl From<AccessRefusal> for EngineError {
    fn from(r: AccessRefusal) -> Self {
        let (code, message) = match r {
            AccessRefusal::AclsDisabled => ("AccessControlListNotSupported", "The bucket does not allow ACLs"),
            AccessRefusal::BlockedPublic => ("AccessDenied", "Access Denied"),
            AccessRefusal::AclConflictsWithOwnership => (
                "InvalidBucketAclWithObjectOwnership",
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            ),
        };
        EngineError::rejected(code, message)
    }
}

/// Checks an ACL that `writer` sets on `bucket` or on an object in it: with ACLs disabled only
/// FULL_CONTROL grants to the writer and the bucket owner are accepted (`private`,
/// `bucket-owner-full-control`, as AWS accepts them under BucketOwnerEnforced); a public ACL is
/// refused while Block Public Access blocks public ACLs.
pub fn check_acl(bucket: &Bucket, acl: &Acl, writer: UserId) -> Result<(), AccessRefusal> {
    let owners_only = acl.grants.iter().all(|g| {
        g.permission == Permission::FullControl
            && (g.grantee == Grantee::User(writer) || g.grantee == Grantee::User(bucket.owner_id))
    });
    if !acls_enabled(bucket) && !owners_only {
        return Err(AccessRefusal::AclsDisabled);
    }
    if acl.is_public() && PublicAccessBlock::of(bucket).block_public_acls {
        return Err(AccessRefusal::BlockedPublic);
    }
    Ok(())
}

/// The access settings a new bucket is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccess {
    /// The ownership control (`None`: none).
    pub ownership: Option<Ownership>,
    /// The ACL asked for (`None`: private).
    pub acl: Option<Acl>,
}

impl Default for NewAccess {
    /// BucketOwnerEnforced and private: AWS's defaults.
    fn default() -> Self {
        NewAccess { ownership: Some(Ownership::BucketOwnerEnforced), acl: None }
    }
}

impl NewAccess {
    /// The ACL to store for a bucket `owner` creates (`None`: private), or
    /// `InvalidBucketAclWithObjectOwnership` when it grants others while ACLs are disabled.
    pub fn checked_acl(&self, owner: UserId) -> Result<Option<String>, AccessRefusal> {
        match &self.acl {
            Some(acl) if !acl.only_owner(owner) => match self.ownership {
                Some(Ownership::BucketOwnerEnforced) => Err(AccessRefusal::AclConflictsWithOwnership),
                _ => Ok(Some(acl.encode())),
            },
            _ => Ok(None),
        }
    }
}

/// Who owns an object that `writer` (None: anonymous) writes into `bucket` with `acl`: the bucket
/// owner under BucketOwnerEnforced, and under BucketOwnerPreferred when the ACL gives the bucket
/// owner full control; otherwise the writer (an anonymous writer's object belongs to the bucket owner).
pub fn object_owner(bucket: &Bucket, writer: Option<UserId>, acl: Option<&Acl>) -> UserId {
    let gives_owner_full_control = acl.is_some_and(|a| {
        a.grants.iter().any(|g| g.grantee == Grantee::User(bucket.owner_id) && g.permission == Permission::FullControl)
    });
    match (Ownership::of(bucket), writer) {
        (Some(Ownership::BucketOwnerEnforced), _) | (_, None) => bucket.owner_id,
        (Some(Ownership::BucketOwnerPreferred), Some(_)) if gives_owner_full_control => bucket.owner_id,
        (_, Some(writer)) => writer,
    }
}

impl Engine {
    /// Replaces the bucket's ACL (checked by [`check_acl`]).
    pub async fn set_bucket_acl(&self, bucket: &Bucket, acl: &Acl) -> EngineResult<()> {
        check_acl(bucket, acl, bucket.owner_id)?;
        let stored = (!acl.only_owner(bucket.owner_id) || acl.grants.is_empty()).then(|| acl.encode());
        self.set_bucket_setting(bucket, BucketSetting::Acl, stored.as_deref()).await
    }

    /// Sets (or with `None`, removes) the bucket's ownership control. BucketOwnerEnforced is refused
    /// while the bucket's own ACL grants anyone but its owner; objects' ACLs stop counting from then on.
    pub async fn set_ownership(&self, bucket: &Bucket, ownership: Option<Ownership>) -> EngineResult<()> {
        if ownership == Some(Ownership::BucketOwnerEnforced)
            && !Acl::stored(bucket.acl.as_deref(), bucket.owner_id).only_owner(bucket.owner_id)
        {
            return Err(AccessRefusal::AclConflictsWithOwnership.into());
        }
        self.set_bucket_setting(bucket, BucketSetting::Ownership, ownership.map(Ownership::as_str)).await
    }

    /// Replaces the ACL of exactly the version `object` (as read, with its decoded `attributes`),
    /// as `writer` asks (checked by [`check_acl`]); with ACLs disabled an accepted ACL grants nothing
    /// beyond the owners', so nothing is stored.
    pub async fn set_object_acl(
        &self,
        bucket: &Bucket,
        object: &ObjectRecord,
        mut attributes: ObjectAttributes,
        acl: Acl,
        writer: UserId,
    ) -> EngineResult<()> {
        check_acl(bucket, &acl, writer)?;
        if !acls_enabled(bucket) {
            return Ok(());
        }
        attributes.acl = Some(acl);
        self.update_attributes(bucket.id, object, &attributes).await
    }

    /// Sets (or with `None`, removes) the bucket policy, a document the caller has validated and found
    /// `public` or not (as AWS defines it): a public one is refused while Block Public Access blocks
    /// public policies.
    pub async fn set_bucket_policy(&self, bucket: &Bucket, policy: Option<&str>, public: bool) -> EngineResult<()> {
        if policy.is_some() && public && PublicAccessBlock::of(bucket).block_public_policy {
            return Err(AccessRefusal::BlockedPublic.into());
        }
        self.set_bucket_setting(bucket, BucketSetting::Policy, policy).await
    }

    /// Sets (or with `None`, removes) the bucket's Block Public Access flags. Public grants already
    /// stored stay stored; IgnorePublicAcls and RestrictPublicBuckets take them away at evaluation.
    pub async fn set_public_access_block(&self, bucket: &Bucket, flags: Option<PublicAccessBlock>) -> EngineResult<()> {
        let json = flags.map(|f| serde_json::to_string(&f).unwrap_or_default());
        self.set_bucket_setting(bucket, BucketSetting::PublicAccessBlock, json.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_grant_what_aws_documents() {
        let (me, them) = (7, 9);
        let public = Canned::PublicRead.acl(me, me);
        assert!(public.grants(None, Permission::Read, false));
        assert!(!public.grants(None, Permission::Read, true), "IgnorePublicAcls");
        assert!(!public.grants(None, Permission::Write, false));
        assert!(public.grants(Some(me), Permission::WriteAcp, false), "the owner's FULL_CONTROL");
        let auth = Canned::AuthenticatedRead.acl(me, me);
        assert!(auth.grants(Some(them), Permission::Read, false) && !auth.grants(None, Permission::Read, false));
        let full = Canned::BucketOwnerFullControl.acl(them, me);
        assert!(full.grants(Some(me), Permission::ReadAcp, false));
        assert!(!Canned::Private.acl(me, me).is_public() && Canned::Private.acl(me, me).only_owner(me));
        assert!(Canned::PublicReadWrite.acl(me, me).grants(Some(them), Permission::Write, false));
        assert!(!Canned::LogDeliveryWrite.acl(me, me).grants(Some(them), Permission::Write, false));
        assert_eq!(Canned::parse("aws-exec-read"), None);
    }

    #[test]
    fn stored_forms_round_trip() {
        let acl = Canned::PublicReadWrite.acl(3, 3);
        assert_eq!(Acl::stored(Some(&acl.encode()), 3), acl);
        assert_eq!(Acl::stored(None, 3), Acl::private(3));
        assert_eq!(Acl::stored(Some("garbage"), 3), Acl::private(3));
        assert_eq!(Ownership::parse("ObjectWriter"), Some(Ownership::ObjectWriter));
        assert_eq!(Ownership::parse("objectwriter"), None);
    }
}
