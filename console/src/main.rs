//! Entry point of the wasm bundle (`scripts/build-console`); natively it only explains that.

fn main() {
    #[cfg(target_arch = "wasm32")]
    cloudvault_console::launch();
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("cloudvault-console is a browser app: build it with scripts/build-console");
}
