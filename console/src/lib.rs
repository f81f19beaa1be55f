//! The CloudVault web console. The Dioxus app arrives with the console issue (#5).
