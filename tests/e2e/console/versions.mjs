// Mode "versions" of ui.mjs: a bucket's settings (versioning on, lifecycle rules added and deleted,
// object lock on with a default retention, then uploads into it, single and multipart), "Show versions" in the browser (restore and download of
// an old version, a delete marker removed), and a COMPLIANCE version whose delete the server refuses,
// with the refusal shown in the dialog. Screenshots of each view go to the artifacts folder.
//
// `h` holds ui.mjs's helpers: cfg, result, T, css, step, shot, assert, signIn, openBucket.
import path from "node:path";

function versionRow(page, h, key, versionId) {
  const sel = `${h.T("version-row")}[data-key=${h.css(key)}]`;
  return page.locator(versionId ? `${sel}[data-version=${h.css(versionId)}]` : sel);
}

async function openSettings(page, h, bucket) {
  await page.locator(h.T("nav-buckets")).click();
  const row = page.locator(`${h.T("bucket-row")}[data-bucket=${h.css(bucket)}]`);
  await row.waitFor({ timeout: 15000 });
  await row.locator(h.T("bucket-settings")).click();
  await page.locator(h.T("page-settings")).waitFor();
  await page.locator(h.T("versioning-status")).waitFor();
}

async function showVersions(page, h, bucket) {
  await h.openBucket(page, bucket);
  await page.locator(h.T("show-versions")).check();
  await page.locator(h.T("version-table")).waitFor({ timeout: 15000 });
}

async function settingsFlow(page, h) {
  const { cfg, result, T, step, shot, assert } = h;
  step("settings: enable versioning");
  await openSettings(page, h, cfg.settings_bucket);
  assert((await page.locator(T("versioning-status")).textContent()) === "Unversioned", "a new bucket is unversioned");
  assert((await page.locator(T("lock-status")).textContent()) === "Off", "object lock starts off");
  await shot(page, "01-settings-new-bucket");
  await page.locator(T("versioning-enable")).click();
  await page.locator(`${T("versioning-status")}:text-is("Enabled")`).waitFor({ timeout: 15000 });

  step("settings: add two lifecycle rules, delete one");
  await page.locator(T("rule-id")).fill("expire-logs");
  await page.locator(T("rule-prefix")).fill("logs/");
  await page.locator(T("rule-days")).fill("0");
  result.rule_problem = (await page.locator(T("rule-problem")).textContent()).trim();
  assert(await page.locator(T("rule-add")).isDisabled(), "0 days cannot be submitted");
  await page.locator(T("rule-days")).fill("30");
  await page.locator(T("rule-add")).click();
  await page.locator(`${T("rule-row")}[data-rule="expire-logs"]`).waitFor({ timeout: 15000 });
  await page.locator(T("rule-id")).fill("old-versions");
  await page.locator(T("rule-kind")).selectOption("noncurrent");
  await page.locator(T("rule-days")).fill("7");
  await page.locator(T("rule-keep")).fill("2");
  await page.locator(T("rule-add")).click();
  await page.locator(`${T("rule-row")}[data-rule="old-versions"]`).waitFor({ timeout: 15000 });
  result.rule_summaries = await page.locator(T("rule-summary")).allTextContents();
  await shot(page, "02-settings-lifecycle-rules");
  await page.locator(`${T("rule-row")}[data-rule="expire-logs"]`).locator(T("rule-delete")).click();
  await page.locator(`${T("rule-row")}[data-rule="expire-logs"]`).waitFor({ state: "detached", timeout: 15000 });

  step("settings: switch object lock on with a default retention");
  await page.locator(T("lock-mode")).selectOption("GOVERNANCE");
  await page.locator(T("lock-days")).fill("1");
  await page.locator(T("lock-save")).click();
  await page.locator(`${T("lock-status")}:text-is("On")`).waitFor({ timeout: 15000 });
  result.lock_default = (await page.locator(T("lock-default")).textContent()).trim();
  result.suspend_disabled = await page.locator(T("versioning-suspend")).isDisabled();
  await shot(page, "03-settings-locked");

  step("upload into the bucket with a default retention (each PUT carries Content-MD5)");
  await page.locator(T("settings-browse")).click();
  await page.locator(T("page-browser")).waitFor();
  await page.locator(T("upload-files")).setInputFiles(cfg.locked_uploads.map((f) => f.path));
  for (const f of cfg.locked_uploads) {
    await page.locator(`${T("object-row")}[data-key=${h.css(f.name)}]`).waitFor({ timeout: 60000 });
  }
}

async function versionsFlow(page, h) {
  const { cfg, result, T, step, shot, assert } = h;
  step("versions: list the versions of a key");
  await showVersions(page, h, cfg.versions_bucket);
  await versionRow(page, h, "report.txt").first().waitFor({ timeout: 15000 });
  result.versions_before = await versionRow(page, h, "report.txt").evaluateAll((rows) =>
    rows.map((r) => ({ id: r.dataset.version, current: !!r.querySelector('[data-testid="version-current"]') })));
  await shot(page, "04-versions");

  step("versions: download the old version");
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 20000 }),
    versionRow(page, h, "report.txt", cfg.old_version).locator(T("version-download")).click(),
  ]);
  const saved = path.join(cfg.workdir, "old-version.bin");
  await download.saveAs(saved);
  result.old_version_path = saved;

  step("versions: restore the old version");
  await versionRow(page, h, "report.txt", cfg.old_version).locator(T("version-restore")).click();
  await page.waitForFunction(
    (sel) => document.querySelectorAll(sel).length === 3,
    `${T("version-row")}[data-key="report.txt"]`, { timeout: 15000 });
  result.versions_after = await versionRow(page, h, "report.txt").evaluateAll((rows) =>
    rows.map((r) => ({ id: r.dataset.version, current: !!r.querySelector('[data-testid="version-current"]') })));
  result.restore_notice = (await page.locator(T("notice")).textContent()).trim();
  await shot(page, "05-version-restored");

  step("versions: remove a delete marker");
  const marker = versionRow(page, h, "gone.txt", cfg.marker_version);
  assert((await marker.locator(T("version-marker")).count()) === 1, "the marker row says so");
  await marker.locator(T("version-delete")).click();
  await page.locator(T("confirm-delete")).click();
  await marker.waitFor({ state: "detached", timeout: 15000 });
  await page.locator(T("show-versions")).uncheck();
  await page.locator(`${T("object-row")}[data-key="gone.txt"]`).waitFor({ timeout: 15000 });
  result.gone_back = true;
}

async function lockedFlow(page, h) {
  const { cfg, result, T, step, shot } = h;
  step("versions: a COMPLIANCE version cannot be deleted, and the dialog says why");
  await showVersions(page, h, cfg.locked_bucket);
  await versionRow(page, h, "ledger", cfg.locked_version).locator(T("version-delete")).click();
  await page.locator(T("dialog-retention")).waitFor({ timeout: 15000 });
  result.dialog_retention = (await page.locator(T("dialog-retention")).textContent()).trim();
  await page.locator(T("confirm-delete")).click();
  await page.locator(T("version-delete-error")).waitFor({ timeout: 15000 });
  result.locked_error = (await page.locator(T("version-delete-error")).textContent()).trim();
  await shot(page, "06-version-locked");
  await page.locator(T("dialog-cancel")).click();
  result.locked_rows = await versionRow(page, h, "ledger").count();
}

export async function versions(browser, h) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  h.result.page_errors = [];
  page.on("pageerror", (e) => h.result.page_errors.push(String(e)));
  await h.signIn(page);
  await settingsFlow(page, h);
  await versionsFlow(page, h);
  await lockedFlow(page, h);
  await context.close();
}
