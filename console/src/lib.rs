//! The CloudVault web console: a Dioxus app compiled to WebAssembly (`scripts/build-console`).
//!
//! It signs in against the console API (`/api/...`, relative URLs: the `cloudvault console` process
//! serves this bundle and proxies `/api` to the backend), keeps the JWT only in wasm memory, and sends
//! file bytes straight from the browser to presigned S3 URLs.
//!
//! Browser-only code sits behind `cfg(target_arch = "wasm32")` in [`platform`]; everything else builds
//! and is tested natively (`cargo test -p cloudvault-console`).

pub mod access;
pub mod api;
pub mod logic;
pub mod platform;
pub mod protection;
mod ui;

pub use ui::App;

/// Start the app in the browser (mounts on `#main`).
pub fn launch() {
    #[cfg(target_arch = "wasm32")]
    dioxus::web::launch::launch_cfg(App, dioxus::web::Config::new().rootname("main"));
}

#[cfg(test)]
mod render_tests;
