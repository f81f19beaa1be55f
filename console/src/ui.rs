//! The console's components. Every user-controlled string (object keys, bucket and user names) is
//! rendered as a text node or an attribute value, both escaped by Dioxus, and passed through
//! [`visible_name`] first; nothing here uses `dangerous_inner_html`.

use crate::api::{self, ApiError, Method};
use crate::logic::*;
use crate::platform::{self, Aborter, PickedFile};
use dioxus::html::HasFileData;
use dioxus::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

mod access;
mod settings;
pub(crate) mod versions;

// ------------------------------------------------------------------------------------------------
// Application state
// ------------------------------------------------------------------------------------------------

/// The signed-in session. The token lives only here, in wasm memory.
#[derive(Clone, PartialEq)]
pub(crate) struct Session {
    token: String,
    user: api::User,
    /// Unix seconds after which the API refuses the token.
    expires_at: i64,
}

/// Which page is shown.
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Page {
    Buckets,
    Browser(String),
    /// A bucket's versioning, object lock and lifecycle settings.
    Settings(String),
    /// A bucket's ownership, Block Public Access, policy and ACL.
    Access(String),
    Keys,
    Users,
    Usage,
}

/// A message banner.
#[derive(Clone, PartialEq)]
pub(crate) struct Notice {
    error: bool,
    text: String,
}

/// State of one upload.
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum UpState {
    Queued,
    Uploading,
    Done,
    Failed(String),
    Cancelled,
}

impl UpState {
    fn label(&self) -> &'static str {
        match self {
            UpState::Queued => "queued",
            UpState::Uploading => "uploading",
            UpState::Done => "done",
            UpState::Failed(_) => "failed",
            UpState::Cancelled => "cancelled",
        }
    }
}

/// One file in the upload panel.
#[derive(Clone)]
pub(crate) struct UploadItem {
    id: u64,
    bucket: String,
    key: String,
    file: PickedFile,
    sent: u64,
    state: UpState,
    aborter: Aborter,
}

/// Shared signals, provided by [`App`].
#[derive(Clone, Copy)]
pub(crate) struct Ctx {
    session: Signal<Option<Session>>,
    notice: Signal<Option<Notice>>,
    page: Signal<Page>,
    config: Signal<Option<api::ServerConfig>>,
    uploads: Signal<Vec<UploadItem>>,
    /// Bumped whenever objects change (uploads finished), so listings reload.
    changed: Signal<u64>,
    next_id: Signal<u64>,
    dark: Signal<bool>,
}

impl Ctx {
    fn token(&self) -> Option<String> {
        self.session.peek().as_ref().map(|s| s.token.clone())
    }

    /// Call the API with the session's token; a 401 ends the session (back to sign-in, with a message).
    async fn call<T: DeserializeOwned>(
        self,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
    ) -> Result<T, ApiError> {
        let token = self.token();
        let r = api::request::<T>(method, &path, token.as_deref(), body).await;
        if let Err(e) = &r
            && e.status == 401
            && token.is_some()
        {
            self.end_session(format!("Your session has ended ({}). Please sign in again.", e.message));
        }
        r
    }

    fn end_session(mut self, message: String) {
        for item in self.uploads.peek().iter() {
            item.aborter.abort();
        }
        self.uploads.set(Vec::new());
        self.session.set(None);
        self.page.set(Page::Buckets);
        self.notice.set(Some(Notice { error: true, text: message }));
    }

    fn error(mut self, e: &ApiError) {
        if e.status != 401 {
            self.notice.set(Some(Notice { error: true, text: e.to_string() }));
        }
    }

    fn info(mut self, text: impl Into<String>) {
        self.notice.set(Some(Notice { error: false, text: text.into() }));
    }

    fn is_admin(&self) -> bool {
        self.session.read().as_ref().map(|s| s.user.role == "admin").unwrap_or(false)
    }
}

fn bucket_path(bucket: &str) -> String {
    format!("/api/buckets/{}", encode(bucket))
}

// ------------------------------------------------------------------------------------------------
// Shell
// ------------------------------------------------------------------------------------------------

/// The root component.
#[allow(non_snake_case)]
pub fn App() -> Element {
    let session = use_signal(|| None::<Session>);
    let notice = use_signal(|| None::<Notice>);
    let page = use_signal(|| Page::Buckets);
    let config = use_signal(|| None::<api::ServerConfig>);
    let uploads = use_signal(Vec::<UploadItem>::new);
    let changed = use_signal(|| 0u64);
    let next_id = use_signal(|| 1u64);
    let dark = use_signal(platform::prefers_dark);
    use_context_provider(|| Ctx { session, notice, page, config, uploads, changed, next_id, dark });
    use_effect(move || platform::set_theme(if dark() { "dark" } else { "light" }));

    rsx! {
        div { class: "app",
            if session.read().is_some() {
                Shell {}
            } else {
                Login {}
            }
        }
    }
}

/// Light/dark switch (the first theme follows the system's preference).
#[component]
fn ThemeToggle() -> Element {
    let mut dark = use_context::<Ctx>().dark;
    rsx! {
        button {
            class: "ghost theme-toggle",
            "data-testid": "theme-toggle",
            r#type: "button",
            title: "Switch light/dark theme",
            "aria-pressed": if dark() { "true" } else { "false" },
            onclick: move |_| dark.set(!dark()),
            if dark() { "☀ Light" } else { "☾ Dark" }
        }
    }
}

#[component]
fn NoticeBanner() -> Element {
    let ctx = use_context::<Ctx>();
    let mut notice = ctx.notice;
    let current = notice.read().clone();
    rsx! {
        if let Some(n) = current {
            div {
                class: if n.error { "notice error" } else { "notice info" },
                role: if n.error { "alert" } else { "status" },
                "data-testid": "notice",
                span { "{n.text}" }
                button { class: "ghost", "aria-label": "Dismiss", onclick: move |_| notice.set(None), "×" }
            }
        }
    }
}

#[component]
fn Login() -> Element {
    let ctx = use_context::<Ctx>();
    let mut username = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut busy = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);

    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn(async move {
            let body = json!({"username": username(), "password": password()});
            match api::request::<api::LoginAnswer>(Method::Post, "/api/login", None, Some(body)).await {
                Ok(ans) => {
                    let mut ctx = ctx;
                    password.set(String::new());
                    ctx.notice.set(None);
                    ctx.page.set(Page::Buckets);
                    ctx.session.set(Some(Session { token: ans.token, user: ans.user, expires_at: ans.expires_at }));
                }
                Err(e) => error.set(Some(if e.status == 401 {
                    "Wrong user name or password.".to_string()
                } else {
                    e.to_string()
                })),
            }
            busy.set(false);
        });
    };

    rsx! {
        main { class: "login",
            div { class: "login-theme", ThemeToggle {} }
            form { class: "card login-card", onsubmit: submit, "data-testid": "login-form",
                h1 { "CloudVault" }
                p { class: "muted", "Sign in to manage your buckets." }
                NoticeBanner {}
                if let Some(err) = error() {
                    div { class: "notice error", role: "alert", "data-testid": "login-error", "{err}" }
                }
                label { "User name"
                    input {
                        "data-testid": "login-username",
                        autocomplete: "username",
                        autofocus: true,
                        value: "{username}",
                        oninput: move |e| username.set(e.value()),
                    }
                }
                label { "Password"
                    input {
                        "data-testid": "login-password",
                        r#type: "password",
                        autocomplete: "current-password",
                        value: "{password}",
                        oninput: move |e| password.set(e.value()),
                    }
                }
                button { r#type: "submit", class: "primary", "data-testid": "login-submit", disabled: busy(),
                    if busy() { "Signing in…" } else { "Sign in" }
                }
            }
        }
    }
}

#[component]
fn Shell() -> Element {
    let ctx = use_context::<Ctx>();
    let mut page = ctx.page;
    let name = ctx.session.read().as_ref().map(|s| s.user.name.clone()).unwrap_or_default();
    let admin = ctx.is_admin();
    let current = page.read().clone();
    // The S3 endpoint for the access-key snippets (public, fetched once per session).
    use_hook(move || {
        spawn(async move {
            if let Ok(cfg) = ctx.call::<api::ServerConfig>(Method::Get, "/api/config".into(), None).await {
                let mut config = ctx.config;
                config.set(Some(cfg));
            }
        })
    });
    // Back to the sign-in page as soon as the token expires, not at the next click.
    use_hook(move || {
        spawn(async move {
            loop {
                platform::sleep_ms(1000).await;
                let Some(expires_at) = ctx.session.peek().as_ref().map(|s| s.expires_at) else { break };
                if platform::now_ms() >= expires_at as f64 * 1000.0 {
                    ctx.end_session("Your session expired. Please sign in again.".into());
                    break;
                }
            }
        })
    });
    let mut go = move |p: Page| {
        let mut notice = ctx.notice;
        notice.set(None);
        page.set(p);
    };
    let sign_out = move |_| {
        spawn(async move {
            let _ = ctx.call::<()>(Method::Post, "/api/logout".into(), None).await;
            ctx.end_session("You are signed out.".into());
            let mut n = ctx.notice;
            n.set(Some(Notice { error: false, text: "You are signed out.".into() }));
        });
    };
    let mut changing_password = use_signal(|| false);
    let cur_tab = std::mem::discriminant(&current);
    let tab = move |p: Page| if cur_tab == std::mem::discriminant(&p) { "tab active" } else { "tab" };
    rsx! {
        header { class: "topbar",
            span { class: "brand", "CloudVault" }
            nav { class: "tabs", "aria-label": "Main",
                button { class: tab(Page::Buckets), "data-testid": "nav-buckets", onclick: move |_| go(Page::Buckets), "Buckets" }
                button { class: tab(Page::Keys), "data-testid": "nav-keys", onclick: move |_| go(Page::Keys), "Access keys" }
                if admin {
                    button { class: tab(Page::Users), "data-testid": "nav-users", onclick: move |_| go(Page::Users), "Users" }
                }
                button { class: tab(Page::Usage), "data-testid": "nav-usage", onclick: move |_| go(Page::Usage), "Usage" }
            }
            span { class: "who", "data-testid": "whoami", "{visible_name(&name)}" }
            button { class: "ghost", "data-testid": "change-password", title: "Change your password", onclick: move |_| changing_password.set(true), "Password…" }
            ThemeToggle {}
            button { class: "ghost", "data-testid": "sign-out", onclick: sign_out, "Sign out" }
        }
        NoticeBanner {}
        if changing_password() {
            ChangePasswordDialog { on_close: move |_| changing_password.set(false) }
        }
        UploadPanel {}
        main { class: "content",
            match current {
                Page::Buckets => rsx! { BucketsPage {} },
                Page::Browser(bucket) => rsx! { Browser { key: "{bucket}", bucket: bucket.clone() } },
                Page::Settings(bucket) => rsx! { settings::SettingsPage { key: "settings:{bucket}", bucket: bucket.clone() } },
                Page::Access(bucket) => rsx! { access::AccessPage { key: "access:{bucket}", bucket: bucket.clone() } },
                Page::Keys => rsx! { KeysPage {} },
                Page::Users => rsx! { UsersPage {} },
                Page::Usage => rsx! { UsagePage {} },
            }
        }
    }
}

/// The signed-in user changes their own password. The API answers a new token (every older one stops
/// working), which replaces the session's, so the session goes on.
#[component]
fn ChangePasswordDialog(on_close: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut current = use_signal(String::new);
    let mut new = use_signal(String::new);
    let mut confirm = use_signal(String::new);
    let mut busy = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let problem = password_change_problem(&current.read(), &new.read(), &confirm.read());
    // Hints only once the user has typed into the field they are about.
    let hint = match problem {
        Some(p) if !new.read().is_empty() && (p.contains("8 characters") || p.contains("same")) => Some(p),
        Some(p) if !confirm.read().is_empty() && p.contains("differ") => Some(p),
        _ => None,
    };
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() || password_change_problem(&current(), &new(), &confirm()).is_some() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn(async move {
            let body = json!({"current_password": current(), "new_password": new()});
            match ctx.call::<api::PasswordChanged>(Method::Post, "/api/me/password".into(), Some(body)).await {
                Ok(ans) => {
                    let mut session = ctx.session;
                    if let Some(s) = session.write().as_mut() {
                        s.token = ans.token;
                        s.expires_at = ans.expires_at;
                    }
                    ctx.info("Your password was changed. Your other sessions were signed out.");
                    on_close.call(());
                }
                Err(e) if e.status == 401 => {}
                Err(e) => error.set(Some(password_change_error(&e.code, &e.message))),
            }
            busy.set(false);
        });
    };
    rsx! {
        Modal { title: "Change password", on_close: move |_| on_close.call(()),
            form { class: "stack", "data-testid": "password-form", onsubmit: submit,
                label { "Current password"
                    input { r#type: "password", autocomplete: "current-password", "data-testid": "password-current",
                        value: "{current}", onmounted: focus_on_mount, oninput: move |e| { current.set(e.value()); error.set(None); } }
                }
                label { "New password (8+ characters)"
                    input { r#type: "password", autocomplete: "new-password", "data-testid": "password-new",
                        "aria-invalid": if hint.is_some_and(|p| !p.contains("differ")) { "true" } else { "false" },
                        value: "{new}", oninput: move |e| { new.set(e.value()); error.set(None); } }
                }
                label { "New password again"
                    input { r#type: "password", autocomplete: "new-password", "data-testid": "password-confirm",
                        "aria-invalid": if hint.is_some_and(|p| p.contains("differ")) { "true" } else { "false" },
                        value: "{confirm}", oninput: move |e| { confirm.set(e.value()); error.set(None); } }
                }
                if let Some(h) = hint {
                    p { class: "hint error", "data-testid": "password-hint", "{h}" }
                }
                if let Some(err) = error() {
                    div { class: "notice error", role: "alert", "data-testid": "password-error", "{err}" }
                }
                p { class: "hint", "Changing it signs out your other sessions; this one goes on." }
                div { class: "dialog-actions",
                    button { r#type: "button", onclick: move |_| on_close.call(()), "Cancel" }
                    button { r#type: "submit", class: "primary", "data-testid": "password-submit", disabled: problem.is_some() || busy(),
                        if busy() { "Changing…" } else { "Change password" }
                    }
                }
            }
        }
    }
}

/// A modal dialog; the first button or input inside takes the focus.
#[component]
fn Modal(title: String, on_close: EventHandler<()>, children: Element) -> Element {
    rsx! {
        div { class: "backdrop",
            onkeydown: move |e: KeyboardEvent| if e.key() == Key::Escape { on_close.call(()) },
            div { class: "dialog card", role: "dialog", "aria-modal": "true", "aria-label": "{title}", "data-testid": "dialog",
                h2 { "{title}" }
                {children}
            }
        }
    }
}

/// Focus an element once mounted (dialogs).
fn focus_on_mount(e: MountedEvent) {
    spawn(async move {
        let _ = e.set_focus(true).await;
    });
}

// ------------------------------------------------------------------------------------------------
// Buckets
// ------------------------------------------------------------------------------------------------

#[derive(Clone, PartialEq)]
enum BucketDialog {
    Delete(api::Bucket),
    Public(api::Bucket),
}

#[component]
fn BucketsPage() -> Element {
    let ctx = use_context::<Ctx>();
    let mut reload = use_signal(|| 0u32);
    let buckets = use_resource(move || async move {
        let _ = reload();
        let _ = (ctx.changed)();
        ctx.call::<api::Buckets>(Method::Get, "/api/buckets".into(), None).await
    });
    let mut name = use_signal(String::new);
    let mut with_lock = use_signal(|| false);
    let mut creating = use_signal(|| false);
    let mut dialog = use_signal(|| None::<BucketDialog>);
    let problem = if name.read().is_empty() { None } else { bucket_name_problem(&name.read()) };

    let create = move |e: FormEvent| {
        e.prevent_default();
        let n = name();
        if bucket_name_problem(&n).is_some() || creating() {
            return;
        }
        creating.set(true);
        spawn(async move {
            let body = json!({"name": n, "object_lock": with_lock()});
            match ctx.call::<serde_json::Value>(Method::Post, "/api/buckets".into(), Some(body)).await {
                Ok(_) => {
                    name.set(String::new());
                    with_lock.set(false);
                    ctx.info(format!("Bucket {} created.", n));
                    reload += 1;
                }
                Err(e) => ctx.error(&e),
            }
            creating.set(false);
        });
    };

    let list = buckets.read().clone();
    rsx! {
        section { class: "page", "data-testid": "page-buckets",
            div { class: "page-head",
                h1 { "Buckets" }
                form { class: "inline-form", onsubmit: create,
                    label { class: "sr-only", r#for: "new-bucket", "New bucket name" }
                    input {
                        id: "new-bucket",
                        "data-testid": "bucket-name-input",
                        placeholder: "new-bucket-name",
                        value: "{name}",
                        "aria-invalid": if problem.is_some() { "true" } else { "false" },
                        oninput: move |e| name.set(e.value()),
                    }
                    label { class: "check", title: "Versioned, and versions can be locked (WORM); cannot be switched off",
                        input { r#type: "checkbox", "data-testid": "bucket-object-lock", checked: with_lock(), onchange: move |e| with_lock.set(e.checked()) }
                        " Object lock"
                    }
                    button { r#type: "submit", class: "primary", "data-testid": "bucket-create",
                        disabled: name.read().is_empty() || problem.is_some() || creating(),
                        if creating() { "Creating…" } else { "Create bucket" }
                    }
                }
            }
            p { class: if problem.is_some() { "hint error" } else { "hint" }, "data-testid": "bucket-name-hint",
                match problem {
                    Some(p) => rsx! { "The name {p}." },
                    None => rsx! { "Bucket names: 3–63 lowercase letters, digits, hyphens or dots, starting and ending with a letter or digit." },
                }
            }
            match list {
                None => rsx! { p { class: "loading", "data-testid": "loading", "Loading buckets…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", role: "alert", "{e}" } },
                Some(Ok(list)) => {
                    let public: Vec<String> = list.buckets.iter().filter(|b| b.public).map(|b| visible_name(&b.name)).collect();
                    rsx! {
                        if !public.is_empty() {
                            div { class: "notice warning", role: "status", "data-testid": "public-warning",
                                "⚠ Public: anyone on the internet can read the objects of {public.join(\", \")} without signing in."
                            }
                        }
                        if list.buckets.is_empty() {
                            p { class: "empty", "No buckets yet. Create one above." }
                        } else {
                            table { class: "table", "data-testid": "bucket-table",
                                thead { tr { th { "Name" } th { class: "num", "Objects" } th { class: "num", "Size" } th { "Access" } th { class: "actions", "Actions" } } }
                                tbody {
                                    for b in list.buckets.iter().cloned() {
                                        BucketRow { key: "{b.name}", bucket: b.clone(),
                                            on_delete: move |b| dialog.set(Some(BucketDialog::Delete(b))),
                                            on_public: move |b| dialog.set(Some(BucketDialog::Public(b))),
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            match dialog() {
                Some(BucketDialog::Delete(b)) => rsx! { DeleteBucketDialog { bucket: b, on_done: move |changed: bool| { dialog.set(None); if changed { reload += 1; } } } },
                Some(BucketDialog::Public(b)) => rsx! { PublicDialog { bucket: b, on_done: move |changed: bool| { dialog.set(None); if changed { reload += 1; } } } },
                None => rsx! {},
            }
        }
    }
}

#[component]
fn BucketRow(
    bucket: api::Bucket,
    on_delete: EventHandler<api::Bucket>,
    on_public: EventHandler<api::Bucket>,
) -> Element {
    let ctx = use_context::<Ctx>();
    let mut page = ctx.page;
    let name = bucket.name.clone();
    let settings_name = bucket.name.clone();
    let access_name = bucket.name.clone();
    let b1 = bucket.clone();
    let b2 = bucket.clone();
    rsx! {
        tr { "data-testid": "bucket-row", "data-bucket": "{bucket.name}",
            td {
                button { class: "link", "data-testid": "bucket-open", onclick: move |_| page.set(Page::Browser(name.clone())),
                    span { class: "ico ico-bucket", "aria-hidden": "true" } "{visible_name(&bucket.name)}"
                }
                if bucket.object_lock {
                    " " span { class: "badge", "data-testid": "bucket-locked", "Object lock" }
                } else if bucket.versioning == "Enabled" {
                    " " span { class: "badge", "data-testid": "bucket-versioned", "Versioned" }
                }
            }
            td { class: "num", "data-testid": "bucket-count", "{bucket.object_count}" }
            td { class: "num", "data-testid": "bucket-size", "{human_size(bucket.bytes_used)}" }
            td {
                if bucket.public {
                    span { class: "badge warn", "data-testid": "bucket-public", "Public" }
                } else {
                    span { class: "badge", "Private" }
                }
            }
            td { class: "actions",
                button { "data-testid": "bucket-settings", onclick: move |_| page.set(Page::Settings(settings_name.clone())), "Settings" }
                button { "data-testid": "bucket-access", onclick: move |_| page.set(Page::Access(access_name.clone())), "Access" }
                button { "data-testid": "bucket-public-toggle", onclick: move |_| on_public.call(b1.clone()),
                    if bucket.public { "Make private" } else { "Make public…" }
                }
                button { class: "danger", "data-testid": "bucket-delete", onclick: move |_| on_delete.call(b2.clone()), "Delete…" }
            }
        }
    }
}

#[component]
fn DeleteBucketDialog(bucket: api::Bucket, on_done: EventHandler<bool>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut typed = use_signal(String::new);
    let mut busy = use_signal(|| false);
    let count = bucket.object_count;
    let name = bucket.name.clone();
    let confirmed = count == 0 || typed.read().trim() == count.to_string();
    let go = move |_| {
        let name = name.clone();
        busy.set(true);
        spawn(async move {
            let path = if count == 0 {
                bucket_path(&name)
            } else {
                format!("{}?force=true&confirm_count={count}", bucket_path(&name))
            };
            match ctx.call::<()>(Method::Delete, path, None).await {
                Ok(()) => {
                    ctx.info(format!("Bucket {} deleted.", visible_name(&name)));
                    on_done.call(true);
                }
                Err(e) => {
                    ctx.error(&e);
                    on_done.call(e.code == "bucket_not_empty" || e.code == "count_mismatch");
                }
            }
            busy.set(false);
        });
    };
    rsx! {
        Modal { title: "Delete bucket", on_close: move |_| on_done.call(false),
            if count == 0 {
                p { "Delete the empty bucket " strong { "data-testid": "dialog-name", "{visible_name(&bucket.name)}" } "?" }
            } else {
                p { "The bucket " strong { "data-testid": "dialog-name", "{visible_name(&bucket.name)}" }
                    " holds " strong { "data-testid": "delete-count", "{count}" } " objects ({human_size(bucket.bytes_used)}). Deleting it deletes everything in it, for good." }
                label { "Type {count} to confirm"
                    input { "data-testid": "confirm-count-input", inputmode: "numeric", value: "{typed}", onmounted: focus_on_mount, oninput: move |e| typed.set(e.value()) }
                }
            }
            div { class: "dialog-actions",
                button { onclick: move |_| on_done.call(false), "Cancel" }
                button { class: "danger", "data-testid": "confirm-delete", disabled: !confirmed || busy(), onmounted: move |e| if count == 0 { focus_on_mount(e) }, onclick: go,
                    if count == 0 { "Delete bucket" } else { "Delete everything" }
                }
            }
        }
    }
}

#[component]
fn PublicDialog(bucket: api::Bucket, on_done: EventHandler<bool>) -> Element {
    let ctx = use_context::<Ctx>();
    let make_public = !bucket.public;
    let mut listing = use_signal(|| false);
    let name = bucket.name.clone();
    let go = move |_| {
        let name = name.clone();
        spawn(async move {
            let body = json!({"public": make_public, "listing": make_public && listing()});
            match ctx.call::<serde_json::Value>(Method::Put, format!("{}/public", bucket_path(&name)), Some(body)).await
            {
                Ok(_) => {
                    ctx.info(if make_public { "The bucket is now public." } else { "The bucket is now private." });
                    on_done.call(true);
                }
                Err(e) => {
                    ctx.error(&e);
                    on_done.call(false);
                }
            }
        });
    };
    rsx! {
        Modal { title: if make_public { "Make bucket public" } else { "Make bucket private" }, on_close: move |_| on_done.call(false),
            if make_public {
                div { class: "notice warning", "⚠ Anyone who knows an object's URL will be able to download it from "
                    strong { "{visible_name(&bucket.name)}" } " without signing in." }
                label { class: "check",
                    input { r#type: "checkbox", checked: listing(), onchange: move |e| listing.set(e.checked()) }
                    " Also let anyone list the bucket's contents"
                }
            } else {
                p { "Only signed-in owners and admins will be able to read " strong { "{visible_name(&bucket.name)}" } "." }
            }
            div { class: "dialog-actions",
                button { onclick: move |_| on_done.call(false), "Cancel" }
                button { class: if make_public { "danger" } else { "primary" }, "data-testid": "confirm-public", onmounted: focus_on_mount, onclick: go,
                    if make_public { "Make public" } else { "Make private" }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Object browser
// ------------------------------------------------------------------------------------------------

#[derive(Clone, PartialEq)]
enum BrowserDialog {
    DeleteObject(String),
    DeleteFolder(String),
    Share(String),
    NewFolder,
}

#[component]
fn Browser(bucket: String) -> Element {
    let ctx = use_context::<Ctx>();
    let mut prefix = use_signal(String::new);
    let mut search_input = use_signal(String::new);
    let mut search = use_signal(String::new);
    let mut paging = use_signal(Paging::new);
    let mut sort = use_signal(|| (SortKey::Name, true));
    let mut reload = use_signal(|| 0u32);
    let mut selected = use_signal(|| None::<String>);
    let mut dialog = use_signal(|| None::<BrowserDialog>);
    let mut dragging = use_signal(|| false);
    let mut show_versions = use_signal(|| false);
    let b = bucket.clone();
    let listing = use_resource(move || {
        let b = b.clone();
        async move {
            let _ = reload();
            let _ = (ctx.changed)();
            let mut q =
                format!("{}/objects?delimiter=%2F&limit={PAGE_SIZE}&prefix={}", bucket_path(&b), encode(&prefix()));
            let s = search();
            if !s.is_empty() {
                q.push_str(&format!("&search={}", encode(&s)));
            }
            if let Some(after) = paging.read().after() {
                q.push_str(&format!("&after={}", encode(&after)));
            }
            ctx.call::<api::ObjectList>(Method::Get, q, None).await
        }
    });

    let mut open_prefix = move |p: String| {
        prefix.set(p);
        paging.write().reset();
        search.set(String::new());
        search_input.set(String::new());
        selected.set(None);
    };

    let b_add = bucket.clone();
    let add_files = move |files: Vec<dioxus::html::FileData>| {
        let picked: Vec<PickedFile> = files.iter().filter_map(PickedFile::from_file_data).collect();
        enqueue_uploads(ctx, &b_add, &prefix.peek(), picked);
    };
    let add_files_2 = add_files.clone();
    let add_files_3 = add_files.clone();
    let add_files_4 = add_files;

    let crumbs = breadcrumbs(&bucket, &prefix.read());
    let (sort_key, ascending) = sort();
    let mut sort_by = move |k: SortKey| {
        let (cur, asc) = sort();
        sort.set((k, if cur == k { !asc } else { true }));
    };
    let arrow = |k: SortKey| if sort_key == k { if ascending { " ▲" } else { " ▼" } } else { "" };
    let aria_sort =
        |k: SortKey| if sort_key == k { if ascending { "ascending" } else { "descending" } } else { "none" };
    let current = listing.read().clone();
    let cur_prefix = prefix();

    rsx! {
        section {
            class: if dragging() { "page browser dragging" } else { "page browser" },
            "data-testid": "page-browser",
            ondragover: move |e: DragEvent| { e.prevent_default(); dragging.set(true); },
            ondragleave: move |_| dragging.set(false),
            ondrop: move |e: DragEvent| { e.prevent_default(); dragging.set(false); add_files_2(e.files()); },
            nav { class: "breadcrumbs", "aria-label": "Folder",
                for (i, c) in crumbs.iter().cloned().enumerate() {
                    if i > 0 { span { class: "sep", "/" } }
                    button { class: "link crumb", "data-testid": "breadcrumb", "data-prefix": "{c.prefix}",
                        "aria-current": if c.prefix == cur_prefix { "page" } else { "false" },
                        onclick: move |_| open_prefix(c.prefix.clone()),
                        if i == 0 { span { class: "ico ico-bucket", "aria-hidden": "true" } } "{visible_name(&c.label)}"
                    }
                }
            }
            div { class: "toolbar",
                form { class: "inline-form search", role: "search",
                    onsubmit: move |e: FormEvent| { e.prevent_default(); search.set(search_input()); paging.write().reset(); },
                    input { r#type: "search", "data-testid": "search-input", placeholder: "Search in this folder", "aria-label": "Search in this folder",
                        value: "{search_input}", oninput: move |e| search_input.set(e.value()) }
                    button { r#type: "submit", "data-testid": "search-submit", "Search" }
                    if !search.read().is_empty() {
                        button { r#type: "button", class: "ghost", "data-testid": "search-clear",
                            onclick: move |_| { search.set(String::new()); search_input.set(String::new()); paging.write().reset(); }, "Clear" }
                    }
                }
                div { class: "toolbar-actions",
                    button { "data-testid": "new-folder", onclick: move |_| dialog.set(Some(BrowserDialog::NewFolder)), "New folder" }
                    label { class: "button primary", "Upload files"
                        input { id: "upload-files", class: "sr-only", r#type: "file", multiple: true, "data-testid": "upload-files",
                            onchange: move |e: FormEvent| { add_files_3(e.files()); platform::clear_file_input("upload-files"); } }
                    }
                    label { class: "button", "Upload folder"
                        input { id: "upload-folder", class: "sr-only", r#type: "file", multiple: true, directory: true, "data-testid": "upload-folder",
                            onchange: move |e: FormEvent| { add_files_4(e.files()); platform::clear_file_input("upload-folder"); } }
                    }
                    label { class: "check", title: "List every version and delete marker",
                        input { r#type: "checkbox", "data-testid": "show-versions", checked: show_versions(),
                            onchange: move |e| { show_versions.set(e.checked()); selected.set(None); reload += 1; } }
                        " Show versions"
                    }
                    button { class: "ghost", "data-testid": "refresh", onclick: move |_| reload += 1, "↻ Refresh" }
                }
            }
            p { class: "hint", "Drop files or folders anywhere here to upload them into this folder." }
            div { class: "browser-body",
                div { class: "listing",
                    if show_versions() {
                        versions::VersionsListing { key: "versions:{cur_prefix}", bucket: bucket.clone(), prefix: cur_prefix.clone(),
                            on_open_prefix: move |p: String| open_prefix(p) }
                    } else {
                    match current {
                        None => rsx! { p { class: "loading", "data-testid": "loading", "Loading…" } },
                        Some(Err(e)) => rsx! { div { class: "notice error", role: "alert", "data-testid": "listing-error", "{e}" } },
                        Some(Ok(list)) => {
                            let mut objects = list.objects.clone();
                            sort_rows(&mut objects, sort_key, ascending);
                            let mut folders = list.prefixes.clone();
                            if sort_key == SortKey::Name && !ascending { folders.reverse(); }
                            let next_after = list.next_after.clone();
                            let empty = objects.is_empty() && folders.is_empty();
                            rsx! {
                                table { class: "table objects", "data-testid": "object-table",
                                    thead { tr {
                                        th { "aria-sort": aria_sort(SortKey::Name), button { class: "link", "data-testid": "sort-name", onclick: move |_| sort_by(SortKey::Name), "Name{arrow(SortKey::Name)}" } }
                                        th { class: "num", "aria-sort": aria_sort(SortKey::Size), button { class: "link", "data-testid": "sort-size", onclick: move |_| sort_by(SortKey::Size), "Size{arrow(SortKey::Size)}" } }
                                        th { class: "hide-narrow", "aria-sort": aria_sort(SortKey::Modified), button { class: "link", "data-testid": "sort-modified", onclick: move |_| sort_by(SortKey::Modified), "Modified{arrow(SortKey::Modified)}" } }
                                        th { class: "hide-narrow", "aria-sort": aria_sort(SortKey::Type), button { class: "link", "data-testid": "sort-type", onclick: move |_| sort_by(SortKey::Type), "Type{arrow(SortKey::Type)}" } }
                                        th { class: "actions", "Actions" }
                                    } }
                                    tbody {
                                        for f in folders {
                                            FolderRow { key: "d:{f}", folder: f.clone(), prefix: cur_prefix.clone(),
                                                on_open: move |p: String| open_prefix(p),
                                                on_delete: move |p: String| dialog.set(Some(BrowserDialog::DeleteFolder(p))),
                                            }
                                        }
                                        for o in objects {
                                            ObjectRow { key: "o:{o.key}", entry: o.clone(), prefix: cur_prefix.clone(),
                                                selected: selected.read().as_deref() == Some(o.key.as_str()),
                                                on_open: move |k: String| selected.set(Some(k)),
                                                on_share: move |k: String| dialog.set(Some(BrowserDialog::Share(k))),
                                                on_delete: move |k: String| dialog.set(Some(BrowserDialog::DeleteObject(k))),
                                            }
                                        }
                                    }
                                }
                                if empty {
                                    p { class: "empty", "data-testid": "empty-folder",
                                        if search.read().is_empty() { "This folder is empty." } else { "Nothing matches your search here." }
                                    }
                                }
                                div { class: "pager",
                                    button { "data-testid": "page-prev", disabled: !paging.read().has_previous(),
                                        onclick: move |_| { paging.write().previous(); selected.set(None); }, "← Previous" }
                                    span { "data-testid": "page-number", "Page {paging.read().page() + 1}" }
                                    button { "data-testid": "page-next", disabled: next_after.is_none(),
                                        onclick: move |_| { if let Some(n) = next_after.clone() { paging.write().next(&n); selected.set(None); } }, "Next →" }
                                }
                            }
                        }
                    }
                    }
                }
                if let Some(key) = selected() {
                    Details { key: "{key}", bucket: bucket.clone(), object_key: key.clone(),
                        on_close: move |_| selected.set(None),
                        on_share: move |k: String| dialog.set(Some(BrowserDialog::Share(k))),
                        on_delete: move |k: String| dialog.set(Some(BrowserDialog::DeleteObject(k))),
                    }
                }
            }
            match dialog() {
                None => rsx! {},
                Some(BrowserDialog::Share(k)) => rsx! { ShareDialog { bucket: bucket.clone(), object_key: k, on_close: move |_| dialog.set(None) } },
                Some(BrowserDialog::DeleteObject(k)) => rsx! { DeleteObjectDialog { bucket: bucket.clone(), object_key: k, on_done: move |changed: bool| { dialog.set(None); if changed { selected.set(None); reload += 1; } } } },
                Some(BrowserDialog::DeleteFolder(p)) => rsx! { DeleteFolderDialog { bucket: bucket.clone(), folder: p, on_done: move |changed: bool| { dialog.set(None); if changed { reload += 1; } } } },
                Some(BrowserDialog::NewFolder) => rsx! { NewFolderDialog { bucket: bucket.clone(), prefix: cur_prefix.clone(), on_done: move |created: Option<String>| { dialog.set(None); if let Some(p) = created { open_prefix(p); } } } },
            }
        }
    }
}

/// A folder row of the object table.
#[component]
pub(crate) fn FolderRow(
    folder: String,
    prefix: String,
    on_open: EventHandler<String>,
    on_delete: EventHandler<String>,
) -> Element {
    let label = visible_name(folder_label(&prefix, &folder));
    let f1 = folder.clone();
    let f2 = folder.clone();
    rsx! {
        tr { class: "folder", "data-testid": "folder-row", "data-prefix": "{folder}",
            td { button { class: "link", "data-testid": "folder-link", onclick: move |_| on_open.call(f1.clone()), span { class: "ico ico-folder", "aria-hidden": "true" } "{label}" } }
            td { class: "num", "—" }
            td { class: "hide-narrow", "—" }
            td { class: "hide-narrow", "Folder" }
            td { class: "actions",
                button { class: "danger", "data-testid": "folder-delete", "aria-label": "Delete folder {label}", onclick: move |_| on_delete.call(f2.clone()), "Delete…" }
            }
        }
    }
}

/// An object row of the object table. The key is shown as text with bidi controls made visible.
#[component]
pub(crate) fn ObjectRow(
    entry: api::ObjectEntry,
    prefix: String,
    selected: bool,
    on_open: EventHandler<String>,
    on_share: EventHandler<String>,
    on_delete: EventHandler<String>,
) -> Element {
    let label = visible_name(name_in_folder(&prefix, &entry.key));
    let k1 = entry.key.clone();
    let k2 = entry.key.clone();
    let k3 = entry.key.clone();
    let k4 = entry.key.clone();
    let kind = type_label(entry.content_type.as_deref(), &entry.key);
    rsx! {
        tr { class: if selected { "selected" } else { "" }, "data-testid": "object-row", "data-key": "{entry.key}",
            td { button { class: "link name", "data-testid": "object-link", title: "{label}", onclick: move |_| on_open.call(k1.clone()), span { class: "ico ico-file", "aria-hidden": "true" } "{label}" } }
            td { class: "num", "{human_size(entry.size)}" }
            td { class: "when hide-narrow", "{format_time_ms(entry.last_modified)}" }
            td { class: "hide-narrow kind", "{kind}" }
            td { class: "actions",
                button { "data-testid": "object-download", "aria-label": "Download {label}", onclick: move |_| on_download(k2.clone()), "Download" }
                button { "data-testid": "object-share", "aria-label": "Share {label}", onclick: move |_| on_share.call(k3.clone()), "Share" }
                button { class: "danger", "data-testid": "object-delete", "aria-label": "Delete {label}", onclick: move |_| on_delete.call(k4.clone()), "Delete…" }
            }
        }
    }
}

/// Download through a short-lived presigned URL with `attachment` disposition.
fn on_download(key: String) {
    let ctx = try_consume_context::<Ctx>();
    let Some(ctx) = ctx else { return };
    let Page::Browser(bucket) = ctx.page.peek().clone() else { return };
    spawn(async move {
        let body = json!({"key": key, "expires_in_secs": 300, "disposition": "attachment"});
        match ctx.call::<api::Presigned>(Method::Post, format!("{}/share", bucket_path(&bucket)), Some(body)).await {
            Ok(p) => platform::download(&p.url),
            Err(e) => ctx.error(&e),
        }
    });
}

/// The preview shown in the details panel.
#[derive(Clone, PartialEq)]
enum Preview {
    Loading,
    Failed(String),
    Image(String),
    Text(TextPreview),
    /// Opened in a new tab; the link opens it again.
    Pdf(String),
}

#[component]
fn Details(
    bucket: String,
    object_key: String,
    on_close: EventHandler<()>,
    on_share: EventHandler<String>,
    on_delete: EventHandler<String>,
) -> Element {
    let ctx = use_context::<Ctx>();
    let b = bucket.clone();
    let k = object_key.clone();
    let details = use_resource(move || {
        let (b, k) = (b.clone(), k.clone());
        async move {
            ctx.call::<api::ObjectDetails>(Method::Get, format!("{}/object?key={}", bucket_path(&b), encode(&k)), None)
                .await
        }
    });
    let mut preview = use_signal(|| None::<Preview>);
    let current = details.read().clone();
    let k2 = object_key.clone();
    let k3 = object_key.clone();
    let k4 = object_key.clone();
    rsx! {
        aside { class: "details card", "data-testid": "details", "aria-label": "Object details",
            div { class: "details-head",
                h2 { class: "name", "{visible_name(&object_key)}" }
                button { class: "ghost", "aria-label": "Close details", onclick: move |_| on_close.call(()), "×" }
            }
            match current {
                None => rsx! { p { class: "loading", "Loading…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", "{e}" } },
                Some(Ok(d)) => {
                    let ct = d.content_type.clone().unwrap_or_default();
                    let kind = preview_kind(&ct);
                    let size = d.size;
                    let b2 = bucket.clone();
                    let k5 = d.key.clone();
                    rsx! {
                        dl {
                            dt { "Size" } dd { "{human_size(d.size)} ({d.size} bytes)" }
                            dt { "Modified" } dd { "{format_time_ms(d.last_modified)}" }
                            dt { "Content type" } dd { "data-testid": "details-content-type", "{visible_name(&ct)}" }
                            dt { "ETag" } dd { class: "mono", "data-testid": "details-etag", "{d.etag}" }
                            if d.version_id != "null" && !d.version_id.is_empty() {
                                dt { "Version" } dd { class: "mono small", "data-testid": "details-version", "{d.version_id}" }
                            }
                            if let Some(r) = d.retention.as_ref() {
                                dt { "Retention" } dd { "data-testid": "details-retention", "{crate::protection::retention_label(r, platform::now_ms() as i64)}" }
                            }
                            if d.legal_hold { dt { "Legal hold" } dd { "data-testid": "details-legal-hold", "On" } }
                        }
                        h3 { "Metadata" }
                        if d.metadata.is_empty() { p { class: "muted", "None" } }
                        dl { "data-testid": "details-metadata",
                            for (mk, mv) in d.metadata.iter() { dt { key: "{mk}", "{visible_name(mk)}" } dd { "{visible_name(mv)}" } }
                        }
                        h3 { "Tags" }
                        if d.tags.is_empty() { p { class: "muted", "None" } }
                        dl { "data-testid": "details-tags",
                            for (tk, tv) in d.tags.iter() { dt { key: "{tk}", "{visible_name(tk)}" } dd { "{visible_name(tv)}" } }
                        }
                        div { class: "details-actions",
                            button { "data-testid": "details-download", onclick: move |_| on_download(k2.clone()), "Download" }
                            button { onclick: move |_| on_share.call(k3.clone()), "Share" }
                            button { class: "danger", onclick: move |_| on_delete.call(k4.clone()), "Delete…" }
                            if let Some(kind) = kind {
                                button { "data-testid": "details-preview", disabled: preview() == Some(Preview::Loading), onclick: move |_| {
                                    let (b, k) = (b2.clone(), k5.clone());
                                    preview.set(Some(Preview::Loading));
                                    spawn(async move {
                                        let body = json!({"key": k, "expires_in_secs": 900, "disposition": "inline"});
                                        let url = match ctx.call::<api::Presigned>(Method::Post, format!("{}/share", bucket_path(&b)), Some(body)).await {
                                            Ok(p) => p.url,
                                            Err(e) => {
                                                preview.set(Some(Preview::Failed(e.to_string())));
                                                return;
                                            }
                                        };
                                        let shown = match kind {
                                            PreviewKind::Image => Preview::Image(url),
                                            PreviewKind::Pdf => {
                                                platform::open_new_tab(&url);
                                                Preview::Pdf(url)
                                            }
                                            PreviewKind::Text if size == 0 => Preview::Text(text_preview(&[], 0, TEXT_PREVIEW_BYTES)),
                                            PreviewKind::Text => match platform::fetch_prefix(&url, TEXT_PREVIEW_BYTES).await {
                                                Ok(bytes) => Preview::Text(text_preview(&bytes, size, TEXT_PREVIEW_BYTES)),
                                                Err(e) => Preview::Failed(e),
                                            },
                                        };
                                        preview.set(Some(shown));
                                    });
                                }, if kind == PreviewKind::Pdf { "Open PDF ↗" } else { "Preview" } }
                            }
                        }
                        match preview() {
                            None => rsx! {},
                            Some(Preview::Loading) => rsx! { p { class: "loading", "data-testid": "preview-loading", "Loading the preview…" } },
                            Some(Preview::Failed(e)) => rsx! { div { class: "notice error", role: "alert", "data-testid": "preview-error", "The preview failed: {e}" } },
                            // The presigned URL is on the S3 origin, never the console's.
                            Some(Preview::Image(url)) => rsx! { img { class: "preview", "data-testid": "preview-image", src: "{url}", alt: "Preview of {visible_name(&object_key)}", referrerpolicy: "no-referrer" } },
                            // A text node in a <pre>: markup in the object shows as its source, never runs.
                            Some(Preview::Text(t)) => rsx! {
                                pre { class: "preview text-preview", "data-testid": "preview-text", tabindex: "0", "aria-label": "Text of {visible_name(&object_key)}", "{t.text}" }
                                if t.truncated {
                                    p { class: "hint", "data-testid": "preview-truncated", "Showing the first {human_size(TEXT_PREVIEW_BYTES)} of {human_size(size)}." }
                                }
                            },
                            Some(Preview::Pdf(url)) => rsx! {
                                p { class: "hint", "The PDF opens in a new tab, from the storage endpoint. "
                                    a { "data-testid": "preview-pdf-link", href: "{url}", target: "_blank", rel: "noopener noreferrer", "Open it again ↗" }
                                }
                            },
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn ShareDialog(bucket: String, object_key: String, on_close: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut expiry = use_signal(|| 86_400u32);
    let mut link = use_signal(|| None::<api::Presigned>);
    let mut copied = use_signal(|| false);
    let (b, k) = (bucket.clone(), object_key.clone());
    let create = move |_| {
        let (b, k) = (b.clone(), k.clone());
        spawn(async move {
            let body = json!({"key": k, "expires_in_secs": expiry(), "disposition": "attachment"});
            match ctx.call::<api::Presigned>(Method::Post, format!("{}/share", bucket_path(&b)), Some(body)).await {
                Ok(p) => {
                    link.set(Some(p));
                    copied.set(false);
                }
                Err(e) => ctx.error(&e),
            }
        });
    };
    rsx! {
        Modal { title: "Share a link", on_close: move |_| on_close.call(()),
            p { "Anyone with the link can download " strong { "{visible_name(&object_key)}" } " until it expires, without signing in." }
            label { "Link expires after "
                select { "data-testid": "share-expiry", onmounted: focus_on_mount,
                    onchange: move |e| { expiry.set(e.value().parse().unwrap_or(86_400)); link.set(None); },
                    option { value: "3600", selected: expiry() == 3600, "1 hour" }
                    option { value: "86400", selected: expiry() == 86_400, "1 day" }
                    option { value: "604800", selected: expiry() == 604_800, "7 days" }
                }
            }
            if let Some(p) = link() {
                div { class: "copy-row",
                    input { readonly: true, class: "mono", "data-testid": "share-url", value: "{p.url}", "aria-label": "Share link" }
                    button { "data-testid": "share-copy", onclick: move |_| { platform::copy_text(&p.url); copied.set(true); },
                        if copied() { "Copied ✓" } else { "Copy" } }
                }
                p { class: "muted", "Expires {format_time_ms(p.expires_at * 1000)}." }
            }
            div { class: "dialog-actions",
                button { onclick: move |_| on_close.call(()), "Close" }
                button { class: "primary", "data-testid": "share-create", onclick: create, "Create link" }
            }
        }
    }
}

#[component]
fn DeleteObjectDialog(bucket: String, object_key: String, on_done: EventHandler<bool>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut busy = use_signal(|| false);
    let (b, k) = (bucket.clone(), object_key.clone());
    rsx! {
        Modal { title: "Delete object", on_close: move |_| on_done.call(false),
            p { "Delete " strong { "data-testid": "dialog-name", "{visible_name(&object_key)}" } " from " strong { "{visible_name(&bucket)}" } "? This cannot be undone." }
            div { class: "dialog-actions",
                button { onclick: move |_| on_done.call(false), "Cancel" }
                button { class: "danger", "data-testid": "confirm-delete", disabled: busy(), onmounted: focus_on_mount, onclick: move |_| {
                    let (b, k) = (b.clone(), k.clone());
                    busy.set(true);
                    spawn(async move {
                        match ctx.call::<()>(Method::Delete, format!("{}/object?key={}", bucket_path(&b), encode(&k)), None).await {
                            Ok(()) => { ctx.info(format!("Deleted {}.", visible_name(&k))); on_done.call(true); }
                            Err(e) => { ctx.error(&e); on_done.call(false); }
                        }
                    });
                }, "Delete" }
            }
        }
    }
}

#[component]
fn DeleteFolderDialog(bucket: String, folder: String, on_done: EventHandler<bool>) -> Element {
    let ctx = use_context::<Ctx>();
    let (b, f) = (bucket.clone(), folder.clone());
    let count = use_resource(move || {
        let (b, f) = (b.clone(), f.clone());
        async move {
            ctx.call::<api::Count>(
                Method::Get,
                format!("{}/objects/count?prefix={}", bucket_path(&b), encode(&f)),
                None,
            )
            .await
        }
    });
    let mut busy = use_signal(|| false);
    let current = count.read().clone();
    let (b, f) = (bucket.clone(), folder.clone());
    rsx! {
        Modal { title: "Delete folder", on_close: move |_| on_done.call(false),
            match current {
                None => rsx! { p { class: "loading", "Counting objects…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", "{e}" } },
                Some(Ok(c)) => rsx! {
                    p { "Delete the folder " strong { "data-testid": "dialog-name", "{visible_name(&folder)}" } " and the "
                        strong { "data-testid": "delete-count", "{c.count}" } " objects ({human_size(c.bytes)}) in it? This cannot be undone." }
                    div { class: "dialog-actions",
                        button { onclick: move |_| on_done.call(false), "Cancel" }
                        button { class: "danger", "data-testid": "confirm-delete", disabled: busy(), onmounted: focus_on_mount, onclick: move |_| {
                            let (b, f) = (b.clone(), f.clone());
                            let n = c.count;
                            busy.set(true);
                            spawn(async move {
                                let body = json!({"prefix": f, "confirm_count": n});
                                match ctx.call::<serde_json::Value>(Method::Post, format!("{}/objects/delete", bucket_path(&b)), Some(body)).await {
                                    Ok(v) => { ctx.info(format!("Deleted {} objects.", v.get("deleted").and_then(|d| d.as_u64()).unwrap_or(n))); on_done.call(true); }
                                    Err(e) => { ctx.error(&e); on_done.call(e.code == "count_mismatch"); }
                                }
                            });
                        }, "Delete {c.count} objects" }
                    }
                },
            }
        }
    }
}

#[component]
fn NewFolderDialog(bucket: String, prefix: String, on_done: EventHandler<Option<String>>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut name = use_signal(String::new);
    let problem = folder_name_problem(&name.read());
    let (b, p) = (bucket.clone(), prefix.clone());
    let create = move |e: FormEvent| {
        e.prevent_default();
        if folder_name_problem(&name()).is_some() {
            return;
        }
        let key = format!("{}{}/", p, name());
        let b = b.clone();
        spawn(async move {
            let path = format!("{}/object/content?key={}", bucket_path(&b), encode(&key));
            let token = ctx.token();
            let r = match platform::http(Method::Put, &path, token.as_deref(), None).await {
                Ok((s, _)) if (200..300).contains(&s) => Ok(()),
                Ok((s, body)) => Err(api::error_from(s, &body)),
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => on_done.call(Some(key)),
                Err(e) => {
                    if e.status == 401 {
                        ctx.end_session("Your session has ended. Please sign in again.".into());
                    }
                    ctx.error(&e);
                    on_done.call(None);
                }
            }
        });
    };
    rsx! {
        Modal { title: "New folder", on_close: move |_| on_done.call(None),
            form { onsubmit: create,
                label { "Folder name"
                    input { "data-testid": "new-folder-name", value: "{name}", onmounted: focus_on_mount, oninput: move |e| name.set(e.value()) }
                }
                if !name.read().is_empty() {
                    if let Some(p) = problem { p { class: "hint error", "The name {p}." } }
                }
                div { class: "dialog-actions",
                    button { r#type: "button", onclick: move |_| on_done.call(None), "Cancel" }
                    button { r#type: "submit", class: "primary", "data-testid": "new-folder-create", disabled: problem.is_some(), "Create" }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Uploads
// ------------------------------------------------------------------------------------------------

/// Add picked files to the upload queue and start it.
fn enqueue_uploads(ctx: Ctx, bucket: &str, prefix: &str, files: Vec<PickedFile>) {
    if files.is_empty() {
        return;
    }
    let mut next_id = ctx.next_id;
    let mut uploads = ctx.uploads;
    for file in files {
        let id = next_id();
        next_id.set(id + 1);
        let key = upload_key(prefix, &file.relative_path, &file.name);
        uploads.write().push(UploadItem {
            id,
            bucket: bucket.to_string(),
            key,
            file,
            sent: 0,
            state: UpState::Queued,
            aborter: Aborter::default(),
        });
    }
    pump(ctx);
}

const PARALLEL_UPLOADS: usize = 3;

/// Start queued uploads while fewer than [`PARALLEL_UPLOADS`] run.
fn pump(ctx: Ctx) {
    let uploads = ctx.uploads;
    loop {
        let running = uploads.peek().iter().filter(|u| u.state == UpState::Uploading).count();
        if running >= PARALLEL_UPLOADS {
            return;
        }
        let Some(id) = uploads.peek().iter().find(|u| u.state == UpState::Queued).map(|u| u.id) else { return };
        set_upload(ctx, id, |u| u.state = UpState::Uploading);
        dioxus::dioxus_core::spawn_forever(run_upload(ctx, id));
    }
}

fn set_upload(ctx: Ctx, id: u64, f: impl FnOnce(&mut UploadItem)) {
    let mut uploads = ctx.uploads;
    if let Some(u) = uploads.write().iter_mut().find(|u| u.id == id) {
        f(u);
    }
}

/// Bytes of one file confirmed by finished PUTs, and the `upload.onprogress` `loaded` of each PUT in
/// flight (by part number; 0 for a single PUT).
#[derive(Default)]
struct SentBytes {
    confirmed: Cell<u64>,
    flying: RefCell<BTreeMap<u32, Rc<Cell<f64>>>>,
}

impl SentBytes {
    /// A fresh counter for a PUT that starts.
    fn track(&self, part: u32) -> Rc<Cell<f64>> {
        let cell = Rc::new(Cell::new(0.0));
        self.flying.borrow_mut().insert(part, cell.clone());
        cell
    }

    /// A PUT succeeded: its bytes move from in flight to confirmed (the total does not change).
    fn confirm(&self, part: u32, bytes: u64) {
        self.flying.borrow_mut().remove(&part);
        self.confirmed.set(self.confirmed.get() + bytes);
    }

    /// A PUT failed: its bytes no longer count (the only way the bar goes back).
    fn forget(&self, part: u32) {
        self.flying.borrow_mut().remove(&part);
    }

    fn total(&self, size: u64) -> u64 {
        upload_progress(self.confirmed.get(), self.flying.borrow().values().map(|c| c.get()), size)
    }
}

async fn run_upload(ctx: Ctx, id: u64) {
    let Some(item) = ctx.uploads.peek().iter().find(|u| u.id == id).cloned() else { return };
    let sent = Rc::new(SentBytes::default());
    let finished = Rc::new(Cell::new(false));
    // Progress poller: copies the XHRs' byte counts into the signal ten times a second.
    {
        let (sent, finished) = (sent.clone(), finished.clone());
        dioxus::dioxus_core::spawn_forever(async move {
            while !finished.get() {
                platform::sleep_ms(100).await;
                let bytes = sent.total(item_size(ctx, id));
                set_upload(ctx, id, |u| {
                    if u.state == UpState::Uploading {
                        u.sent = bytes
                    }
                });
            }
        });
    }
    let result = if use_multipart(item.file.size) {
        upload_multipart(ctx, &item, &sent).await
    } else {
        upload_single(ctx, &item, &sent).await
    };
    finished.set(true);
    let state = match result {
        Ok(()) => UpState::Done,
        Err(_) if item.aborter.is_cancelled() => UpState::Cancelled,
        Err(e) => UpState::Failed(e),
    };
    let ok = state == UpState::Done;
    set_upload(ctx, id, move |u| {
        if ok {
            u.sent = u.file.size;
        }
        u.state = state;
    });
    if ok {
        let mut changed = ctx.changed;
        changed += 1;
    }
    pump(ctx);
}

fn item_size(ctx: Ctx, id: u64) -> u64 {
    ctx.uploads.peek().iter().find(|u| u.id == id).map(|u| u.file.size).unwrap_or(0)
}

fn content_type_of(file: &PickedFile) -> String {
    if file.content_type.is_empty() { "application/octet-stream".into() } else { file.content_type.clone() }
}

async fn upload_single(ctx: Ctx, item: &UploadItem, sent: &SentBytes) -> Result<(), String> {
    let body = json!({"key": item.key, "content_type": content_type_of(&item.file)});
    let target = ctx
        .call::<api::UploadUrl>(Method::Post, format!("{}/upload-url", bucket_path(&item.bucket)), Some(body))
        .await
        .map_err(|e| e.to_string())?;
    let mut headers = target.headers.clone();
    if target.digest_required {
        headers.insert("Content-MD5".into(), platform::md5_base64(&item.file, None).await?);
    }
    let loaded = sent.track(0);
    platform::put_file(&target.url, &headers, &item.file, None, loaded, &item.aborter).await?;
    sent.confirm(0, item.file.size);
    Ok(())
}

/// A multipart upload: [`PARALLEL_PARTS`] part PUTs in flight at once (lowest part numbers first),
/// presigned URLs fetched [`PART_URL_BATCH`] at a time, a failed part retried [`PART_RETRIES`] times
/// with a fresh URL, then `complete` with every part in order. Cancel or failure aborts the PUTs in
/// flight and the multipart upload.
async fn upload_multipart(ctx: Ctx, item: &UploadItem, sent: &SentBytes) -> Result<(), String> {
    let base = bucket_path(&item.bucket);
    let started = ctx
        .call::<api::MultipartStarted>(
            Method::Post,
            format!("{base}/multipart"),
            Some(json!({"key": item.key, "content_type": content_type_of(&item.file)})),
        )
        .await
        .map_err(|e| e.to_string())?;
    let upload_id = started.upload_id;
    let result = upload_parts(ctx, item, &base, &upload_id, sent).await;
    // Stop any PUT still in flight (a part failed for good) before the upload is aborted.
    item.aborter.abort_requests();
    let result = match result {
        Ok(parts) => ctx
            .call::<serde_json::Value>(
                Method::Post,
                format!("{base}/multipart/{}/complete", encode(&upload_id)),
                Some(json!({"key": item.key, "parts": parts})),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = ctx
            .call::<()>(
                Method::Delete,
                format!("{base}/multipart/{}?key={}", encode(&upload_id), encode(&item.key)),
                None,
            )
            .await;
    }
    result
}

/// Wait for the first of `running` to finish and remove it; `None` when none runs.
async fn next_finished<T>(running: &mut Vec<Pin<Box<dyn Future<Output = T>>>>) -> Option<T> {
    std::future::poll_fn(|cx| {
        for i in 0..running.len() {
            if let Poll::Ready(v) = running[i].as_mut().poll(cx) {
                drop(running.swap_remove(i));
                return Poll::Ready(Some(v));
            }
        }
        if running.is_empty() { Poll::Ready(None) } else { Poll::Pending }
    })
    .await
}

/// PUT every part (see [`upload_multipart`]); answers the parts for `complete`, in part-number order.
async fn upload_parts(
    ctx: Ctx,
    item: &UploadItem,
    base: &str,
    upload_id: &str,
    sent: &SentBytes,
) -> Result<Vec<api::CompletedPart>, String> {
    type PartPut = Pin<Box<dyn Future<Output = (PartRange, Result<Option<String>, String>)>>>;
    let mut schedule = PartSchedule::new(plan_parts(item.file.size, PART_SIZE));
    // Presigned URLs not used yet: part number → (URL, expiry in unix seconds).
    let mut urls: BTreeMap<u32, (String, i64)> = BTreeMap::new();
    let mut running: Vec<PartPut> = Vec::new();
    // Whether each part must carry Content-MD5 (said with every batch of URLs).
    let mut digest = false;
    loop {
        if item.aborter.is_cancelled() {
            return Err("cancelled".into());
        }
        for number in schedule.next_to_start(PARALLEL_PARTS) {
            let now = (platform::now_ms() / 1000.0) as i64;
            let usable = |n: u32| urls.get(&n).is_some_and(|(_, exp)| url_usable(*exp, now));
            if !usable(number) {
                let numbers = schedule.url_batch(number, usable, PART_URL_BATCH);
                let got = ctx
                    .call::<api::PartUrls>(
                        Method::Post,
                        format!("{base}/multipart/{}/parts", encode(upload_id)),
                        Some(json!({"key": item.key, "part_numbers": numbers})),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                digest = got.digest_required;
                for u in got.urls {
                    urls.insert(u.part_number, (u.url, got.expires_at));
                }
            }
            let (url, _) = urls.remove(&number).ok_or_else(|| format!("no URL for part {number}"))?;
            let part = schedule.part(number).ok_or_else(|| format!("no part {number}"))?;
            let failures = schedule.failures(number);
            schedule.start(number);
            let loaded = sent.track(number);
            let (file, aborter) = (item.file.clone(), item.aborter.clone());
            running.push(Box::pin(async move {
                if failures > 0 {
                    platform::sleep_ms(retry_delay_ms(failures)).await;
                }
                let range = Some((part.start, part.end));
                let mut headers = BTreeMap::new();
                if digest {
                    match platform::md5_base64(&file, range).await {
                        Ok(md5) => headers.insert("Content-MD5".to_owned(), md5),
                        Err(e) => return (part, Err(e)),
                    };
                }
                let r = platform::put_file(&url, &headers, &file, range, loaded, &aborter).await;
                (part, r)
            }));
        }
        let Some((part, outcome)) = next_finished(&mut running).await else { break };
        let outcome = outcome.and_then(|etag| {
            etag.ok_or_else(|| {
                "the storage endpoint did not expose the part's ETag (CORS Access-Control-Expose-Headers)".to_string()
            })
        });
        match outcome {
            Ok(etag) => {
                sent.confirm(part.number, part.end - part.start);
                schedule.finish(part.number, etag);
            }
            Err(e) => {
                sent.forget(part.number);
                if item.aborter.is_cancelled() {
                    return Err("cancelled".into());
                }
                // A missing ETag will not come back on a retry.
                if e.contains("ETag") || !schedule.fail(part.number, PART_RETRIES) {
                    return Err(format!("part {}: {e}", part.number));
                }
            }
        }
    }
    let parts = schedule.completed().ok_or("some parts did not upload")?;
    Ok(parts.into_iter().map(|(part_number, etag)| api::CompletedPart { part_number, etag }).collect())
}

#[component]
fn UploadPanel() -> Element {
    let ctx = use_context::<Ctx>();
    let mut uploads = ctx.uploads;
    let mut collapsed = use_signal(|| false);
    let list = uploads.read();
    if list.is_empty() {
        return rsx! {};
    }
    let counted: Vec<&UploadItem> = list.iter().filter(|u| u.state != UpState::Cancelled).collect();
    let total: u64 = counted.iter().map(|u| u.file.size).sum();
    let sent: u64 = counted.iter().map(|u| u.sent).sum();
    let all_done = counted.iter().all(|u| u.state == UpState::Done);
    let overall = if total == 0 { if all_done { 100.0 } else { 0.0 } } else { percent(sent, total) };
    let done_count = list.iter().filter(|u| u.state == UpState::Done).count();
    let rows: Vec<(u64, String, u64, u64, UpState)> =
        list.iter().map(|u| (u.id, u.key.clone(), u.sent, u.file.size, u.state.clone())).collect();
    drop(list);
    rsx! {
        aside { class: "uploads card", "data-testid": "upload-panel", "aria-label": "Uploads",
            div { class: "uploads-head",
                strong { "Uploads: {done_count} of {rows.len()} done" }
                span { class: "spacer" }
                button { class: "ghost", "data-testid": "upload-toggle", "aria-expanded": if collapsed() { "false" } else { "true" },
                    onclick: move |_| collapsed.set(!collapsed()), if collapsed() { "Show files" } else { "Hide files" } }
                button { class: "ghost", "data-testid": "upload-clear",
                    onclick: move |_| uploads.write().retain(|u| matches!(u.state, UpState::Queued | UpState::Uploading)), "Clear finished" }
            }
            progress { "data-testid": "upload-overall", "data-progress": "{overall.floor()}", max: "100", value: "{overall}" }
            ul { hidden: collapsed(),
                for (id, key, sent, size, state) in rows {
                    li { key: "{id}", class: "upload-item", "data-testid": "upload-item", "data-name": "{key}", "data-state": state.label(),
                        div { class: "upload-line",
                            span { class: "name", title: "{visible_name(&key)}", "{visible_name(&key)}" }
                            span { class: "muted size", "{human_size(size)}" }
                            progress { "data-testid": "upload-progress", "data-progress": "{percent(sent, size).floor()}", max: "100",
                                "aria-label": "Progress of {visible_name(&key)}",
                                value: if state == UpState::Done { "100".to_string() } else { format!("{}", percent(sent, size)) } }
                            match state.clone() {
                                UpState::Queued | UpState::Uploading => rsx! {
                                    button { class: "ghost", "data-testid": "upload-cancel", onclick: move |_| cancel_upload(ctx, id), "Cancel" }
                                },
                                UpState::Failed(_) | UpState::Cancelled => rsx! {
                                    button { class: "ghost", "data-testid": "upload-retry", onclick: move |_| retry_upload(ctx, id), "Retry" }
                                },
                                UpState::Done => rsx! { span { class: "ok status", "✓ Done" } },
                            }
                        }
                        if let UpState::Failed(err) = state.clone() {
                            p { class: "hint error", "data-testid": "upload-error", "{err}" }
                        }
                        if state == UpState::Cancelled {
                            p { class: "hint", "Cancelled." }
                        }
                    }
                }
            }
        }
    }
}

fn cancel_upload(ctx: Ctx, id: u64) {
    set_upload(ctx, id, |u| {
        u.aborter.abort();
        if u.state == UpState::Queued {
            u.state = UpState::Cancelled;
        }
    });
}

fn retry_upload(ctx: Ctx, id: u64) {
    set_upload(ctx, id, |u| {
        u.aborter = Aborter::default();
        u.sent = 0;
        u.state = UpState::Queued;
    });
    pump(ctx);
}

// ------------------------------------------------------------------------------------------------
// Access keys
// ------------------------------------------------------------------------------------------------

fn time_label(v: &serde_json::Value) -> String {
    match (unix_ms(v), v) {
        (Some(ms), _) => format_time_ms(ms),
        (None, serde_json::Value::String(s)) => s.clone(),
        _ => "—".into(),
    }
}

#[component]
fn KeysPage() -> Element {
    let ctx = use_context::<Ctx>();
    let mut reload = use_signal(|| 0u32);
    let keys = use_resource(move || async move {
        let _ = reload();
        ctx.call::<api::AccessKeys>(Method::Get, "/api/keys".into(), None).await
    });
    let mut created = use_signal(|| None::<api::NewKey>);
    let mut confirm_delete = use_signal(|| None::<String>);
    let act = move |id: String, action: &'static str| {
        spawn(async move {
            match ctx.call::<()>(Method::Post, format!("/api/keys/{}/{action}", encode(&id)), None).await {
                Ok(()) => reload += 1,
                Err(e) => ctx.error(&e),
            }
        });
    };
    let current = keys.read().clone();
    let now = platform::now_ms() as i64;
    rsx! {
        section { class: "page", "data-testid": "page-keys",
            div { class: "page-head",
                h1 { "Access keys" }
            }
            p { class: "hint", "Access keys let S3 clients (aws-cli, rclone, SDKs) act as you. Limit a key to some buckets, to reads, or in time." }
            KeyCreateForm { on_created: move |k: api::NewKey| { created.set(Some(k)); reload += 1; } }
            if let Some(k) = created() {
                NewKeyPanel { key_id: k.access_key_id.clone(), secret: k.secret_access_key.clone(),
                    scope: format!("{} · {} · expires: {}", key_buckets_label(k.buckets.as_deref()), key_access_label(k.access.as_deref()), expiry_label(unix_ms(&k.expires_at), now).0),
                    on_close: move |_| created.set(None) }
            }
            match current {
                None => rsx! { p { class: "loading", "Loading keys…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", "{e}" } },
                Some(Ok(list)) => rsx! {
                    if list.keys.is_empty() { p { class: "empty", "No access keys yet." } }
                    else {
                        table { class: "table", "data-testid": "key-table",
                            thead { tr { th { "Access key id" } th { "State" } th { "Buckets" } th { "Access" } th { class: "hide-narrow", "Created" } th { "Expires" } th { class: "actions", "Actions" } } }
                            tbody {
                                for k in list.keys.iter().cloned() {
                                    KeyRow { key: "{k.access_key_id}", access_key: k.clone(), now,
                                        on_action: move |(id, action): (String, &'static str)| act(id, action),
                                        on_delete: move |id: String| confirm_delete.set(Some(id)),
                                    }
                                }
                            }
                        }
                    }
                },
            }
            if let Some(id) = confirm_delete() {
                Modal { title: "Delete access key", on_close: move |_| confirm_delete.set(None),
                    p { "Delete the access key " strong { class: "mono", "{id}" } "? Clients using it stop working at once." }
                    div { class: "dialog-actions",
                        button { onclick: move |_| confirm_delete.set(None), "Cancel" }
                        button { class: "danger", "data-testid": "confirm-delete", onmounted: focus_on_mount, onclick: move |_| {
                            let id = id.clone();
                            confirm_delete.set(None);
                            spawn(async move {
                                match ctx.call::<()>(Method::Delete, format!("/api/keys/{}", encode(&id)), None).await {
                                    Ok(()) => reload += 1,
                                    Err(e) => ctx.error(&e),
                                }
                            });
                        }, "Delete" }
                    }
                }
            }
        }
    }
}

/// One access key in the list: its restriction (buckets, access) and expiry.
#[component]
pub(crate) fn KeyRow(
    access_key: api::AccessKey,
    now: i64,
    on_action: EventHandler<(String, &'static str)>,
    on_delete: EventHandler<String>,
) -> Element {
    let k = access_key;
    let buckets = key_buckets_label(k.buckets.as_deref());
    let access = key_access_label(k.access.as_deref());
    let read_only = k.access.as_deref() == Some("read");
    let (expiry, expired) = expiry_label(unix_ms(&k.expires_at), now);
    let (id1, id2, id3) = (k.access_key_id.clone(), k.access_key_id.clone(), k.access_key_id.clone());
    rsx! {
        tr { "data-testid": "key-row", "data-key-id": "{k.access_key_id}",
            td { class: "mono", "{k.access_key_id}" }
            td {
                if expired { span { class: "badge warn", "Expired" } }
                else if k.enabled { span { class: "badge ok", "Enabled" } }
                else { span { class: "badge", "Disabled" } }
            }
            td { class: "key-buckets", "data-testid": "key-buckets", "data-restricted": if k.buckets.is_some() { "true" } else { "false" }, "{buckets}" }
            td { "data-testid": "key-access", "data-access": if read_only { "read" } else { "readwrite" },
                span { class: if read_only { "badge" } else { "badge ok" }, "{access}" }
            }
            td { class: "hide-narrow", "{time_label(&k.created_at)}" }
            td { "data-testid": "key-expires", "data-expired": if expired { "true" } else { "false" }, "{expiry}" }
            td { class: "actions",
                if k.enabled {
                    button { "data-testid": "key-disable", onclick: move |_| on_action.call((id1.clone(), "disable")), "Disable" }
                } else {
                    button { "data-testid": "key-enable", onclick: move |_| on_action.call((id2.clone(), "enable")), "Enable" }
                }
                button { class: "danger", "data-testid": "key-delete", onclick: move |_| on_delete.call(id3.clone()), "Delete…" }
            }
        }
    }
}

/// The access-key creation form: expiry in days (optional), a restriction to some of the user's
/// buckets (optional), read-only or read-write.
#[component]
fn KeyCreateForm(on_created: EventHandler<api::NewKey>) -> Element {
    let ctx = use_context::<Ctx>();
    let mut form = use_signal(KeyForm::default);
    let mut busy = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let buckets =
        use_resource(move || async move { ctx.call::<api::Buckets>(Method::Get, "/api/buckets".into(), None).await });
    let problem = form.read().problem();
    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        let body = match form.read().body() {
            Ok(b) => b,
            Err(p) => {
                error.set(Some(p.to_string()));
                return;
            }
        };
        busy.set(true);
        error.set(None);
        spawn(async move {
            match ctx.call::<api::NewKey>(Method::Post, "/api/keys".into(), Some(body)).await {
                Ok(k) => {
                    form.set(KeyForm::default());
                    on_created.call(k);
                }
                Err(e) if e.status != 401 => error.set(Some(e.to_string())),
                Err(_) => {}
            }
            busy.set(false);
        });
    };
    let f = form.read().clone();
    let bucket_list = buckets.read().clone();
    rsx! {
        form { class: "card key-form", "data-testid": "key-form", onsubmit: submit, "aria-label": "Create an access key",
            h2 { "New access key" }
            div { class: "key-form-grid",
                label { "Expires after (days)"
                    input { "data-testid": "key-expiry-days", r#type: "number", min: "1", max: "{MAX_KEY_EXPIRY_DAYS}", step: "1",
                        inputmode: "numeric", placeholder: "never", value: "{f.expires_in_days}",
                        "aria-invalid": if form.read().expiry_days().is_err() { "true" } else { "false" },
                        oninput: move |e| form.write().expires_in_days = e.value() }
                }
                fieldset { class: "radio-row",
                    legend { "Access" }
                    label { class: "check",
                        input { r#type: "radio", name: "key-access", value: "readwrite", "data-testid": "key-access-readwrite",
                            checked: !f.read_only, onchange: move |_| form.write().read_only = false }
                        " Read & write"
                    }
                    label { class: "check",
                        input { r#type: "radio", name: "key-access", value: "read", "data-testid": "key-access-read",
                            checked: f.read_only, onchange: move |_| form.write().read_only = true }
                        " Read-only (get, list, head)"
                    }
                }
                fieldset { class: "radio-row",
                    legend { "Buckets" }
                    label { class: "check",
                        input { r#type: "radio", name: "key-scope", value: "all", "data-testid": "key-scope-all",
                            checked: !f.restrict, onchange: move |_| form.write().restrict = false }
                        " All my buckets"
                    }
                    label { class: "check",
                        input { r#type: "radio", name: "key-scope", value: "some", "data-testid": "key-scope-some",
                            checked: f.restrict, onchange: move |_| form.write().restrict = true }
                        " Only the buckets picked below"
                    }
                }
            }
            if f.restrict {
                match bucket_list {
                    None => rsx! { p { class: "loading", "Loading buckets…" } },
                    Some(Err(e)) => rsx! { div { class: "notice error", "{e}" } },
                    Some(Ok(list)) if list.buckets.is_empty() => rsx! { p { class: "hint", "You have no buckets yet." } },
                    Some(Ok(list)) => rsx! {
                        fieldset { class: "bucket-picks", "data-testid": "key-buckets-pick",
                            legend { class: "sr-only", "Buckets the key may use" }
                            for b in list.buckets.iter().map(|b| b.name.clone()) {
                                label { class: "check", key: "{b}",
                                    input { r#type: "checkbox", "data-testid": "key-bucket", value: "{b}",
                                        checked: f.buckets.contains(&b),
                                        onchange: { let b = b.clone(); move |e: FormEvent| form.write().toggle_bucket(&b, e.checked()) } }
                                    " {visible_name(&b)}"
                                }
                            }
                        }
                    },
                }
            }
            if let Some(p) = problem {
                if !form.read().expires_in_days.is_empty() || f.restrict {
                    p { class: "hint error", "data-testid": "key-form-problem", "{p}" }
                }
            }
            if let Some(err) = error() {
                div { class: "notice error", role: "alert", "data-testid": "key-form-error", "{err}" }
            }
            div { class: "form-actions",
                button { r#type: "submit", class: "primary", "data-testid": "key-create", disabled: problem.is_some() || busy(),
                    if busy() { "Creating…" } else { "Create access key" }
                }
            }
        }
    }
}

#[component]
fn NewKeyPanel(key_id: String, secret: String, scope: String, on_close: EventHandler<()>) -> Element {
    let ctx = use_context::<Ctx>();
    let cfg = ctx.config.read().clone();
    let endpoint = cfg.as_ref().map(|c| c.s3_endpoint.clone()).unwrap_or_else(|| "<S3 endpoint URL>".into());
    let region = cfg.as_ref().map(|c| c.region.clone()).filter(|r| !r.is_empty()).unwrap_or_else(|| "us-east-1".into());
    let (aws, rclone) = client_snippets(&endpoint, &region, &key_id, &secret);
    let (s1, a1, r1) = (secret.clone(), aws.clone(), rclone.clone());
    rsx! {
        div { class: "card new-key", role: "status", "data-testid": "new-key",
            h2 { "New access key" }
            p { class: "notice warning", "Copy the secret now: it is shown only once." }
            dl {
                dt { "Access key id" } dd { class: "mono", "data-testid": "new-key-id", "{key_id}" }
                dt { "Scope" } dd { "data-testid": "new-key-scope", "{scope}" }
                dt { "Secret access key" }
                dd { class: "copy-row",
                    code { class: "mono", "data-testid": "new-key-secret", "{secret}" }
                    button { "data-testid": "copy-secret", onclick: move |_| platform::copy_text(&s1), "Copy" }
                }
            }
            h3 { "aws-cli" }
            div { class: "snippet", pre { "data-testid": "snippet-aws", "{aws}" } button { onclick: move |_| platform::copy_text(&a1), "Copy" } }
            h3 { "rclone (~/.config/rclone/rclone.conf)" }
            div { class: "snippet", pre { "data-testid": "snippet-rclone", "{rclone}" } button { onclick: move |_| platform::copy_text(&r1), "Copy" } }
            button { class: "primary", "data-testid": "new-key-done", onclick: move |_| on_close.call(()), "I have saved the secret" }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Users (admins)
// ------------------------------------------------------------------------------------------------

#[derive(Clone, PartialEq)]
enum UserDialog {
    Password(api::UserRow),
    Delete(api::UserRow),
}

#[component]
fn UsersPage() -> Element {
    let ctx = use_context::<Ctx>();
    let mut reload = use_signal(|| 0u32);
    let users = use_resource(move || async move {
        let _ = reload();
        ctx.call::<api::Users>(Method::Get, "/api/users".into(), None).await
    });
    let mut name = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut role = use_signal(|| "user".to_string());
    let mut dialog = use_signal(|| None::<UserDialog>);
    let mut new_password = use_signal(String::new);
    let create = move |e: FormEvent| {
        e.prevent_default();
        spawn(async move {
            let body = json!({"name": name(), "password": password(), "role": role()});
            match ctx.call::<serde_json::Value>(Method::Post, "/api/users".into(), Some(body)).await {
                Ok(_) => {
                    ctx.info(format!("User {} created.", visible_name(&name())));
                    name.set(String::new());
                    password.set(String::new());
                    reload += 1;
                }
                Err(e) => ctx.error(&e),
            }
        });
    };
    let act = move |id: serde_json::Value, action: &'static str| {
        spawn(async move {
            match ctx.call::<()>(Method::Post, format!("/api/users/{}/{action}", api::id_segment(&id)), None).await {
                Ok(()) => reload += 1,
                Err(e) => ctx.error(&e),
            }
        });
    };
    let current = users.read().clone();
    let short = !password.read().is_empty() && password.read().chars().count() < 8;
    rsx! {
        section { class: "page", "data-testid": "page-users",
            h1 { "Users" }
            form { class: "inline-form wrap", onsubmit: create,
                input { "data-testid": "user-name-input", placeholder: "user name", "aria-label": "User name", value: "{name}", oninput: move |e| name.set(e.value()) }
                input { "data-testid": "user-password-input", r#type: "password", autocomplete: "new-password", placeholder: "password (8+ characters)", "aria-label": "Password", value: "{password}", oninput: move |e| password.set(e.value()) }
                select { "aria-label": "Role", "data-testid": "user-role", onchange: move |e| role.set(e.value()),
                    option { value: "user", selected: role() == "user", "User" }
                    option { value: "admin", selected: role() == "admin", "Admin" }
                }
                button { r#type: "submit", class: "primary", "data-testid": "user-create", disabled: name.read().is_empty() || password.read().chars().count() < 8, "Create user" }
            }
            if short { p { class: "hint error", "Passwords need at least 8 characters." } }
            match current {
                None => rsx! { p { class: "loading", "Loading users…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", "{e}" } },
                Some(Ok(list)) => rsx! {
                    table { class: "table", "data-testid": "user-table",
                        thead { tr { th { "Name" } th { "Role" } th { "State" } th { "Created" } th { class: "actions", "Actions" } } }
                        tbody {
                            for u in list.users.iter().cloned() {
                                tr { key: "{u.id}", "data-testid": "user-row", "data-user": "{u.name}",
                                    td { "{visible_name(&u.name)}" }
                                    td { "{u.role}" }
                                    td { if u.enabled { span { class: "badge ok", "Enabled" } } else { span { class: "badge", "Disabled" } } }
                                    td { "{time_label(&u.created_at)}" }
                                    td { class: "actions",
                                        if u.enabled {
                                            button { "data-testid": "user-disable", onclick: { let id = u.id.clone(); move |_| act(id.clone(), "disable") }, "Disable" }
                                        } else {
                                            button { "data-testid": "user-enable", onclick: { let id = u.id.clone(); move |_| act(id.clone(), "enable") }, "Enable" }
                                        }
                                        button { "data-testid": "user-password", onclick: { let u = u.clone(); move |_| { new_password.set(String::new()); dialog.set(Some(UserDialog::Password(u.clone()))) } }, "Reset password…" }
                                        button { class: "danger", "data-testid": "user-delete", onclick: { let u = u.clone(); move |_| dialog.set(Some(UserDialog::Delete(u.clone()))) }, "Delete…" }
                                    }
                                }
                            }
                        }
                    }
                },
            }
            match dialog() {
                None => rsx! {},
                Some(UserDialog::Password(u)) => rsx! {
                    Modal { title: "Reset password", on_close: move |_| dialog.set(None),
                        form { onsubmit: move |e: FormEvent| {
                            e.prevent_default();
                            let id = u.id.clone();
                            spawn(async move {
                                match ctx.call::<()>(Method::Post, format!("/api/users/{}/password", api::id_segment(&id)), Some(json!({"password": new_password()}))).await {
                                    Ok(()) => { ctx.info("Password changed; the user's sessions were ended."); dialog.set(None); }
                                    Err(e) => ctx.error(&e),
                                }
                            });
                        },
                            p { "New password for " strong { "{visible_name(&u.name)}" } " (their sessions end):" }
                            input { r#type: "password", autocomplete: "new-password", "data-testid": "reset-password-input", "aria-label": "New password", value: "{new_password}", onmounted: focus_on_mount, oninput: move |e| new_password.set(e.value()) }
                            div { class: "dialog-actions",
                                button { r#type: "button", onclick: move |_| dialog.set(None), "Cancel" }
                                button { r#type: "submit", class: "primary", disabled: new_password.read().chars().count() < 8, "Set password" }
                            }
                        }
                    }
                },
                Some(UserDialog::Delete(u)) => rsx! {
                    Modal { title: "Delete user", on_close: move |_| dialog.set(None),
                        p { "Delete the user " strong { "{visible_name(&u.name)}" } " and their access keys?" }
                        div { class: "dialog-actions",
                            button { onclick: move |_| dialog.set(None), "Cancel" }
                            button { class: "danger", "data-testid": "confirm-delete", onmounted: focus_on_mount, onclick: move |_| {
                                let id = u.id.clone();
                                dialog.set(None);
                                spawn(async move {
                                    match ctx.call::<()>(Method::Delete, format!("/api/users/{}", api::id_segment(&id)), None).await {
                                        Ok(()) => reload += 1,
                                        Err(e) => ctx.error(&e),
                                    }
                                });
                            }, "Delete" }
                        }
                    }
                },
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Usage
// ------------------------------------------------------------------------------------------------

#[component]
fn UsagePage() -> Element {
    let ctx = use_context::<Ctx>();
    let usage =
        use_resource(move || async move { ctx.call::<api::Usage>(Method::Get, "/api/usage".into(), None).await });
    let current = usage.read().clone();
    rsx! {
        section { class: "page", "data-testid": "page-usage",
            h1 { "Usage" }
            match current {
                None => rsx! { p { class: "loading", "Loading usage…" } },
                Some(Err(e)) => rsx! { div { class: "notice error", "{e}" } },
                Some(Ok(u)) => rsx! { UsageView { usage: u } },
            }
        }
    }
}

/// Totals and a bar chart (SVG) of bytes per bucket.
#[component]
pub(crate) fn UsageView(usage: api::Usage) -> Element {
    let max = usage.buckets.iter().map(|b| b.bytes_used).max().unwrap_or(0).max(1);
    let row_h = 28;
    let height = (usage.buckets.len() as i32 * row_h).max(row_h);
    rsx! {
        div { class: "stats",
            div { class: "stat card", span { class: "muted", "Buckets" } strong { "data-testid": "usage-buckets", "{usage.total.buckets}" } }
            div { class: "stat card", span { class: "muted", "Objects" } strong { "data-testid": "usage-objects", "{usage.total.object_count}" } }
            div { class: "stat card", span { class: "muted", "Stored" } strong { "data-testid": "usage-bytes", "{human_size(usage.total.bytes_used)}" } }
            div { class: "stat card", span { class: "muted", "Noncurrent versions" }
                strong { "data-testid": "usage-noncurrent", "{usage.total.noncurrent_count} · {human_size(usage.total.noncurrent_bytes)}" } }
        }
        svg { class: "chart", "data-testid": "usage-chart", role: "img", "aria-label": "Bytes stored per bucket",
            view_box: "0 0 600 {height}", width: "100%", preserve_aspect_ratio: "xMinYMin meet",
            for (i, b) in usage.buckets.iter().enumerate() {
                g { key: "{b.name}",
                    text { x: "0", y: "{i as i32 * row_h + 18}", class: "chart-label", "{visible_name(&b.name)}" }
                    rect { x: "180", y: "{i as i32 * row_h + 6}", height: "16", rx: "3", class: "chart-bar",
                        width: "{((b.bytes_used as f64 / max as f64) * 320.0).max(1.0)}" }
                    text { x: "{185.0 + (b.bytes_used as f64 / max as f64) * 320.0}", y: "{i as i32 * row_h + 18}", class: "chart-value", "{human_size(b.bytes_used)} · {b.object_count} obj" }
                }
            }
        }
    }
}
