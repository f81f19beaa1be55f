//! A bucket's settings page: versioning (enable / suspend), object lock (switch on for good, default
//! retention), lifecycle rules (the common cases: expire current versions, expire noncurrent versions
//! keeping the newest M, abort incomplete uploads), and its current and noncurrent usage.

use super::*;
use crate::protection::{RuleForm, RuleKind, default_retention_label, rule_summary};

/// The settings page of `bucket`.
#[component]
pub(super) fn SettingsPage(bucket: String) -> Element {
    let ctx = use_context::<Ctx>();
    let mut page = ctx.page;
    let mut reload = use_signal(|| 0u32);
    let b = bucket.clone();
    let detail = use_resource(move || {
        let b = b.clone();
        async move {
            let _ = reload();
            ctx.call::<api::BucketDetail>(Method::Get, bucket_path(&b), None).await
        }
    });
    let current = detail.read().clone();
    let b2 = bucket.clone();
    let b3 = bucket.clone();
    rsx! {
        section { class: "page settings", "data-testid": "page-settings",
            div { class: "page-head",
                h1 { "Settings of " span { "data-testid": "settings-bucket", "{visible_name(&bucket)}" } }
                button { "data-testid": "settings-browse", onclick: move |_| page.set(Page::Browser(b2.clone())), "Browse objects" }
                button { "data-testid": "settings-access", onclick: move |_| page.set(Page::Access(b3.clone())), "Access" }
            }
            match current {
                None => rsx! { p { class: "loading", "data-testid": "loading", "Loading settings…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", role: "alert", "{e}" } },
                Some(Ok(d)) => rsx! {
                    div { class: "settings-grid",
                        VersioningCard { detail: d.clone(), on_changed: move |_| reload += 1 }
                        LockCard { detail: d.clone(), on_changed: move |_| reload += 1 }
                        LifecycleCard { detail: d.clone(), on_changed: move |_| reload += 1 }
                    }
                },
            }
        }
    }
}

#[component]
fn VersioningCard(detail: api::BucketDetail, on_changed: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut busy = use_signal(|| false);
    let name = detail.name.clone();
    let set = move |to: &'static str| {
        let name = name.clone();
        busy.set(true);
        spawn(async move {
            let path = format!("{}/versioning", bucket_path(&name));
            match ctx.call::<serde_json::Value>(Method::Put, path, Some(json!({"status": to}))).await {
                Ok(_) => {
                    ctx.info(format!("Versioning of {} is {}.", visible_name(&name), to.to_lowercase()));
                    on_changed.call(());
                }
                Err(e) => ctx.error(&e),
            }
            busy.set(false);
        });
    };
    let mut enable = set.clone();
    let mut suspend = set;
    let status = detail.versioning.as_str();
    let locked = detail.object_lock.is_some();
    rsx! {
        div { class: "card", "data-testid": "versioning-card",
            h2 { "Versioning" }
            p { "Status: " strong { "data-testid": "versioning-status", "{status}" } }
            p { class: "hint",
                match status {
                    "Enabled" => "Every overwrite and delete keeps the previous version; “Show versions” in the browser lists them.",
                    "Suspended" => "New writes replace the “null” version; versions kept so far stay.",
                    _ => "Overwrites and deletes destroy the previous bytes. Once enabled, versioning can be suspended but never removed.",
                }
            }
            p { "data-testid": "settings-usage",
                "Current: {detail.object_count} objects, {human_size(detail.bytes_used)}. Noncurrent: {detail.noncurrent_count} versions, {human_size(detail.noncurrent_bytes)}."
            }
            div { class: "card-actions",
                if status != "Enabled" {
                    button { class: "primary", "data-testid": "versioning-enable", disabled: busy(), onclick: move |_| enable("Enabled"), "Enable versioning" }
                }
                if status == "Enabled" {
                    button { "data-testid": "versioning-suspend", disabled: busy() || locked,
                        title: if locked { "A bucket with object lock stays versioned." } else { "" },
                        onclick: move |_| suspend("Suspended"), "Suspend versioning" }
                }
            }
        }
    }
}

#[component]
fn LockCard(detail: api::BucketDetail, on_changed: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let default = detail.object_lock.as_ref().and_then(|l| l.default_retention.clone());
    let mut mode = use_signal(|| default.as_ref().map(|d| d.mode.clone()).unwrap_or_default());
    // The period as set: in days, or in years when the bucket's default says years (set through S3).
    let in_years = default.as_ref().is_some_and(|d| d.years.is_some());
    let mut unit = use_signal(|| if in_years { "years" } else { "days" });
    let mut amount =
        use_signal(|| default.as_ref().and_then(|d| d.days.or(d.years)).map(|n| n.to_string()).unwrap_or_default());
    let mut busy = use_signal(|| false);
    let on = detail.object_lock.is_some();
    let versioned = detail.versioning == "Enabled";
    let most = if unit() == "years" { 100 } else { 36_500 };
    let problem = match (mode.read().as_str(), amount.read().trim().parse::<i64>()) {
        ("", _) => None,
        (_, Ok(n)) if (1..=most).contains(&n) => None,
        _ if unit() == "years" => Some("Years must be a whole number from 1 to 100."),
        _ => Some("Days must be a whole number from 1 to 36500."),
    };
    let name = detail.name.clone();
    let save = move |_| {
        let name = name.clone();
        let retention = match mode().as_str() {
            "" => serde_json::Value::Null,
            m => json!({"mode": m, unit(): amount().trim().parse::<i64>().unwrap_or(0)}),
        };
        busy.set(true);
        spawn(async move {
            let path = format!("{}/object-lock", bucket_path(&name));
            match ctx.call::<serde_json::Value>(Method::Put, path, Some(json!({"default_retention": retention}))).await
            {
                Ok(_) => {
                    ctx.info(format!("Object lock of {} saved.", visible_name(&name)));
                    on_changed.call(());
                }
                Err(e) => ctx.error(&e),
            }
            busy.set(false);
        });
    };
    rsx! {
        div { class: "card", "data-testid": "lock-card",
            h2 { "Object lock" }
            if on {
                p { "Status: " strong { "data-testid": "lock-status", "On" } " (for good)" }
                p { "Default retention: " strong { "data-testid": "lock-default", "{default_retention_label(default.as_ref())}" } }
            } else {
                p { "Status: " strong { "data-testid": "lock-status", "Off" } }
            }
            if on || versioned {
                if !on {
                    div { class: "notice warning", "Object lock cannot be switched off again. COMPLIANCE retention cannot be shortened or removed by anyone, administrators included." }
                }
                div { class: "inline-form row-form",
                    label { "Default retention "
                        select { "data-testid": "lock-mode", onchange: move |e| mode.set(e.value()),
                            option { value: "", selected: mode.read().is_empty(), "None" }
                            option { value: "GOVERNANCE", selected: *mode.read() == "GOVERNANCE", "Governance" }
                            option { value: "COMPLIANCE", selected: *mode.read() == "COMPLIANCE", "Compliance" }
                        }
                    }
                    if !mode.read().is_empty() {
                        label { "for "
                            input { "data-testid": "lock-days", inputmode: "numeric", size: "6", value: "{amount}", oninput: move |e| amount.set(e.value()) }
                        }
                        select { "data-testid": "lock-unit", "aria-label": "Unit of the retention period",
                            onchange: move |e| unit.set(if e.value() == "years" { "years" } else { "days" }),
                            option { value: "days", selected: unit() == "days", "days" }
                            option { value: "years", selected: unit() == "years", "years" }
                        }
                    }
                    button { class: if on { "" } else { "danger" }, "data-testid": "lock-save", disabled: busy() || problem.is_some(), onclick: save,
                        if on { "Save default retention" } else { "Enable object lock" }
                    }
                }
                if let Some(p) = problem { p { class: "hint error", "data-testid": "lock-problem", "{p}" } }
            } else {
                p { class: "hint", "Enable versioning first: object lock protects versions." }
            }
        }
    }
}

#[component]
fn LifecycleCard(detail: api::BucketDetail, on_changed: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let rules = detail.lifecycle.as_ref().map(|l| l.rules.clone()).unwrap_or_default();
    let mut form = use_signal(RuleForm::default);
    let mut busy = use_signal(|| false);
    let name = detail.name.clone();
    // Stores `rules` as the bucket's rules (none left: the configuration is removed).
    let store = move |rules: Vec<api::LifecycleRule>, done: String| {
        let name = name.clone();
        busy.set(true);
        spawn(async move {
            let path = format!("{}/lifecycle", bucket_path(&name));
            let answer = if rules.is_empty() {
                ctx.call::<()>(Method::Delete, path, None).await
            } else {
                ctx.call::<serde_json::Value>(Method::Put, path, Some(json!({ "rules": rules }))).await.map(|_| ())
            };
            match answer {
                Ok(()) => {
                    form.set(RuleForm::default());
                    ctx.info(done);
                    on_changed.call(());
                }
                Err(e) => ctx.error(&e),
            }
            busy.set(false);
        });
    };
    let checked = form.read().to_rule(&rules);
    let problem = if form.read().days.is_empty() { None } else { checked.clone().err() };
    let mut add_store = store.clone();
    let existing = rules.clone();
    let add = move |e: FormEvent| {
        e.prevent_default();
        if let Ok(rule) = form.read().to_rule(&existing) {
            let mut all = existing.clone();
            all.push(rule);
            add_store(all, "Lifecycle rule added.".into());
        }
    };
    let kind = form.read().kind;
    rsx! {
        div { class: "card wide", "data-testid": "lifecycle-card",
            h2 { "Lifecycle rules" }
            if rules.is_empty() {
                p { class: "muted", "data-testid": "lifecycle-empty", "No rules: nothing expires by itself." }
            } else {
                table { class: "table", "data-testid": "lifecycle-table",
                    thead { tr { th { "Rule" } th { "Status" } th { "Applies to" } th { "Does" } th { class: "actions", "Actions" } } }
                    tbody {
                        for (i, r) in rules.iter().cloned().enumerate() {
                            tr { key: "{r.id}", "data-testid": "rule-row", "data-rule": "{r.id}",
                                td { class: "mono", "{visible_name(&r.id)}" }
                                td { if r.enabled { "Enabled" } else { "Disabled" } }
                                td { if r.prefix.is_empty() { "Whole bucket" } else { "{visible_name(&r.prefix)}" } }
                                td { "data-testid": "rule-summary", "{rule_summary(&r)}" }
                                td { class: "actions",
                                    button { class: "danger", "data-testid": "rule-delete", disabled: busy(), onclick: {
                                        let mut store = store.clone();
                                        let rest: Vec<api::LifecycleRule> = rules.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, r)| r.clone()).collect();
                                        move |_| store(rest.clone(), "Lifecycle rule deleted.".into())
                                    }, "Delete" }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "Add a rule" }
            form { class: "inline-form row-form", onsubmit: add,
                label { "Id " input { "data-testid": "rule-id", placeholder: "optional", value: "{form.read().id}", oninput: move |e| form.write().id = e.value() } }
                label { "Prefix " input { "data-testid": "rule-prefix", placeholder: "whole bucket", value: "{form.read().prefix}", oninput: move |e| form.write().prefix = e.value() } }
                select { "data-testid": "rule-kind", "aria-label": "What the rule does", onchange: move |e| form.write().kind = RuleKind::parse(&e.value()),
                    option { value: RuleKind::ExpireCurrent.value(), selected: kind == RuleKind::ExpireCurrent, "Expire current versions after" }
                    option { value: RuleKind::ExpireNoncurrent.value(), selected: kind == RuleKind::ExpireNoncurrent, "Expire noncurrent versions after" }
                    option { value: RuleKind::AbortUploads.value(), selected: kind == RuleKind::AbortUploads, "Abort incomplete uploads after" }
                }
                label { input { "data-testid": "rule-days", inputmode: "numeric", size: "5", "aria-label": "Days", value: "{form.read().days}", oninput: move |e| form.write().days = e.value() } " days" }
                if kind == RuleKind::ExpireNoncurrent {
                    label { "keeping the newest " input { "data-testid": "rule-keep", inputmode: "numeric", size: "4", placeholder: "0", value: "{form.read().keep}", oninput: move |e| form.write().keep = e.value() } }
                }
                button { r#type: "submit", class: "primary", "data-testid": "rule-add", disabled: busy() || checked.is_err(), "Add rule" }
            }
            if let Some(p) = problem { p { class: "hint error", "data-testid": "rule-problem", "{p}" } }
            p { class: "hint", "Rules run in the background on every replica; a version object lock protects is never expired." }
        }
    }
}
