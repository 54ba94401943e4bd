// The policy section of the run report as a person sees it in Chromium: the truth tables of a failed
// step drawn side by side, the mismatching cell red, the unknown cells amber, the pass rate per tag.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { renderRunHtml } from './run-html.js';
import { badStep, goodStep, policyRun } from './policy-fixture.js';

let browser: Browser;
let dir: string;

describe('policy report in Chromium', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cnilab-policy-html-'));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'] });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws expected, observed and comparison side by side and colours the mismatch', async () => {
    const file = join(dir, 'report.html');
    writeFileSync(file, renderRunHtml(policyRun([goodStep, badStep])));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`file://${file}`);
    const titles = await page.locator('.truths h5').allTextContents();
    expect(titles).toEqual(['TCP/80 expected', 'TCP/80 observed', 'TCP/80 comparison']);
    const boxes = await Promise.all((await page.locator('.truths > div').all()).map((d) => d.boundingBox()));
    // Side by side: same row, left to right.
    expect(boxes[0]!.y).toBe(boxes[2]!.y);
    expect(boxes[0]!.x).toBeLessThan(boxes[1]!.x);
    expect(boxes[1]!.x).toBeLessThan(boxes[2]!.x);
    const mismatch = page.locator('table.truth td.mm');
    expect(await mismatch.count()).toBe(1);
    expect(await mismatch.evaluate((td) => getComputedStyle(td).backgroundColor)).toBe('rgb(254, 226, 226)');
    expect(await page.locator('table.truth td.uk').count()).toBe(2);
    // The comparison table's rows read like upstream's: x/b's row has the X under x/a.
    const row = await page.locator('.truths > div').nth(2).locator('tbody tr').nth(1).locator('td').allTextContents();
    expect(row).toEqual(['X', '.', '.']);
    await expect(page.locator('h4.bad').first().textContent()).resolves.toContain('allow-from-pod-selector');
    const ingress = page.locator('table tr', { hasText: /^ingress/ }).first();
    await expect(ingress.textContent()).resolves.toMatch(/ingress2\s*1\s*1\s*50%/);
    await page.screenshot({ path: join(dir, 'policy.png'), fullPage: true });
  }, 60_000);
});
