import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/tmp.js';
import { SyncDaemon, TOKEN } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

// The real daemon (sim camera, a local-folder target and one rclone does not know) and Debian's Chromium.
describe.skipIf(!existsSync(CHROMIUM))('Sync in the web UI (real daemon, real rclone, real browser)', () => {
  let d: SyncDaemon;
  let browser: Browser;

  beforeAll(async () => {
    d = new SyncDaemon('');
    const dest = path.join(d.t.dir, 'dest');
    mkdirSync(dest);
    d.writeConfig(
      `${(await import('node:fs')).readFileSync(d.configFile, 'utf8')}sync:\n  rcloneConfig: ${path.join(d.t.dir, 'none.conf')}\n  nice: 0\n  targets:\n    - { name: usb, remote: ${dest} }\n    - { name: ghost, remote: "ghost:photos" }\n`,
    );
    await d.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await d?.cleanup();
  });

  it('shows a badge per photo, the targets by name with the last error in words, Sync now and pause/resume', async () => {
    const id = d.capture();
    await d.waitStatus((s) => s.targets[0].done === 1 && s.targets[1].failed === 1);
    const ctx = await browser.newContext({
      viewport: { width: 390, height: 844 },
      extraHTTPHeaders: { Authorization: `Bearer ${TOKEN}` },
    });
    const page = await ctx.newPage();
    await page.goto(`${d.url}/#/gallery`);
    const badge = page.locator(`[data-photo="${id}"] [data-testid="sync-badge"]`);
    await badge.waitFor();
    // One target has it, the other failed: the badge says failed.
    expect(await badge.getAttribute('data-state')).toBe('failed');

    await page.goto(`${d.url}/#/settings`);
    const section = page.getByTestId('sync-settings');
    await section.locator('[data-target="usb"]').waitFor();
    expect(await section.locator('[data-target="usb"]').textContent()).toContain('1 uploaded');
    expect(await section.locator('[data-target="ghost"] [data-testid="sync-error"]').textContent()).toMatch(
      /rclone does not know the remote of target "ghost"/,
    );
    // No remote and no secret on the page.
    expect(await page.content()).not.toContain('ghost:photos');

    await section.getByRole('button', { name: 'Pause' }).click();
    await section.getByRole('button', { name: 'Resume' }).waitFor();
    expect(((await d.api('GET', '/api/sync')).json as { paused: boolean }).paused).toBe(true);
    await section.getByRole('button', { name: 'Resume' }).click();
    await section.getByRole('button', { name: 'Pause' }).waitFor();
    await section.getByRole('button', { name: 'Retry failed' }).click();
    // Retried at once: the ghost's attempt count goes up (it fails again, in words).
    await waitUntil(() => /upload failed target=ghost/.test(d.output) || d.status().targets[1].failed === 1, 60_000);
    await section.getByRole('button', { name: 'Sync now' }).click();
    expect(((await d.api('GET', '/api/sync')).json as { paused: boolean }).paused).toBe(false);

    // Status shows the sync queue.
    await page.goto(`${d.url}/#/status`);
    await page.getByTestId('sync-status').waitFor();
    expect(await page.getByTestId('sync-status').textContent()).toMatch(/ghost: rclone does not know the remote/);
    await page.screenshot({ path: path.join(d.t.dir, 'status.png') });
    await ctx.close();
  }, 300_000);
});
