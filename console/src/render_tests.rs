//! Components rendered natively with dioxus-ssr: hostile names come out as escaped text.

use crate::api::{AccessKey, BucketUsage, ObjectEntry, Usage, UsageTotal, VersionEntry};
use crate::ui::versions::VersionRow;
use crate::ui::{FolderRow, KeyRow, ObjectRow, UsageView};
use dioxus::prelude::*;

fn entry(key: &str) -> ObjectEntry {
    ObjectEntry {
        key: key.into(),
        size: 2048,
        etag: "\"abc\"".into(),
        last_modified: 0,
        content_type: Some("text/plain".into()),
    }
}

/// Render a component inside a VirtualDom (event handlers need the runtime).
fn render(app: fn() -> Element) -> String {
    let mut dom = VirtualDom::new(app);
    dom.rebuild_in_place();
    dioxus_ssr::render(&dom)
}

#[test]
fn object_row_escapes_a_hostile_name() {
    let html = render(|| {
        rsx! {
            ObjectRow {
                entry: entry("dir/<img src=x onerror=alert(1)>.txt"),
                prefix: "dir/",
                selected: false,
                on_open: move |_| {},
                on_share: move |_| {},
                on_delete: move |_| {},
            }
        }
    });
    assert!(!html.contains("<img"), "raw markup leaked into the page: {html}");
    assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;.txt"), "{html}");
    assert!(html.contains("2.0 KiB") && html.contains("text/plain"), "{html}");
    assert!(html.contains("data-testid=\"object-row\""), "{html}");
}

#[test]
fn object_row_shows_bidi_overrides() {
    let html = render(|| {
        rsx! {
            ObjectRow {
                entry: entry("invoice\u{202E}fdp.exe"),
                prefix: "",
                selected: true,
                on_open: move |_| {},
                on_share: move |_| {},
                on_delete: move |_| {},
            }
        }
    });
    assert!(html.contains("invoice&#60;U+202E&#62;fdp.exe"), "{html}");
    // The only place the raw key may appear is the data-key attribute (escaped, not displayed).
    let shown: String = html.split("data-key").next().unwrap_or("").to_string();
    assert!(!shown.contains('\u{202E}'));
    assert!(html.contains("class=\"selected\""), "{html}");
}

#[test]
fn folder_row_shows_the_folder_name() {
    let html = render(|| {
        rsx! {
            FolderRow { folder: "a/<b>\u{2066}/", prefix: "a/", on_open: move |_| {}, on_delete: move |_| {} }
        }
    });
    assert!(html.contains("&#60;b&#62;&#60;U+2066&#62;/"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
}

#[test]
fn usage_chart_renders_bars_and_totals() {
    let usage = Usage {
        buckets: vec![
            BucketUsage {
                name: "big".into(),
                object_count: 3,
                bytes_used: 3 * 1024 * 1024,
                noncurrent_count: 2,
                noncurrent_bytes: 2048,
            },
            BucketUsage {
                name: "<script>".into(),
                object_count: 1,
                bytes_used: 1024,
                noncurrent_count: 0,
                noncurrent_bytes: 0,
            },
        ],
        total: UsageTotal {
            buckets: 2,
            object_count: 4,
            bytes_used: 3 * 1024 * 1024 + 1024,
            noncurrent_count: 2,
            noncurrent_bytes: 2048,
        },
    };
    let html = dioxus_ssr::render_element(rsx! { UsageView { usage } });
    assert!(html.contains("<svg"), "{html}");
    assert_eq!(html.matches("<rect").count(), 2, "{html}");
    assert!(html.contains("&#60;script&#62;") && !html.contains("<script>"), "{html}");
    assert!(html.contains("3.0 MiB"), "{html}");
    assert!(html.contains("2 · 2.0 KiB"), "noncurrent versions are counted apart: {html}");
}

fn version(key: &str, id: &str, latest: bool, marker: bool) -> VersionEntry {
    VersionEntry {
        key: key.into(),
        version_id: id.into(),
        is_latest: latest,
        is_delete_marker: marker,
        size: if marker { 0 } else { 4096 },
        etag: (!marker).then(|| "\"abc\"".into()),
        last_modified: 0,
    }
}

#[test]
fn version_rows_escape_names_and_offer_what_each_version_allows() {
    let html = render(|| {
        rsx! {
            VersionRow {
                bucket: "b",
                prefix: "dir/",
                entry: version("dir/<img src=x onerror=alert(1)>", "00000000000000020123456789abcdef", true, true),
                first_of_key: true,
                on_delete: move |_| {},
                on_restored: move |_| {},
            }
        }
    });
    assert!(!html.contains("<img") && html.contains("&#60;img src=x onerror=alert(1)&#62;"), "{html}");
    assert!(html.contains("Delete marker") && html.contains("Current"), "{html}");
    assert!(!html.contains("version-download") && !html.contains("version-restore"), "a marker has no bytes: {html}");
    assert!(html.contains("version-delete"), "{html}");

    let html = render(|| {
        rsx! {
            VersionRow {
                bucket: "b",
                prefix: "",
                entry: version("doc.txt", "null", false, false),
                first_of_key: false,
                on_delete: move |_| {},
                on_restored: move |_| {},
            }
        }
    });
    assert!(html.contains("version-download") && html.contains("version-restore"), "{html}");
    assert!(html.contains("4.0 KiB") && !html.contains("Current"), "{html}");
    assert!(!html.contains("doc.txt</"), "only the first row of a key names it: {html}");
}

#[test]
fn key_rows_show_restriction_and_expiry() {
    let html = render(|| {
        let key = AccessKey {
            access_key_id: "CVKEY1".into(),
            enabled: true,
            created_at: serde_json::json!(1_767_225_600_000i64),
            expires_at: serde_json::json!(1_767_225_600_000i64 + 30 * 86_400_000),
            buckets: Some(vec!["photos".into(), "<b>x\u{202E}".into()]),
            access: Some("read".into()),
        };
        rsx! { KeyRow { access_key: key, now: 1_767_225_600_000i64, on_action: move |_| {}, on_delete: move |_| {} } }
    });
    assert!(html.contains("photos, &#60;b&#62;x&#60;U+202E&#62;"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("data-restricted=\"true\"") && html.contains("data-access=\"read\""), "{html}");
    assert!(html.contains("Read-only") && html.contains("2026-01-31 00:00 UTC (in 30 days)"), "{html}");

    let html = render(|| {
        let key = AccessKey {
            access_key_id: "CVKEY2".into(),
            enabled: true,
            created_at: serde_json::Value::Null,
            expires_at: serde_json::json!(1_000),
            buckets: None,
            access: Some("readwrite".into()),
        };
        rsx! { KeyRow { access_key: key, now: 1_767_225_600_000i64, on_action: move |_| {}, on_delete: move |_| {} } }
    });
    assert!(
        html.contains("All buckets") && (html.contains("Read &#38; write") || html.contains("Read &amp; write")),
        "{html}"
    );
    assert!(html.contains("data-expired=\"true\"") && html.contains("Expired"), "{html}");
}
