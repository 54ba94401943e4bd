// The reports as a person sees them: rendered by a real Chromium (headless), not parsed as text.
// The performance report must show the five configurations side by side with every chart drawn.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { renderPerformanceHtml } from './html.js';
import { fixtureResult } from '../scenarios/performance/fixture.js';
import { PERF_CONFIG_NAMES } from './performance-model.js';

const CHROMIUM = '/usr/bin/chromium';
let browser: Browser;
let dir: string;

describe('performance report in Chromium', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cnilab-html-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows all five configurations side by side, every chart drawn, a missed target called out', async () => {
    // cnilab-tunnel 20 % slower everywhere: the report must say a target was missed.
    const file = join(dir, 'perf.html');
    writeFileSync(file, renderPerformanceHtml(fixtureResult({ configFactor: { 'cnilab-tunnel': 0.8 } })));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    const configRows = await page.locator('table').first().locator('tbody tr td:first-child').allTextContents();
    expect(configRows).toEqual([...PERF_CONFIG_NAMES]);
    const charts = page.locator('div.chart svg');
    expect(await charts.count()).toBeGreaterThanOrEqual(8);
    for (const svg of await charts.all()) {
      const box = await svg.boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      expect(box!.height).toBeGreaterThan(200);
      // One bar (or unavailable placeholder) per configuration in each chart's legend.
      for (const name of PERF_CONFIG_NAMES) expect(await svg.locator('text', { hasText: name }).count()).toBeGreaterThan(0);
    }
    await expect(page.locator('.banner.bad').textContent()).resolves.toMatch(/target\(s\) missed/);
    // Self-contained: nothing but the file itself was loaded.
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    await page.screenshot({ path: join(dir, 'perf.png'), fullPage: true });
  }, 60_000);
});
