//! "Show versions" in the object browser: every version and delete marker under the folder, newest
//! first per key, with download, restore (a copy of the version becomes current) and delete of one
//! version, whose refusal by object lock is shown in the dialog as the server words it.

use super::*;
use crate::protection::{parse_version_token, retention_label, version_token};

/// The versions of the folder `prefix` of `bucket`, paged. `on_open_prefix` opens a sub-folder.
#[component]
pub(super) fn VersionsListing(bucket: String, prefix: String, on_open_prefix: EventHandler<String>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut paging = use_signal(Paging::new);
    let mut reload = use_signal(|| 0u32);
    let mut deleting = use_signal(|| None::<api::VersionEntry>);
    let (b, p) = (bucket.clone(), prefix.clone());
    let listing = use_resource(move || {
        let (b, p) = (b.clone(), p.clone());
        async move {
            let _ = reload();
            let _ = (ctx.changed)();
            let mut q = format!("{}/versions?delimiter=%2F&limit={PAGE_SIZE}&prefix={}", bucket_path(&b), encode(&p));
            if let Some((key, version)) = paging.read().after().as_deref().and_then(parse_version_token) {
                q.push_str(&format!("&after_key={}", encode(&key)));
                if let Some(v) = version {
                    q.push_str(&format!("&after_version={}", encode(&v)));
                }
            }
            ctx.call::<api::VersionList>(Method::Get, q, None).await
        }
    });
    let current = listing.read().clone();
    rsx! {
        match current {
            None => rsx! { p { class: "loading", "data-testid": "loading", "Loading versions…" } },
            Some(Err(e)) => rsx! { div { class: "notice error", role: "alert", "data-testid": "listing-error", "{e}" } },
            Some(Ok(list)) => {
                let next = list.next_key.clone().map(|k| version_token(&k, list.next_version.as_deref()));
                let empty = list.versions.is_empty() && list.prefixes.is_empty();
                rsx! {
                    table { class: "table objects versions", "data-testid": "version-table",
                        thead { tr {
                            th { "Name" } th { "Version" } th { class: "num", "Size" } th { class: "hide-narrow", "Modified" } th { "State" } th { class: "actions", "Actions" }
                        } }
                        tbody {
                            for f in list.prefixes.iter().cloned() {
                                tr { key: "d:{f}", class: "folder", "data-testid": "folder-row", "data-prefix": "{f}",
                                    td { colspan: "6",
                                        button { class: "link", "data-testid": "folder-link", onclick: move |_| on_open_prefix.call(f.clone()),
                                            span { class: "ico ico-folder", "aria-hidden": "true" } "{visible_name(folder_label(&prefix, &f))}"
                                        }
                                    }
                                }
                            }
                            for (i, v) in list.versions.iter().cloned().enumerate() {
                                VersionRow { key: "v:{v.key}:{v.version_id}", bucket: bucket.clone(), prefix: prefix.clone(),
                                    first_of_key: i == 0 || list.versions[i - 1].key != v.key, entry: v,
                                    on_delete: move |v| deleting.set(Some(v)),
                                    on_restored: move |_| reload += 1,
                                }
                            }
                        }
                    }
                    if empty { p { class: "empty", "data-testid": "empty-folder", "No versions in this folder." } }
                    div { class: "pager",
                        button { "data-testid": "page-prev", disabled: !paging.read().has_previous(), onclick: move |_| paging.write().previous(), "← Previous" }
                        span { "data-testid": "page-number", "Page {paging.read().page() + 1}" }
                        button { "data-testid": "page-next", disabled: next.is_none(),
                            onclick: move |_| { if let Some(n) = next.clone() { paging.write().next(&n); } }, "Next →" }
                    }
                }
            }
        }
        if let Some(v) = deleting() {
            DeleteVersionDialog { bucket: bucket.clone(), entry: v,
                on_done: move |changed: bool| { deleting.set(None); if changed { reload += 1; } } }
        }
    }
}

/// One version (or delete marker) of the versions table. The key is shown as text with bidi controls
/// made visible.
#[component]
pub(crate) fn VersionRow(
    bucket: String,
    prefix: String,
    entry: api::VersionEntry,
    first_of_key: bool,
    on_delete: EventHandler<api::VersionEntry>,
    on_restored: EventHandler<()>,
) -> Element {
    let label = visible_name(name_in_folder(&prefix, &entry.key));
    let (e1, e2, e3) = (entry.clone(), entry.clone(), entry.clone());
    let b1 = bucket.clone();
    let restore = move |_| {
        let (b, v) = (b1.clone(), e2.clone());
        let Some(ctx) = try_consume_context::<Ctx>() else { return };
        spawn(async move {
            let body = json!({"key": v.key, "version_id": v.version_id});
            let path = format!("{}/object/restore", bucket_path(&b));
            match ctx.call::<serde_json::Value>(Method::Post, path, Some(body)).await {
                Ok(_) => {
                    ctx.info(format!(
                        "Version {} of {} is the current version again.",
                        v.version_id,
                        visible_name(&v.key)
                    ));
                    on_restored.call(());
                }
                Err(e) => ctx.error(&e),
            }
        });
    };
    rsx! {
        tr { class: if entry.is_latest { "version latest" } else { "version" }, "data-testid": "version-row",
            "data-key": "{entry.key}", "data-version": "{entry.version_id}",
            td {
                if first_of_key { span { class: "name", title: "{label}", span { class: "ico ico-file", "aria-hidden": "true" } "{label}" } }
            }
            td { class: "mono small", "data-testid": "version-id", title: "{entry.version_id}", "{entry.version_id}" }
            td { class: "num", if entry.is_delete_marker { "—" } else { "{human_size(entry.size)}" } }
            td { class: "when hide-narrow", "{format_time_ms(entry.last_modified)}" }
            td {
                if entry.is_latest { span { class: "badge ok", "data-testid": "version-current", "Current" } " " }
                if entry.is_delete_marker { span { class: "badge warn", "data-testid": "version-marker", "Delete marker" } }
            }
            td { class: "actions",
                if !entry.is_delete_marker {
                    button { "data-testid": "version-download", "aria-label": "Download this version of {label}",
                        onclick: move |_| download_version(bucket.clone(), e1.key.clone(), e1.version_id.clone()), "Download" }
                    if !entry.is_latest {
                        button { "data-testid": "version-restore", "aria-label": "Restore this version of {label}", onclick: restore, "Restore" }
                    }
                }
                button { class: "danger", "data-testid": "version-delete", "aria-label": "Delete this version of {label}",
                    onclick: move |_| on_delete.call(e3.clone()), "Delete…" }
            }
        }
    }
}

/// Download one version through a short-lived presigned URL.
fn download_version(bucket: String, key: String, version_id: String) {
    let Some(ctx) = try_consume_context::<Ctx>() else { return };
    spawn(async move {
        let body = json!({"key": key, "version_id": version_id, "expires_in_secs": 300, "disposition": "attachment"});
        match ctx.call::<api::Presigned>(Method::Post, format!("{}/share", bucket_path(&bucket)), Some(body)).await {
            Ok(p) => platform::download(&p.url),
            Err(e) => ctx.error(&e),
        }
    });
}

/// Deletes one version for good, after showing what protects it; object lock's refusal stays in the
/// dialog, worded by the server.
#[component]
fn DeleteVersionDialog(bucket: String, entry: api::VersionEntry, on_done: EventHandler<bool>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut busy = use_signal(|| false);
    let mut bypass = use_signal(|| false);
    let mut refusal = use_signal(|| None::<String>);
    let (b, v) = (bucket.clone(), entry.clone());
    // The version's protection, so the user sees it before trying (delete markers have none).
    let protection = use_resource(move || {
        let (b, v) = (b.clone(), v.clone());
        async move {
            if v.is_delete_marker {
                return None;
            }
            let path =
                format!("{}/object?key={}&version_id={}", bucket_path(&b), encode(&v.key), encode(&v.version_id));
            ctx.call::<api::ObjectDetails>(Method::Get, path, None).await.ok()
        }
    });
    let details = protection.read().clone().flatten();
    let governance = details.as_ref().and_then(|d| d.retention.as_ref()).is_some_and(|r| r.mode == "GOVERNANCE");
    let (b, v) = (bucket.clone(), entry.clone());
    let go = move |_| {
        let (b, v) = (b.clone(), v.clone());
        busy.set(true);
        spawn(async move {
            let mut path =
                format!("{}/object?key={}&version_id={}", bucket_path(&b), encode(&v.key), encode(&v.version_id));
            if bypass() {
                path.push_str("&bypass_governance=true");
            }
            match ctx.call::<()>(Method::Delete, path, None).await {
                Ok(()) => {
                    ctx.info(format!("Deleted version {} of {}.", v.version_id, visible_name(&v.key)));
                    on_done.call(true);
                }
                Err(e) if e.code == "object_locked" || e.code == "forbidden" => refusal.set(Some(e.to_string())),
                Err(e) => {
                    ctx.error(&e);
                    on_done.call(false);
                }
            }
            busy.set(false);
        });
    };
    let what = if entry.is_delete_marker { "the delete marker" } else { "version" };
    rsx! {
        Modal { title: "Delete a version", on_close: move |_| on_done.call(false),
            p { "Permanently delete {what} " span { class: "mono", "data-testid": "dialog-version", "{entry.version_id}" }
                " of " strong { "data-testid": "dialog-name", "{visible_name(&entry.key)}" } "? Its bytes cannot be recovered." }
            if entry.is_latest && entry.is_delete_marker {
                p { class: "hint", "Removing this delete marker makes the previous version current again." }
            }
            if let Some(d) = details {
                if let Some(r) = d.retention.as_ref() {
                    p { "data-testid": "dialog-retention", "Object lock: {retention_label(r, platform::now_ms() as i64)}" }
                }
                if d.legal_hold { p { "data-testid": "dialog-legal-hold", "Object lock: a legal hold is on." } }
            }
            if governance {
                label { class: "check",
                    input { r#type: "checkbox", "data-testid": "bypass-governance", checked: bypass(), onchange: move |e| bypass.set(e.checked()) }
                    " Bypass governance retention (needs the permission to)"
                }
            }
            if let Some(text) = refusal() {
                div { class: "notice error", role: "alert", "data-testid": "version-delete-error", "{text}" }
            }
            div { class: "dialog-actions",
                button { "data-testid": "dialog-cancel", onclick: move |_| on_done.call(false), "Cancel" }
                button { class: "danger", "data-testid": "confirm-delete", disabled: busy(), onmounted: focus_on_mount, onclick: go, "Delete version" }
            }
        }
    }
}
