// Drives ecache's console in the system's headless Chromium, as a person would: sign in with the server's
// keys, find a replication group's primary, press TestFailover, and wait until the page (which reloads
// itself) shows another member as primary, with the nodes' charts drawn; then open a parameter group's page
// from the overview. Prints "console in chromium passed" at the end.
//
// Needs ENDPOINT, KEY, SECRET and GROUP; CHROMIUM (default /usr/bin/chromium); SCREENSHOT, a PNG path to
// write the overview to.
import { chromium } from "playwright-core";

const { ENDPOINT, KEY, SECRET, GROUP } = process.env;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const fail = async (what) => {
  console.error("FAIL:", what);
  await browser.close();
  process.exit(1);
};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(ENDPOINT + "/console/");
  if (!page.url().endsWith("/console/login")) await fail("not sent to the sign-in page: " + page.url());
  await page.fill("#access_key_id", KEY);
  await page.fill("#secret_access_key", "not-the-secret");
  await page.click("button[type=submit]");
  if (!(await page.locator("#error").isVisible())) await fail("a wrong secret was not refused");
  await page.fill("#access_key_id", KEY);
  await page.fill("#secret_access_key", SECRET);
  await page.click("button[type=submit]");
  await page.waitForSelector("#replication-groups");
  const primaryOf = async () =>
    page.locator(`tr[data-group="${GROUP}"] .member.primary`).first().getAttribute("data-cluster", { timeout: 5000 });
  const before = await primaryOf();
  if (!before) await fail("no primary shown for " + GROUP);
  await page.locator(`tr[data-group="${GROUP}"] button.test-failover`).first().click();
  await page.waitForSelector("#notice");
  const notice = await page.locator("#notice").textContent();
  if (!notice.includes("TestFailover of " + GROUP)) await fail("notice: " + notice);
  const deadline = Date.now() + 60000;
  for (;;) {
    const now = await primaryOf().catch(() => null); // the page may be reloading
    if (now && now !== before) break;
    if (Date.now() > deadline) await fail("the primary shown stayed " + before);
    await page.waitForTimeout(250);
  }
  // The charts grow by a sample each time the page loads (a second apart at least).
  const chartPoints = async () =>
    ((await page.locator(`#metrics tr[data-node^="${GROUP}-"] svg.chart polyline`).first().getAttribute("points", { timeout: 5000 }).catch(() => "")) || "")
      .trim().split(" ").filter(Boolean).length;
  for (const until = Date.now() + 30000; (await chartPoints()) < 3; ) {
    if (Date.now() > until) await fail("no node chart drew three points");
    await page.waitForTimeout(1200);
    await page.reload();
  }
  const events = await page.locator("#events").textContent();
  if (!events.includes("Test Failover API called for node group 0001")) await fail("no TestFailover event on the page");
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  // A default parameter group's page, from its link on the overview, lists its parameters.
  await page.click("#default-parameter-groups summary");
  const pg = page.locator("#default-parameter-groups a").first();
  const pgName = await pg.textContent();
  await pg.click();
  await page.waitForSelector("#parameters");
  const rows = await page.locator("#parameters tr[data-parameter]").count();
  if (rows < 10) await fail(`the page of parameter group ${pgName} lists ${rows} parameters`);
  console.log("console in chromium passed");
} catch (e) {
  await fail(String(e));
}
await browser.close();
