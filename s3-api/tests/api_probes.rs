//! The API listener's probes and metrics, exercised in-process through the axum router.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use cloudvault_metadata::MetaStore;
use cloudvault_s3_api::api::session::Sessions;
use cloudvault_s3_api::api::{ApiState, router};
use cloudvault_s3_api::auth::Authorizer;
use cloudvault_s3_api::auth::KeyStore;
use cloudvault_s3_api::auth::secrets::MasterKey;
use cloudvault_s3_api::config::Config;
use cloudvault_s3_api::engine::{BlobStore, Engine};
use cloudvault_s3_api::metrics::Metrics;
use cloudvault_s3_api::presign::Presigner;

async fn state(dir: &tempfile::TempDir, min_free_bytes: u64) -> ApiState {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let meta = MetaStore::connect(&url, 2).await.expect("metadata store");
    let engine = Engine::new(meta.clone(), BlobStore::open(dir.path()).await.expect("blob store"));
    let metrics = Metrics::new(meta.clone());
    let master = MasterKey::load(Some("api-probes-test-master-key"), dir.path()).expect("master");
    let keys = Arc::new(KeyStore::bootstrap(meta.clone(), master, None).await.expect("keys"));
    let authorizer = Arc::new(Authorizer::new(engine.clone(), keys.clone()));
    let sessions = Arc::new(Sessions::new(&[7u8; 32], std::time::Duration::from_secs(60)));
    let config = Config::from_env().expect("default configuration");
    ApiState {
        metrics,
        data_dir: dir.path().to_owned(),
        min_free_bytes,
        volume_probe: Default::default(),
        keys,
        authorizer,
        sessions,
        passwords: Arc::new(cloudvault_s3_api::auth::passwords::PasswordPool::new(2)),
        region: "us-east-1".into(),
        max_object_size: config.max_object_size,
        presigner: Presigner::new("http://127.0.0.1:9000", "us-east-1"),
        console_dir: None,
        s3_origin: None,
        trusted_proxies: Vec::new(),
        engine,
    }
}

async fn get(state: ApiState, path: &str) -> (StatusCode, String) {
    let response = router(state).oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("call");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8(body.to_vec()).expect("utf8"))
}

#[tokio::test]
async fn healthz_and_readyz_report_the_replica_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = state(&dir, 1).await;
    assert_eq!(get(ready.clone(), "/healthz").await.0, StatusCode::OK);
    let (status, body) = get(ready.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""database":"ok""#) && body.contains(r#""data_volume":"ok""#), "{body}");

    // Not enough free space: not ready, and the body says why.
    let (status, body) = get(ApiState { min_free_bytes: u64::MAX, ..ready.clone() }, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("bytes free"), "{body}");

    // Database gone: not ready, while liveness stays up.
    ready.engine.close().await;
    let (status, body) = get(ready.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!body.contains(r#""database":"ok""#), "{body}");
    assert_eq!(get(ready, "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn metrics_expose_requests_latency_bytes_and_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(&dir, 1).await;
    let metrics: Arc<Metrics> = s.metrics.clone();
    for _ in 0..3 {
        metrics.start().finish("PutObject".into(), 200, 0);
    }
    metrics.start().finish("GetObject".into(), 404, 50);
    // Only bytes a body actually delivers count as received (a claimed Content-Length never does).
    let body = metrics.counted(http_body_util::Full::new(bytes::Bytes::from(vec![7u8; 307])));
    let delivered = http_body_util::BodyExt::collect(body).await.expect("body").to_bytes();
    assert_eq!(delivered.len(), 307);
    let pending = metrics.start();
    let (status, text) = get(s.clone(), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains(r#"cloudvault_s3_requests_total{operation="PutObject",status="200"} 3"#), "{text}");
    assert!(text.contains(r#"cloudvault_s3_requests_total{operation="GetObject",status="404"} 1"#), "{text}");
    assert!(text.contains(r#"cloudvault_s3_request_duration_seconds_count{operation="PutObject"} 3"#), "{text}");
    assert!(text.contains("cloudvault_s3_bytes_received_total 307"), "{text}");
    assert!(text.contains("cloudvault_s3_bytes_sent_total 50"), "{text}");
    assert!(text.contains("cloudvault_s3_requests_in_flight 1"), "{text}");
    assert!(text.contains("cloudvault_db_pool_connections "), "{text}");
    drop(pending);
    let (_, text) = get(s, "/metrics").await;
    assert!(text.contains("cloudvault_s3_requests_in_flight 0"), "{text}");
    assert!(
        text.contains(r#"cloudvault_s3_requests_total{operation="unknown",status="499"} 1"#),
        "a dropped request counts"
    );
}

#[tokio::test]
async fn unknown_api_paths_answer_json_404_and_the_openapi_document_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(&dir, 1).await;
    let (status, body) = get(state.clone(), "/api/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error: serde_json::Value = serde_json::from_str(&body).expect("json error");
    assert_eq!(error["code"], "not_found");
    let (status, body) = get(state, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&body).expect("openapi is JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    for path in ["/api/login", "/api/buckets/{bucket}/objects", "/api/buckets/{bucket}/share", "/api/users"] {
        assert!(doc["paths"].get(path).is_some(), "{path} is missing from openapi.json");
    }
}
