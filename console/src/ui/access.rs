//! A bucket's access page: object ownership (whether ACLs apply), Block Public Access, the bucket
//! policy (a JSON editor; the server's validation message is shown as is) and the bucket ACL (its
//! grants and a canned ACL to set). Every change goes through the console API, which applies the
//! same rules as S3.

use super::*;
use crate::access::{
    BUCKET_ACLS, BucketAccess, Flags, OWNERSHIP_CHOICES, blocked_warning, example_policy, grant_label, is_public_grant,
    policy_problem, pretty_policy,
};

/// The access page of `bucket`.
#[component]
pub(super) fn AccessPage(bucket: String) -> Element {
    let ctx = use_context::<Ctx>();
    let mut page = ctx.page;
    let mut reload = use_signal(|| 0u32);
    let b = bucket.clone();
    let access = use_resource(move || {
        let b = b.clone();
        async move {
            let _ = reload();
            ctx.call::<BucketAccess>(Method::Get, format!("{}/access", bucket_path(&b)), None).await
        }
    });
    let current = access.read().clone();
    let (b2, b3) = (bucket.clone(), bucket.clone());
    rsx! {
        section { class: "page access", "data-testid": "page-access",
            div { class: "page-head",
                h1 { "Access to " span { "data-testid": "access-bucket", "{visible_name(&bucket)}" } }
                div { class: "card-actions",
                    button { "data-testid": "access-browse", onclick: move |_| page.set(Page::Browser(b2.clone())), "Browse objects" }
                    button { "data-testid": "access-settings", onclick: move |_| page.set(Page::Settings(b3.clone())), "Settings" }
                }
            }
            match current {
                None => rsx! { p { class: "loading", "data-testid": "loading", "Loading access settings…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", role: "alert", "{e}" } },
                Some(Ok(a)) => rsx! {
                    if let Some(w) = blocked_warning(a.public_access_block.as_ref()) {
                        div { class: "notice warning", "data-testid": "access-blocked-warning", "{w}" }
                    }
                    if a.policy_public || a.acl.iter().any(is_public_grant) {
                        div { class: "notice warning", "data-testid": "access-public-warning",
                            "⚠ This bucket grants access to everyone: check the policy and the ACL below." }
                    }
                    div { class: "settings-grid",
                        OwnershipCard { bucket: bucket.clone(), access: a.clone(), on_changed: move |_| reload += 1 }
                        BlockCard { bucket: bucket.clone(), access: a.clone(), on_changed: move |_| reload += 1 }
                        PolicyCard { bucket: bucket.clone(), access: a.clone(), on_changed: move |_| reload += 1 }
                        AclCard { bucket: bucket.clone(), access: a.clone(), on_changed: move |_| reload += 1 }
                    }
                },
            }
        }
    }
}

/// Sends one change and reloads the page on success (errors go to the notice banner).
fn send(
    ctx: Ctx,
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
    done: String,
    on_changed: EventHandler<()>,
    mut busy: Signal<bool>,
) {
    busy.set(true);
    spawn(async move {
        match ctx.call::<serde_json::Value>(method, path, body).await {
            Ok(_) => {
                ctx.info(done);
                on_changed.call(());
            }
            Err(e) => ctx.error(&e),
        }
        busy.set(false);
    });
}

#[component]
fn OwnershipCard(bucket: String, access: BucketAccess, on_changed: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let busy = use_signal(|| false);
    let mut choice = use_signal(|| access.ownership.clone().unwrap_or_default());
    let save = move |_| {
        let value = if choice().is_empty() { serde_json::Value::Null } else { json!(choice()) };
        let path = format!("{}/access/ownership", bucket_path(&bucket));
        send(
            ctx,
            Method::Put,
            path,
            Some(json!({ "ownership": value })),
            "Object ownership saved.".into(),
            on_changed,
            busy,
        );
    };
    rsx! {
        div { class: "card", "data-testid": "ownership-card",
            h2 { "Object ownership" }
            p { "ACLs: " strong { "data-testid": "acls-state", if access.acls_enabled { "enabled" } else { "disabled" } } }
            div { class: "inline-form row-form",
                select { "data-testid": "ownership-select", "aria-label": "Object ownership", onchange: move |e| choice.set(e.value()),
                    for (value, label) in OWNERSHIP_CHOICES {
                        option { value: "{value}", selected: *choice.read() == value, "{label}" }
                    }
                }
                button { class: "primary", "data-testid": "ownership-save", disabled: busy(), onclick: save, "Save" }
            }
            p { class: "hint", "With ACLs disabled the bucket owner owns every object and only the policy grants access to others." }
        }
    }
}

/// Selects one of the four flags.
type FlagField = fn(&mut Flags) -> &mut bool;

#[component]
fn BlockCard(bucket: String, access: BucketAccess, on_changed: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let busy = use_signal(|| false);
    let mut flags = use_signal(|| access.public_access_block.unwrap_or_default());
    let configured = access.public_access_block.is_some();
    let path = format!("{}/access/block", bucket_path(&bucket));
    let (save_path, remove_path) = (path.clone(), path);
    let save = move |_| {
        let body = json!({ "public_access_block": flags() });
        send(ctx, Method::Put, save_path.clone(), Some(body), "Block Public Access saved.".into(), on_changed, busy);
    };
    let remove = move |_| {
        let body = json!({ "public_access_block": null });
        send(
            ctx,
            Method::Put,
            remove_path.clone(),
            Some(body),
            "Block Public Access removed.".into(),
            on_changed,
            busy,
        );
    };
    let boxes: [(&str, &str, FlagField); 4] = [
        ("bpa-block-acls", "Refuse public ACLs", |f| &mut f.block_public_acls),
        ("bpa-ignore-acls", "Ignore public ACL grants", |f| &mut f.ignore_public_acls),
        ("bpa-block-policy", "Refuse public bucket policies", |f| &mut f.block_public_policy),
        ("bpa-restrict", "Keep a public policy from anonymous callers", |f| &mut f.restrict_public_buckets),
    ];
    rsx! {
        div { class: "card", "data-testid": "block-card",
            h2 { "Block Public Access" }
            p { "Status: " strong { "data-testid": "bpa-state", if configured { "configured" } else { "not configured" } } }
            for (id, label, field) in boxes {
                label { class: "check",
                    input { r#type: "checkbox", "data-testid": "{id}", checked: *field(&mut flags.read().clone()),
                        onchange: move |e| *field(&mut flags.write()) = e.checked() }
                    " {label}"
                }
            }
            div { class: "card-actions",
                button { class: "primary", "data-testid": "bpa-save", disabled: busy(), onclick: save, "Save" }
                if configured {
                    button { "data-testid": "bpa-remove", disabled: busy(), onclick: remove, "Remove" }
                }
            }
        }
    }
}

#[component]
fn PolicyCard(bucket: String, access: BucketAccess, on_changed: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let busy = use_signal(|| false);
    let initial = access.policy.as_deref().map(pretty_policy).unwrap_or_default();
    let mut text = use_signal(|| initial);
    let mut rejected = use_signal(|| None::<String>);
    let problem = if text.read().trim().is_empty() { None } else { policy_problem(&text.read()) };
    let cannot_save = problem.is_some() || text.read().trim().is_empty();
    let path = format!("{}/policy", bucket_path(&bucket));
    let (save_path, delete_path) = (path.clone(), path);
    let example = example_policy(&bucket);
    let save = move |_| {
        let (path, body) = (save_path.clone(), json!({ "policy": text() }));
        let mut busy = busy;
        busy.set(true);
        spawn(async move {
            match ctx.call::<serde_json::Value>(Method::Put, path, Some(body)).await {
                Ok(_) => {
                    rejected.set(None);
                    ctx.info("Bucket policy saved.");
                    on_changed.call(());
                }
                Err(e) if e.status == 400 || e.status == 403 => rejected.set(Some(e.message.clone())),
                Err(e) => ctx.error(&e),
            }
            busy.set(false);
        });
    };
    let remove = move |_| {
        send(ctx, Method::Delete, delete_path.clone(), None, "Bucket policy removed.".into(), on_changed, busy)
    };
    rsx! {
        div { class: "card wide", "data-testid": "policy-card",
            h2 { "Bucket policy" }
            p { "Status: " strong { "data-testid": "policy-state",
                match (&access.policy, access.policy_public) {
                    (None, _) => "none",
                    (Some(_), true) => "public",
                    (Some(_), false) => "not public",
                }
            } }
            textarea { class: "policy-editor", "data-testid": "policy-editor", rows: "14", spellcheck: "false",
                "aria-label": "Bucket policy (JSON)", placeholder: "{example}", value: "{text}",
                oninput: move |e| { text.set(e.value()); rejected.set(None); } }
            if let Some(p) = problem { p { class: "hint error", "data-testid": "policy-problem", "{p}" } }
            if let Some(r) = rejected() { p { class: "hint error", role: "alert", "data-testid": "policy-rejected", "{r}" } }
            div { class: "card-actions",
                button { class: "primary", "data-testid": "policy-save", disabled: busy() || cannot_save, onclick: save, "Save policy" }
                if access.policy.is_some() {
                    button { class: "danger", "data-testid": "policy-delete", disabled: busy(), onclick: remove, "Delete policy" }
                }
            }
        }
    }
}

#[component]
fn AclCard(bucket: String, access: BucketAccess, on_changed: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let busy = use_signal(|| false);
    let mut canned = use_signal(|| "private".to_owned());
    let save = move |_| {
        let path = format!("{}/acl", bucket_path(&bucket));
        send(ctx, Method::Put, path, Some(json!({ "canned": canned() })), "Bucket ACL saved.".into(), on_changed, busy);
    };
    rsx! {
        div { class: "card", "data-testid": "acl-card",
            h2 { "Access control list" }
            ul { class: "grants", "data-testid": "acl-grants",
                for g in access.acl.iter() {
                    li { "data-testid": "acl-grant", class: if is_public_grant(g) { "warn" } else { "" }, "{grant_label(g)}" }
                }
            }
            if access.acls_enabled {
                div { class: "inline-form row-form",
                    select { "data-testid": "acl-select", "aria-label": "Canned ACL", onchange: move |e| canned.set(e.value()),
                        for (value, label) in BUCKET_ACLS {
                            option { value: "{value}", selected: *canned.read() == value, "{label}" }
                        }
                    }
                    button { "data-testid": "acl-save", disabled: busy(), onclick: save, "Set ACL" }
                }
            } else {
                p { class: "hint", "data-testid": "acl-disabled", "ACLs are disabled by the object ownership setting; use the bucket policy." }
            }
        }
    }
}
