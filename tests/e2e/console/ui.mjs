// Drives the CloudVault console in Debian's chromium with playwright-core (no browser download).
// Called by tests/e2e/test_console_ui.py with one JSON argument; prints one JSON line (prefixed
// "RESULT ") with what it observed, and exits non-zero on the first failed step.
//
//   mode "flow":      the whole user journey (sign in → buckets → uploads → folders → previews →
//                     download → share → hostile name → restricted access key → folder delete →
//                     pages → sign out → a new user changes their password)
//   mode "bigfolder": time from the click on a 20,000-object folder to its first row; paging.
//   mode "expiry":    a short session ends by itself, back on the sign-in page.
//   mode "versions":  bucket settings, versions, restore, a locked version (versions.mjs).
//   mode "access":    a bucket's access page: ownership, policy editor, Block Public Access, ACL (access.mjs).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { versions } from "./versions.mjs";
import { access } from "./access.mjs";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const result = { steps: [] };
const T = (id) => `[data-testid="${id}"]`;
const css = (s) => JSON.stringify(s); // attribute value quoting for CSS selectors

function step(name) {
  result.steps.push(name);
  console.error(`[ui.mjs] ${name}`);
}

async function shot(page, name) {
  fs.mkdirSync(cfg.artifacts, { recursive: true });
  await page.screenshot({ path: path.join(cfg.artifacts, `${cfg.mode}-${name}.png`), fullPage: true });
}

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

async function signIn(page) {
  await page.goto(cfg.console, { waitUntil: "load" });
  await page.locator(T("login-username")).waitFor({ timeout: 20000 });
  await shot(page, "01-sign-in");
  await page.locator(T("login-username")).fill(cfg.username);
  await page.locator(T("login-password")).fill(cfg.password);
  await page.locator(T("login-submit")).click();
  await page.locator(T("page-buckets")).waitFor({ timeout: 15000 });
}

// Sign in on the sign-in page already shown. With `expectOk` waits for the buckets page, otherwise
// for the sign-in error (and answers its text).
async function signInAs(page, username, password, expectOk) {
  await page.locator(T("login-username")).fill(username);
  await page.locator(T("login-password")).fill(password);
  await page.locator(T("login-submit")).click();
  if (expectOk) {
    await page.locator(T("page-buckets")).waitFor({ timeout: 15000 });
    return "";
  }
  await page.locator(T("login-error")).waitFor({ timeout: 15000 });
  await page.waitForTimeout(300);
  assert((await page.locator(T("page-buckets")).count()) === 0, `${username} signed in with a wrong password`);
  return (await page.locator(T("login-error")).textContent()).trim();
}

// The text preview of `key` in the details panel: its text, tag and how many elements it holds.
async function previewText(page, key) {
  await objectRow(page, key).locator(T("object-link")).click();
  await page.locator(`${T("details")} h2`, { hasText: key }).waitFor();
  await page.locator(T("details-preview")).click();
  const pre = page.locator(T("preview-text"));
  await pre.waitFor({ timeout: 15000 });
  return pre.evaluate((el) => ({ text: el.textContent, tag: el.tagName, children: el.children.length }));
}

async function openBucket(page, bucket) {
  await page.locator(T("nav-buckets")).click();
  const row = page.locator(`${T("bucket-row")}[data-bucket=${css(bucket)}]`);
  await row.waitFor({ timeout: 15000 });
  await row.locator(T("bucket-open")).click();
  await page.locator(T("page-browser")).waitFor();
}

function objectRow(page, key) {
  return page.locator(`${T("object-row")}[data-key=${css(key)}]`);
}

async function flow(browser) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const dialogs = [];
  page.on("dialog", async (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // Anything the Content-Security-Policy blocks is reported on the console as an error.
  const cspViolations = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  let token = null;
  page.on("request", (r) => {
    const auth = r.headers()["authorization"];
    if (auth && auth.startsWith("Bearer ")) token = auth.slice(7);
  });

  step("sign in");
  await signIn(page);
  assert(token, "no bearer token seen on API requests after sign-in");
  const storage = await page.evaluate(() => JSON.stringify({ l: { ...localStorage }, s: { ...sessionStorage }, c: document.cookie }));
  assert(!storage.includes(token), "the token was written to web storage or cookies");
  assert((await context.cookies()).length === 0, "the console set cookies");
  result.storage = storage;

  step("bucket name rules are explained inline");
  await page.locator(T("bucket-name-input")).fill("Bad_Name");
  await page.locator(`${T("bucket-name-hint")}.error`).waitFor();
  assert(await page.locator(T("bucket-create")).isDisabled(), "create enabled for an invalid name");

  step("create a bucket");
  await page.locator(T("bucket-name-input")).fill(cfg.bucket);
  await page.locator(T("bucket-create")).click();
  await page.locator(`${T("bucket-row")}[data-bucket=${css(cfg.bucket)}]`).waitFor({ timeout: 15000 });
  await shot(page, "02-buckets");

  step("open the bucket");
  await openBucket(page, cfg.bucket);
  await page.locator(T("empty-folder")).waitFor();

  step("upload three files at once (one of 30 MiB), watching its progress bar");
  // Record every value the big file's progress bar takes (attribute mutations, in the page).
  await page.evaluate((bigName) => {
    window.__progress = [];
    new MutationObserver((records) => {
      for (const r of records) {
        const item = r.target.closest && r.target.closest('[data-testid="upload-item"]');
        if (item && item.dataset.name === bigName && r.target.dataset.testid === "upload-progress") {
          window.__progress.push(Number(r.target.dataset.progress));
        }
      }
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["data-progress"] });
  }, cfg.big_name);
  // Throttle uploads so the 30 MiB transfer takes a few seconds on loopback.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 12 * 1024 * 1024,
  });
  // Count the part PUTs in flight at once (presigned part URLs carry `partNumber=`), in the page.
  // A PUT stops counting at its load/error/abort event, through a listener added in open(), so before
  // the console's own onload (which may start the next part right away); Playwright's
  // requestfinished, or loadend, come after that and make even one-by-one parts look overlapped.
  await page.evaluate(() => {
    const parts = (window.__parts = { now: 0, max: 0, total: 0 });
    const { open, send } = XMLHttpRequest.prototype;
    XMLHttpRequest.prototype.open = function (method, url, ...rest) {
      this.__part = method === "PUT" && String(url).includes("partNumber=");
      const fail = window.__failPart;
      if (this.__part && fail && fail.failed === 0 && new URL(url).searchParams.get("partNumber") === fail.number) {
        const spoiled = String(url).replace(/X-Amz-Signature=[0-9a-fA-F]+/, `X-Amz-Signature=${"0".repeat(64)}`);
        if (spoiled !== String(url)) {
          fail.failed += 1;
          url = spoiled;
        }
      }
      if (this.__part) {
        const ended = () => {
          if (this.__flying) {
            this.__flying = false;
            parts.now -= 1;
          }
        };
        for (const ev of ["load", "error", "abort", "timeout"]) this.addEventListener(ev, ended);
      }
      return open.call(this, method, url, ...rest);
    };
    XMLHttpRequest.prototype.send = function (body) {
      if (this.__part) {
        this.__flying = true;
        parts.now += 1;
        parts.total += 1;
        parts.max = Math.max(parts.max, parts.now);
      }
      return send.call(this, body);
    };
  });
  const uploadStart = Date.now();
  await page.locator(T("upload-files")).setInputFiles(cfg.files.map((f) => f.path));
  await page.locator(T("upload-panel")).waitFor();
  await page.waitForTimeout(700);
  await shot(page, "03-uploading");
  await page.locator(`${T("upload-item")}[data-name=${css(cfg.big_name)}][data-state="done"]`).waitFor({ timeout: 120000 });
  result.big_upload_ms = Date.now() - uploadStart;
  console.error(`[ui.mjs] 30 MiB upload took ${result.big_upload_ms} ms`);
  for (const f of cfg.files) {
    await page.locator(`${T("upload-item")}[data-name=${css(f.name)}][data-state="done"]`).waitFor({ timeout: 120000 });
  }
  const parts = await page.evaluate(() => window.__parts);
  result.max_parts_in_flight = parts.max;
  console.error(`[ui.mjs] at most ${parts.max} of ${parts.total} part PUTs in flight at once`);
  assert(parts.total === 4, `the 30 MiB file should go up as 4 part PUTs: ${JSON.stringify(parts)}`);
  assert(parts.max > 1, `the parts of the 30 MiB file never overlapped: ${JSON.stringify(parts)}`);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  result.progress = await page.evaluate(() => window.__progress);
  for (const f of cfg.files) {
    await objectRow(page, f.name).waitFor({ timeout: 15000 });
  }

  step("upload a folder");
  await page.locator(T("upload-folder")).setInputFiles(cfg.folder);
  for (const rel of cfg.folder_files) {
    await page.locator(`${T("upload-item")}[data-name=${css(rel)}][data-state="done"]`).waitFor({ timeout: 60000 });
  }
  const folderPrefix = `${path.basename(cfg.folder)}/`;
  await page.locator(`${T("folder-row")}[data-prefix=${css(folderPrefix)}]`).waitFor({ timeout: 15000 });
  await shot(page, "04-browser");

  step("open the folder, a sub-folder, and back up by breadcrumb");
  await page.locator(`${T("folder-row")}[data-prefix=${css(folderPrefix)}] ${T("folder-link")}`).click();
  const sub = cfg.folder_files.find((f) => f.split("/").length > 2);
  const subPrefix = sub.split("/").slice(0, 2).join("/") + "/";
  await page.locator(`${T("folder-row")}[data-prefix=${css(subPrefix)}] ${T("folder-link")}`).click();
  await objectRow(page, sub).waitFor();
  await page.locator(`${T("breadcrumb")}[data-prefix=${css(folderPrefix)}]`).click();
  await page.locator(`${T("folder-row")}[data-prefix=${css(subPrefix)}]`).waitFor();
  const direct = cfg.folder_files.find((f) => f.split("/").length === 2);
  await objectRow(page, direct).waitFor();
  result.breadcrumbs = await page.locator(T("breadcrumb")).allTextContents();
  await shot(page, "05-folder");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "05-folder-phone");
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.locator(`${T("breadcrumb")}[data-prefix=""]`).click();
  await objectRow(page, cfg.download.name).waitFor();

  step("details panel");
  await objectRow(page, cfg.download.name).locator(T("object-link")).click();
  await page.locator(`${T("details-etag")}`).waitFor();
  result.details_etag = await page.locator(T("details-etag")).textContent();
  // Text previews are fetched from the presigned inline URL (S3 origin) and shown as a text node.
  const previewUrls = [];
  const onRequest = (r) => { if (r.url().startsWith(cfg.s3_endpoint)) previewUrls.push(r.url()); };
  page.on("request", onRequest);
  await page.locator(T("details-preview")).click();
  const pre = page.locator(T("preview-text"));
  await pre.waitFor({ timeout: 15000 });
  result.preview = await pre.evaluate((el) => ({ text: el.textContent, tag: el.tagName, children: el.children.length }));
  assert((await page.locator(`${T("details")} iframe`).count()) === 0, "a text preview used an iframe");
  await shot(page, "06-details");

  step("a UTF-8 text file previews as UTF-8");
  await page.locator(T("upload-files")).setInputFiles([cfg.utf8.path]);
  await page.locator(`${T("upload-item")}[data-name=${css(cfg.utf8.name)}][data-state="done"]`).waitFor({ timeout: 30000 });
  await objectRow(page, cfg.utf8.name).waitFor({ timeout: 15000 });
  result.utf8_preview = await previewText(page, cfg.utf8.name);
  page.off("request", onRequest);
  result.preview_urls = previewUrls;
  await shot(page, "06-details-utf8");

  step("a PDF opens in a new tab on the S3 origin");
  await page.locator(T("upload-files")).setInputFiles([cfg.pdf.path]);
  await page.locator(`${T("upload-item")}[data-name=${css(cfg.pdf.name)}][data-state="done"]`).waitFor({ timeout: 30000 });
  await objectRow(page, cfg.pdf.name).locator(T("object-link")).click();
  await page.locator(`${T("details")} h2`, { hasText: cfg.pdf.name }).waitFor();
  const [pdfTab] = await Promise.all([
    context.waitForEvent("page", { timeout: 15000 }),
    page.locator(T("details-preview")).click(),
  ]);
  result.pdf_tab_url = pdfTab.url() === "about:blank" ? (await pdfTab.waitForURL(/^http/, { timeout: 15000 }).then(() => pdfTab.url())) : pdfTab.url();
  result.pdf_tab_opener = await pdfTab.evaluate(() => window.opener === null).catch(() => "unknown");
  await pdfTab.close();
  const pdfLink = page.locator(T("preview-pdf-link"));
  await pdfLink.waitFor();
  result.pdf_link = { href: await pdfLink.getAttribute("href"), rel: await pdfLink.getAttribute("rel"), target: await pdfLink.getAttribute("target") };

  step("create a folder");
  await page.locator(T("new-folder")).click();
  await page.locator(T("new-folder-name")).fill("a/b");
  assert(await page.locator(T("new-folder-create")).isDisabled(), "a folder name with / accepted");
  await page.locator(T("new-folder-name")).fill(cfg.new_folder);
  await page.locator(T("new-folder-create")).click();
  await page.locator(`${T("breadcrumb")}[data-prefix=${css(cfg.new_folder + "/")}]`).waitFor({ timeout: 15000 });
  await page.locator(`${T("breadcrumb")}[data-prefix=""]`).click();
  await page.locator(`${T("folder-row")}[data-prefix=${css(cfg.new_folder + "/")}]`).waitFor({ timeout: 15000 });

  step("download a file");
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 20000 }),
    objectRow(page, cfg.download.name).locator(T("object-download")).click(),
  ]);
  const saved = path.join(cfg.workdir, "downloaded.bin");
  await download.saveAs(saved);
  result.download_path = saved;

  step("share link, opened in a fresh context without a session");
  await objectRow(page, cfg.download.name).locator(T("object-share")).click();
  await page.locator(T("share-expiry")).selectOption("3600");
  await page.locator(T("share-create")).click();
  await page.locator(T("share-url")).waitFor();
  const shareUrl = await page.locator(T("share-url")).inputValue();
  result.share_url = shareUrl;
  await shot(page, "07-share");
  await page.keyboard.press("Escape");
  await page.locator(T("dialog")).waitFor({ state: "detached" });
  const fresh = await browser.newContext({ acceptDownloads: true });
  const freshPage = await fresh.newPage();
  const [shared] = await Promise.all([
    freshPage.waitForEvent("download", { timeout: 20000 }),
    freshPage.goto(shareUrl).catch(() => {}), // a download aborts the navigation
  ]);
  const sharedPath = path.join(cfg.workdir, "shared.bin");
  await shared.saveAs(sharedPath);
  result.share_path = sharedPath;
  await fresh.close();

  step("the hostile name is shown as text and runs nothing");
  const hostile = objectRow(page, cfg.hostile_name);
  await hostile.waitFor();
  result.hostile_text = await hostile.locator(T("object-link")).textContent();
  result.injected_imgs = await page.evaluate(() => document.querySelectorAll('img[src="x"], img[src$="/x"]').length);
  await hostile.locator(T("object-link")).click();
  await page.locator(T("details-etag")).waitFor();
  result.hostile_details = await page.locator(`${T("details")} h2`).textContent();
  await page.locator(T("details-preview")).click();
  await page.locator(T("preview-text")).waitFor({ timeout: 15000 });
  result.hostile_preview = await page.locator(T("preview-text")).evaluate((el) => ({ text: el.textContent, children: el.children.length }));

  step("make the bucket public: warning banner");
  await page.locator(T("nav-buckets")).click();
  const bucketRow = page.locator(`${T("bucket-row")}[data-bucket=${css(cfg.bucket)}]`);
  await bucketRow.locator(T("bucket-public-toggle")).click();
  await page.locator(T("confirm-public")).click();
  await page.locator(T("public-warning")).waitFor({ timeout: 15000 });
  await bucketRow.locator(T("bucket-public")).waitFor();
  result.public_warning = await page.locator(T("public-warning")).textContent();
  await shot(page, "08-public-bucket");

  step("delete a non-empty bucket with 'delete everything'");
  const doomed = `${cfg.bucket}-tmp`;
  await page.locator(T("bucket-name-input")).fill(doomed);
  await page.locator(T("bucket-create")).click();
  await openBucket(page, doomed);
  await page.locator(T("upload-files")).setInputFiles([cfg.download.path]);
  await objectRow(page, cfg.download.name).waitFor({ timeout: 30000 });

  step("drag and drop a file");
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(["dropped bytes\n"], "dropped\u202Etxt.exe", { type: "text/plain" }));
    return d;
  });
  await page.locator(T("page-browser")).dispatchEvent("dragover", { dataTransfer: dt });
  await page.locator(T("page-browser")).dispatchEvent("drop", { dataTransfer: dt });
  await objectRow(page, "dropped\u202Etxt.exe").waitFor({ timeout: 30000 });
  result.bidi_text = await objectRow(page, "dropped\u202Etxt.exe").locator(T("object-link")).textContent();
  assert(result.bidi_text.includes("dropped<U+202E>txt.exe"), `bidi override not made visible: ${JSON.stringify(result.bidi_text)}`);
  assert(!result.bidi_text.includes("\u202E"), "raw U+202E displayed");

  step("cancel a big upload, then retry it");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
  const bigPath = cfg.files.find((f) => f.name === cfg.big_name).path;
  await page.locator(T("upload-files")).setInputFiles([bigPath]);
  const bigItem = page.locator(`${T("upload-item")}[data-name=${css(cfg.big_name)}]`).last();
  await bigItem.locator(`${T("upload-progress")}:not([data-progress="0"])`).waitFor({ timeout: 30000 });
  await bigItem.locator(T("upload-cancel")).click();
  await page.locator(`${T("upload-item")}[data-name=${css(cfg.big_name)}][data-state="cancelled"]`).waitFor({ timeout: 15000 });
  await page.waitForTimeout(300);
  assert((await objectRow(page, cfg.big_name).count()) === 0, "a cancelled upload shows up as an object");
  const afterCancel = await page.evaluate(() => window.__parts);
  assert(afterCancel.now === 0, `part PUTs still in flight after Cancel: ${JSON.stringify(afterCancel)}`);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  // The retried upload's part 2 fails once (its presigned signature is spoiled, so the S3 endpoint
  // refuses it): the part is retried with a fresh URL and the file still completes. (page.route does
  // not see XHRs with Blob bodies, so the failure is injected in the page.)
  await page.evaluate(() => { window.__failPart = { number: "2", failed: 0 }; });
  // The first upload of this file is listed as done too: wait for one more done item (the retried one).
  const bigDone = `${T("upload-item")}[data-name=${css(cfg.big_name)}][data-state="done"]`;
  const doneBefore = await page.locator(bigDone).count();
  await page.locator(`${T("upload-item")}[data-name=${css(cfg.big_name)}][data-state="cancelled"] ${T("upload-retry")}`).click();
  await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length > n, [bigDone, doneBefore], { timeout: 120000 });
  const failPart = await page.evaluate(() => window.__failPart);
  assert(failPart.failed === 1, `the injected part failure did not happen: ${JSON.stringify(failPart)}`);
  result.part_retried = true;
  await objectRow(page, cfg.big_name).waitFor({ timeout: 15000 });
  await shot(page, "09-cancel-retry");

  await page.locator(T("nav-buckets")).click();
  const doomedRow = page.locator(`${T("bucket-row")}[data-bucket=${css(doomed)}]`);
  await doomedRow.locator(`${T("bucket-count")}`, { hasText: "3" }).waitFor();
  await doomedRow.locator(T("bucket-delete")).click();
  assert((await page.locator(`${T("dialog")} ${T("delete-count")}`).textContent()) === "3", "bucket delete dialog count");
  assert(await page.locator(`${T("dialog")} ${T("confirm-delete")}`).isDisabled(), "delete everything enabled before typing the count");
  await page.locator(T("confirm-count-input")).fill("3");
  await shot(page, "09-delete-bucket");
  result.doomed_uploads_done = true;
  await page.locator(`${T("dialog")} ${T("confirm-delete")}`).click();
  await doomedRow.waitFor({ state: "detached", timeout: 15000 });
  result.deleted_bucket = doomed;

  step("create a read-only access key restricted to the bucket, expiring in 30 days");
  await page.locator(T("nav-keys")).click();
  await page.locator(T("key-form")).waitFor();
  await page.locator(T("key-expiry-days")).fill("0");
  await page.locator(T("key-form-problem")).waitFor();
  assert(await page.locator(T("key-create")).isDisabled(), "create enabled with 0 days");
  await page.locator(T("key-expiry-days")).fill("30");
  await page.locator(T("key-access-read")).check();
  await page.locator(T("key-scope-some")).check();
  await page.locator(T("key-buckets-pick")).waitFor({ timeout: 15000 });
  assert(await page.locator(T("key-create")).isDisabled(), "create enabled for a restriction to no bucket");
  await page.locator(`${T("key-bucket")}[value=${css(cfg.bucket)}]`).check();
  await shot(page, "10-key-form");
  await page.locator(T("key-create")).click();
  await page.locator(T("new-key-secret")).waitFor();
  result.key_id = (await page.locator(T("new-key-id")).textContent()).trim();
  result.secret = (await page.locator(T("new-key-secret")).textContent()).trim();
  result.snippet_aws = await page.locator(T("snippet-aws")).textContent();
  result.new_key_scope = (await page.locator(T("new-key-scope")).textContent()).trim();
  assert(result.new_key_scope.startsWith(`${cfg.bucket} · Read-only · expires: `), `new key scope: ${result.new_key_scope}`);
  await shot(page, "10-keys");
  await page.locator(T("new-key-done")).click();
  const keyRow = page.locator(`${T("key-row")}[data-key-id=${css(result.key_id)}]`);
  await keyRow.waitFor();
  result.key_row = {
    buckets: (await keyRow.locator(T("key-buckets")).textContent()).trim(),
    restricted: await keyRow.locator(T("key-buckets")).getAttribute("data-restricted"),
    access: await keyRow.locator(T("key-access")).getAttribute("data-access"),
    access_text: (await keyRow.locator(T("key-access")).textContent()).trim(),
    expires: (await keyRow.locator(T("key-expires")).textContent()).trim(),
  };
  assert(result.key_row.buckets === cfg.bucket && result.key_row.restricted === "true", `key row buckets: ${JSON.stringify(result.key_row)}`);
  assert(result.key_row.access === "read" && result.key_row.access_text === "Read-only", `key row access: ${JSON.stringify(result.key_row)}`);
  assert(/\(in 30 days\)$/.test(result.key_row.expires), `key row expiry: ${JSON.stringify(result.key_row)}`);

  step("delete a folder after the confirmation");
  await openBucket(page, cfg.bucket);
  await page.locator(`${T("folder-row")}[data-prefix=${css(folderPrefix)}] ${T("folder-delete")}`).click();
  await page.locator(`${T("dialog")} ${T("delete-count")}`).waitFor({ timeout: 15000 });
  result.folder_delete_count = Number(await page.locator(`${T("dialog")} ${T("delete-count")}`).textContent());
  await shot(page, "11-delete-folder");
  await page.locator(`${T("dialog")} ${T("confirm-delete")}`).click();
  await page.locator(`${T("folder-row")}[data-prefix=${css(folderPrefix)}]`).waitFor({ state: "detached", timeout: 15000 });

  step("usage and users pages");
  await page.locator(T("nav-usage")).click();
  await page.locator(T("usage-chart")).waitFor({ timeout: 15000 });
  await shot(page, "12-usage");
  await page.locator(T("nav-users")).click();
  await page.locator(T("user-table")).waitFor({ timeout: 15000 });
  await page.locator(T("user-name-input")).fill(cfg.new_user);
  await page.locator(T("user-password-input")).fill(cfg.new_user_password);
  await page.locator(T("user-create")).click();
  await page.locator(`${T("user-row")}[data-user=${css(cfg.new_user)}]`).waitFor({ timeout: 15000 });
  await shot(page, "13-users");

  step("dark theme");
  await page.locator(T("theme-toggle")).click();
  await page.locator(T("nav-buckets")).click();
  await page.locator(T("bucket-table")).waitFor();
  await shot(page, "14-buckets-dark");
  await page.locator(T("theme-toggle")).click();

  step("sign out");
  result.token = token;
  await page.locator(T("sign-out")).click();
  await page.locator(T("login-form")).waitFor();
  await shot(page, "15-signed-out");

  step("the new user changes their password; the session goes on");
  await signInAs(page, cfg.new_user, cfg.new_user_password, true);
  const before = token;
  await page.locator(T("change-password")).click();
  await page.locator(T("password-current")).fill("not-the-password");
  await page.locator(T("password-new")).fill("short");
  await page.locator(T("password-hint")).waitFor();
  assert(await page.locator(T("password-submit")).isDisabled(), "a 5-character password accepted");
  await page.locator(T("password-new")).fill(cfg.new_user_password2);
  await page.locator(T("password-confirm")).fill(cfg.new_user_password2 + "x");
  await page.locator(T("password-hint")).waitFor();
  await page.locator(T("password-confirm")).fill(cfg.new_user_password2);
  await page.locator(T("password-submit")).click();
  await page.locator(T("password-error")).waitFor({ timeout: 15000 });
  result.password_wrong_error = (await page.locator(T("password-error")).textContent()).trim();
  await shot(page, "16-password-wrong");
  await page.locator(T("password-current")).fill(cfg.new_user_password);
  await page.locator(T("password-submit")).click();
  await page.locator(T("dialog")).waitFor({ state: "detached", timeout: 15000 });
  result.password_notice = (await page.locator(T("notice")).textContent()).trim();
  await page.locator(T("nav-keys")).click();
  await page.locator(T("key-form")).waitFor();
  await page.locator(`${T("page-keys")} .empty, ${T("key-table")}`).first().waitFor({ timeout: 15000 });
  await page.locator(T("nav-buckets")).click();
  await page.locator(T("page-buckets")).waitFor();
  await page.waitForTimeout(500);
  assert((await page.locator(T("login-form")).count()) === 0, "the session ended after the password change");
  const after = token;
  assert(after && after !== before, "the console did not switch to the new token");
  result.password_tokens = await page.evaluate(async ([a, b]) => {
    const me = async (t) => (await fetch("/api/me", { headers: { Authorization: `Bearer ${t}` } })).status;
    return { old: await me(a), new: await me(b) };
  }, [before, after]);
  result.whoami_after_change = (await page.locator(T("whoami")).textContent()).trim();
  await page.locator(T("sign-out")).click();
  await page.locator(T("login-form")).waitFor();
  step("the old password no longer signs in; the new one does");
  result.old_password_error = await signInAs(page, cfg.new_user, cfg.new_user_password, false);
  await signInAs(page, cfg.new_user, cfg.new_user_password2, true);
  result.new_password_signs_in = true;
  await shot(page, "17-password-changed");
  await page.locator(T("sign-out")).click();
  await page.locator(T("login-form")).waitFor();

  result.dialogs = dialogs;
  result.page_errors = pageErrors;
  result.csp_violations = cspViolations;
  await context.close();
}

async function bigFolder(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  let token = null;
  page.on("request", (r) => {
    const auth = r.headers()["authorization"];
    if (auth && auth.startsWith("Bearer ")) token = auth.slice(7);
  });
  step("sign in and open the bucket");
  await signIn(page);
  await openBucket(page, cfg.bucket);
  const link = page.locator(`${T("folder-row")}[data-prefix=${css(cfg.prefix)}] ${T("folder-link")}`);
  await link.waitFor({ timeout: 15000 });
  step("open the 20,000-object folder, timing the first row");
  await page.evaluate(() => {
    window.__t0 = null;
    window.__t1 = null;
    document.addEventListener("click", () => { if (window.__t0 === null) window.__t0 = performance.now(); }, { capture: true });
    new MutationObserver(() => {
      if (window.__t0 !== null && window.__t1 === null && document.querySelector('[data-testid="object-row"]')) {
        window.__t1 = performance.now();
      }
    }).observe(document.body, { subtree: true, childList: true });
  });
  await link.click();
  await page.locator(T("object-row")).first().waitFor({ timeout: 10000 });
  result.first_page_ms = await page.evaluate(() => window.__t1 - window.__t0);
  result.page1_rows = await page.locator(T("object-row")).count();
  result.page1_first = await page.locator(T("object-row")).first().getAttribute("data-key");
  await shot(page, "01-big-folder");
  step("sort within the page");
  await page.locator(T("sort-name")).click();
  await page.waitForFunction((k) => document.querySelector('[data-testid="object-row"]')?.dataset.key !== k, result.page1_first);
  result.page1_first_descending = await page.locator(T("object-row")).first().getAttribute("data-key");
  await page.locator(T("sort-name")).click();
  await page.waitForFunction((k) => document.querySelector('[data-testid="object-row"]')?.dataset.key === k, result.page1_first);
  step("Next, Next, Previous");
  const firstKey = async () => page.locator(T("object-row")).first().getAttribute("data-key");
  await page.locator(T("page-next")).click();
  await page.locator(T("page-number"), { hasText: "Page 2" }).waitFor();
  await page.waitForFunction((k) => document.querySelector('[data-testid="object-row"]')?.dataset.key !== k, result.page1_first);
  result.page2_first = await firstKey();
  result.page2_rows = await page.locator(T("object-row")).count();
  await page.locator(T("page-next")).click();
  await page.locator(T("page-number"), { hasText: "Page 3" }).waitFor();
  await page.waitForFunction((k) => document.querySelector('[data-testid="object-row"]')?.dataset.key !== k, result.page2_first);
  result.page3_first = await firstKey();
  await page.locator(T("page-prev")).click();
  await page.locator(T("page-number"), { hasText: "Page 2" }).waitFor();
  await page.waitForFunction((k) => document.querySelector('[data-testid="object-row"]')?.dataset.key === k, result.page2_first);
  result.back_to_page2_first = await firstKey();
  step("server-side search within the folder");
  await page.locator(T("search-input")).fill(cfg.search);
  await page.locator(T("search-submit")).click();
  await page.waitForFunction(
    (s) => {
      const rows = [...document.querySelectorAll('[data-testid="object-row"]')];
      return rows.length > 0 && rows.every((r) => r.dataset.key.includes(s));
    },
    cfg.search,
    { timeout: 10000 },
  );
  result.search_rows = await page.locator(T("object-row")).count();
  await shot(page, "02-big-folder-search");

  step("a session ended elsewhere returns to the sign-in page with a message");
  const status = await page.evaluate(async (t) => (await fetch("/api/logout", { method: "POST", headers: { Authorization: `Bearer ${t}` } })).status, token);
  assert(status === 204, `logout answered ${status}`);
  await page.locator(T("search-clear")).click();
  await page.locator(T("login-form")).waitFor({ timeout: 10000 });
  result.expired_notice = await page.locator(T("notice")).textContent();
  await shot(page, "03-session-ended");
  await context.close();
}

async function expiry(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  step("sign in with a short session and wait");
  await signIn(page);
  const t0 = Date.now();
  await page.locator(T("login-form")).waitFor({ timeout: 20000 });
  result.signed_out_after_ms = Date.now() - t0;
  result.expired_notice = await page.locator(T("notice")).textContent();
  await shot(page, "01-session-expired");
  await context.close();
}

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
let failed = null;
try {
  if (cfg.mode === "flow") await flow(browser);
  else if (cfg.mode === "bigfolder") await bigFolder(browser);
  else if (cfg.mode === "expiry") await expiry(browser);
  else if (cfg.mode === "versions") await versions(browser, { cfg, result, T, css, step, shot, assert, signIn, openBucket });
  else if (cfg.mode === "access") await access(browser, { cfg, result, T, css, step, shot, assert, signIn, openBucket });
  else throw new Error(`unknown mode ${cfg.mode}`);
} catch (e) {
  failed = e;
  result.error = String(e && e.stack ? e.stack : e);
  for (const ctx of browser.contexts()) {
    for (const p of ctx.pages()) {
      await p.screenshot({ path: path.join(cfg.artifacts, `${cfg.mode}-failure.png`), fullPage: true }).catch(() => {});
    }
  }
} finally {
  await browser.close();
}
console.log("RESULT " + JSON.stringify(result));
process.exit(failed ? 1 : 0);
