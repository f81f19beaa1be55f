//! The S3 protocol: the s3s service with CloudVault's authentication, access checks and operations.

pub mod access;
pub mod attributes;
pub mod checksums;
pub mod conditional;
pub mod cors;
pub mod error;
pub mod form;
pub mod header_date;
pub mod identity;
pub mod ops;
pub mod query_auth;
pub mod vault;

use std::sync::Arc;

use s3s::service::{S3Service, S3ServiceBuilder};

use crate::config::Config;
use crate::engine::Engine;

/// Builds the s3s service: authentication is always on (`set_auth`), every request is authorized by
/// `crate::auth::Authorizer` (`set_access`: bucket policy, ownership, ACLs; see `access`), path style always works and virtual-hosted style is added when a domain is set
/// (without the CNAME fallback, which would turn unknown Host headers into bucket names).
pub fn build_service(
    config: &Config,
    engine: Engine,
    keys: Arc<crate::auth::KeyStore>,
    authorizer: Arc<crate::auth::Authorizer>,
) -> anyhow::Result<S3Service> {
    let vault = vault::CloudVault::new(engine, keys.clone(), authorizer.clone(), config);
    let mut builder = S3ServiceBuilder::new(vault);
    let mut s3_config = s3s::config::S3Config::default();
    // s3s enforces the per-request body limit as well; the engine enforces the configured cap exactly.
    s3_config.put_object_max_size = Some(config.max_object_size);
    // s3s holds a browser-form (POST object) file in memory when its length is not known up front, and
    // each signed aws-chunked chunk until its signature is checked: both bounded well below s3s's
    // defaults (5 GiB, 256 MiB), so no request can make the process hold more than that.
    s3_config.post_object_max_file_size = config.max_post_object_size;
    // A form's fields are held until its file part begins: AWS's pre-data limit bounds them, and
    // `form::complete_input` answers AWS's error where s3s's own limits would not apply first.
    s3_config.form_max_field_size = crate::limits::MAX_POST_PRE_DATA_BYTES;
    s3_config.form_max_fields_size = crate::limits::MAX_POST_PRE_DATA_BYTES;
    s3_config.aws_chunked_stream_max_chunk_size = crate::limits::MAX_AWS_CHUNK_SIZE;
    s3_config.xml_max_body_size = crate::limits::MAX_XML_BODY_BYTES;
    s3_config.enable_sig_v2 = config.sig_v2;
    s3_config.unsigned_amz_header_allowlist = vec![header_date::UNSIGNED_AMZ_DATE.to_owned()];
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(s3_config))));
    builder.set_auth(identity::Auth(keys));
    builder.set_access(access::S3Authz(authorizer));
    if let Some(domain) = &config.domain {
        builder.set_host(s3s::host::SingleDomain::new(domain)?.with_cname_fallback(false));
    }
    Ok(builder.build())
}
