// Mode "access" of ui.mjs: a bucket's access page. Ownership switched to ObjectWriter (ACLs on), a
// policy that does not parse (the editor's own check), one the server refuses (its message shown), a
// public policy saved, Block Public Access turned on (the warning shown), a public policy then refused
// with the server's answer, and a canned ACL set. Screenshots of each view go to the artifacts folder.
//
// `h` holds ui.mjs's helpers: cfg, result, T, css, step, shot, assert, signIn, openBucket.

async function openAccess(page, h, bucket) {
  await page.locator(h.T("nav-buckets")).click();
  const row = page.locator(`${h.T("bucket-row")}[data-bucket=${h.css(bucket)}]`);
  await row.waitFor({ timeout: 15000 });
  await row.locator(h.T("bucket-access")).click();
  await page.locator(h.T("page-access")).waitFor();
  await page.locator(h.T("policy-state")).waitFor({ timeout: 15000 });
}

async function textOf(page, h, id) {
  return (await page.locator(h.T(id)).textContent()).trim();
}

export async function access(browser, h) {
  const { cfg, result, T, step, shot, assert } = h;
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  result.page_errors = [];
  page.on("pageerror", (e) => result.page_errors.push(String(e)));
  await h.signIn(page);

  step("access: the defaults of a new bucket");
  await openAccess(page, h, cfg.bucket);
  result.initial = {
    acls: await textOf(page, h, "acls-state"),
    bpa: await textOf(page, h, "bpa-state"),
    policy: await textOf(page, h, "policy-state"),
    acl_disabled: await page.locator(T("acl-disabled")).count(),
  };
  await shot(page, "01-access-defaults");

  step("access: object ownership to ObjectWriter");
  await page.locator(T("ownership-select")).selectOption("ObjectWriter");
  await page.locator(T("ownership-save")).click();
  await page.locator(`${T("acls-state")}:text-is("enabled")`).waitFor({ timeout: 15000 });

  step("access: policies the editor and the server refuse");
  await page.locator(T("policy-editor")).fill("{ not json");
  await page.locator(T("policy-problem")).waitFor();
  result.editor_problem = await textOf(page, h, "policy-problem");
  assert(await page.locator(T("policy-save")).isDisabled(), "broken JSON cannot be submitted");
  const wrongBucket = { Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::elsewhere/*" }] };
  await page.locator(T("policy-editor")).fill(JSON.stringify(wrongBucket));
  await page.locator(T("policy-save")).click();
  await page.locator(T("policy-rejected")).waitFor({ timeout: 15000 });
  result.server_rejection = await textOf(page, h, "policy-rejected");
  await shot(page, "02-access-policy-rejected");

  step("access: a public policy saved");
  const publicRead = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject",
    Resource: `arn:aws:s3:::${cfg.bucket}/*` }] };
  await page.locator(T("policy-editor")).fill(JSON.stringify(publicRead));
  await page.locator(T("policy-save")).click();
  await page.locator(`${T("policy-state")}:text-is("public")`).waitFor({ timeout: 15000 });
  result.public_warning = await page.locator(T("access-public-warning")).count();

  step("access: Block Public Access on; a public policy is then refused");
  await page.locator(T("policy-delete")).click();
  await page.locator(`${T("policy-state")}:text-is("none")`).waitFor({ timeout: 15000 });
  await page.locator(T("bpa-block-policy")).check();
  await page.locator(T("bpa-block-acls")).check();
  await page.locator(T("bpa-save")).click();
  await page.locator(`${T("bpa-state")}:text-is("configured")`).waitFor({ timeout: 15000 });
  await page.locator(T("access-blocked-warning")).waitFor({ timeout: 15000 });
  result.blocked_warning = await textOf(page, h, "access-blocked-warning");
  await page.locator(T("policy-editor")).fill(JSON.stringify(publicRead));
  await page.locator(T("policy-save")).click();
  await page.locator(T("policy-rejected")).waitFor({ timeout: 15000 });
  result.blocked_rejection = await textOf(page, h, "policy-rejected");
  await shot(page, "03-access-blocked");

  step("access: Block Public Access removed; a canned ACL set");
  await page.locator(T("bpa-remove")).click();
  await page.locator(`${T("bpa-state")}:text-is("not configured")`).waitFor({ timeout: 15000 });
  await page.locator(T("acl-select")).selectOption("public-read");
  await page.locator(T("acl-save")).click();
  await page.locator(`${T("acl-grant")}:has-text("Everyone")`).waitFor({ timeout: 15000 });
  result.grants = await page.locator(T("acl-grant")).allTextContents();
  await shot(page, "04-access-acl");
  await context.close();
}
