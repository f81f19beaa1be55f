// Starts the console: loads the wasm module (a file of its own so the Content-Security-Policy needs no
// inline script).
import init from "/cloudvault_console.js";

init({ module_or_path: "/cloudvault_console_bg.wasm" }).catch((e) => {
  document.getElementById("boot").textContent = "The console failed to start: " + e;
});
