/**
 * The dashboard in a real browser (issue 13): chromium loads the page from a
 * real daemon whose history holds command-line runs, with real backups, one
 * damaged target and one failed run; it checks the cards, the history rows
 * and the charts, clicks "Back up now" and sees the new run appear, and
 * leaves screenshots in test-output/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { launchBrowser, TEST_OUTPUT } from './helpers/browser';
import { runCli } from './helpers/cli';
import { baseUrl, Daemons, Sandbox } from './helpers/daemon';

jest.setTimeout(180000);

const box = new Sandbox('dbguard-ui-');
const daemons = new Daemons();
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;

afterAll(async () => {
  await browser?.close();
  await daemons.stopAll();
  box.cleanup();
});

test('cards, history, charts and "Back up now" in chromium; usable at 375 px', async () => {
  const site = await box.site();
  expect(runCli(['backup', 'production'], { cwd: site.dir }).code).toBe(0);
  fs.writeFileSync(site.db('staging'), 'corrupted data\n');
  expect(runCli(['backup', 'staging'], { cwd: site.dir }).code).toBe(4);
  expect(runCli(['check', 'staging'], { cwd: site.dir }).code).toBe(4);

  const d = await daemons.start(site.config());
  browser = await launchBrowser();
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(baseUrl(d));

  const prod = page.locator('article.card[data-target="production"]');
  const staging = page.locator('article.card[data-target="staging"]');
  await prod.locator('.pill', { hasText: 'healthy' }).waitFor();
  await expect(staging.locator('.pill').textContent()).resolves.toBe('unhealthy');
  await expect(staging.locator('.reason').textContent()).resolves.toMatch(/damaged/);
  await expect(staging.textContent()).resolves.toMatch(/Last failure/);
  await expect(prod.textContent()).resolves.toMatch(/rows/);
  await expect(page.locator('#overall').textContent()).resolves.toBe('unhealthy');

  // the command-line runs: one backup that worked, one that failed, one check that found damage
  const rows = page.locator('#history tbody tr');
  await expect(rows.count()).resolves.toBe(3);
  const failed = page.locator('#history tr[data-state="failed"]');
  await expect(failed.count()).resolves.toBe(2);
  await expect(page.locator('#history tr[data-kind="backup"][data-state="failed"]').textContent()).resolves.toMatch(/staging.*backup \(cli\).*failed/);

  // charts: one per target, production's with a size line over its backups
  await expect(page.locator('figure.chart').count()).resolves.toBe(2);
  await expect(page.locator('figure.chart[data-target="production"] svg path.size').count()).resolves.toBe(1);
  await expect(page.locator('figure.chart[data-target="production"] svg circle.dot-size').count()).resolves.toBe(2);

  // filters
  await page.selectOption('#f-result', 'failed');
  await expect(rows.count()).resolves.toBe(2);
  await page.selectOption('#f-result', '');
  await page.selectOption('#f-target', 'production');
  await expect(rows.count()).resolves.toBe(1);
  await page.selectOption('#f-target', '');

  fs.mkdirSync(TEST_OUTPUT, { recursive: true });
  await page.screenshot({ path: path.join(TEST_OUTPUT, 'dashboard.png'), fullPage: true });

  // keyboard: focus "Back up now" of production and press Enter
  const button = prod.locator('button[data-action="backup"]');
  await button.focus();
  await page.keyboard.press('Enter');
  await page.locator('#notice', { hasText: 'backup of production queued' }).waitFor();
  await page.locator('#history tr[data-kind="backup"][data-state="succeeded"]').nth(1).waitFor({ timeout: 120000 });
  await expect(page.locator('#history tr[data-kind="backup"][data-state="succeeded"]').first().textContent()).resolves.toMatch(/production.*backup \(dashboard\).*succeeded/);
  const runs = site.history().filter((r) => r.reason === 'dashboard' && r.state === 'succeeded');
  expect(runs).toHaveLength(1);
  expect(fs.existsSync(path.join(site.backupDir, `${runs[0]!.backupId}.duckdb`))).toBe(true);
  await page.screenshot({ path: path.join(TEST_OUTPUT, 'dashboard-after-backup.png'), fullPage: true });

  // 375 px: nothing wider than the screen but the history table, which scrolls in its own box
  await page.setViewportSize({ width: 375, height: 800 });
  await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(375);
  await page.screenshot({ path: path.join(TEST_OUTPUT, 'dashboard-375.png'), fullPage: true });

  // prefers-color-scheme: a dark page for a dark desktop
  const background = () => page.evaluate('getComputedStyle(document.body).backgroundColor') as Promise<string>;
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await background();
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await background();
  expect(dark).not.toBe(light);
  expect(dark).toBe('rgb(18, 21, 28)');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: path.join(TEST_OUTPUT, 'dashboard-dark.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('with a token the page asks for it once, keeps the session in a cookie, and a wrong one is refused', async () => {
  const site = await box.site();
  const d = await daemons.start(site.config(), { env: { DBGUARD_HTTP_TOKEN: 'browser-token-77' } });
  browser ??= await launchBrowser();
  const page = await browser.context.newPage();
  await page.goto(baseUrl(d));
  await page.fill('#token', 'wrong');
  await page.click('button[type="submit"]');
  await page.locator('.error', { hasText: 'not right' }).waitFor();
  await page.fill('#token', 'browser-token-77');
  await page.click('button[type="submit"]');
  await page.locator('article.card[data-target="production"]').waitFor();
  const cookies = await browser.context.cookies(baseUrl(d));
  expect(cookies).toEqual([expect.objectContaining({ name: 'dbguard_session', httpOnly: true, sameSite: 'Strict', secure: false })]);
  expect(cookies[0]!.value).not.toContain('browser-token-77');
  // asked once: a reload stays on the dashboard
  await page.reload();
  await page.locator('article.card[data-target="staging"]').waitFor();
  await page.click('button:has-text("Log out")');
  await page.locator('#token').waitFor();
  await page.close();
});
