import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg } from './fakes.js';
import { type Harness, PASSWORD, startHarness } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let uiDir = '';
const artifacts = path.join(repoRoot, 'test-artifacts', 'web');

// Skips only when the browser is truly absent (CI installs Debian's chromium with apt).
describe.skipIf(!existsSync(CHROMIUM))(`web UI in a real browser (needs ${CHROMIUM}: apt-get install chromium)`, () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await fs.mkdir(artifacts, { recursive: true });
    // The UI is built fresh from web-ui/ for this run (a stale dist/ would test old code).
    const { build } = await import('vite');
    uiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-ui-'));
    await build({
      configFile: path.join(repoRoot, 'web-ui', 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: uiDir, emptyOutDir: true },
    });
    h = await startHarness({ staticDir: uiDir, jobDelayMs: 300 });
    const frames = await Promise.all([0, 1, 2, 3].map((i) => makeJpeg(320, 240, i, `frame ${i}`)));
    h.fakes.camera.play(frames, 10);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    if (uiDir) await fs.rm(uiDir, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`) });

  it('without a password, explains how to set one', async () => {
    const bare = await startHarness({ staticDir: uiDir, password: false });
    try {
      const p = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await p.goto(bare.url);
      await p.getByText('sudo pinhole passwd').waitFor();
      await p.screenshot({ path: path.join(artifacts, '00-no-password.png') });
      await p.close();
    } finally {
      await bare.close();
    }
  });

  it('logs in', async () => {
    await page.goto(h.url);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong password');
    await page.getByLabel('Password').fill(PASSWORD);
    await shot('01-login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('shutter').waitFor();
  });

  it('shows live preview frames and face boxes', async () => {
    const preview = page.getByTestId('preview');
    await expect
      .poll(() => preview.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: 10_000 })
      .toBe(320);
    const before = h.server.mjpeg.stats().sent;
    await expect.poll(() => h.server.mjpeg.stats().sent, { timeout: 5000 }).toBeGreaterThan(before + 5);
    h.fakes.events.emit({
      type: 'faces',
      data: {
        width: 320,
        height: 240,
        faces: [
          { x: 100, y: 60, w: 120, h: 120, score: 0.95 },
          { box: [10, 20, 30, 40], score: 0.8, landmarks: [] },
        ],
      },
    });
    const rects = page.getByTestId('faces').locator('rect');
    await expect.poll(() => rects.count()).toBe(2);
    expect(await rects.nth(1).getAttribute('width')).toBe('30');
    expect(await rects.nth(0).getAttribute('x')).toBe('100');
    await shot('02-viewfinder');
  });

  let photoId = '';
  it('takes a photo', async () => {
    await page.getByTestId('shutter').click();
    await page.getByTestId('last-photo').waitFor();
    expect(h.fakes.calls.capture).toHaveLength(1);
    photoId = h.fakes.gallery.photos[0].id;
  });

  it('finds it in the gallery and applies a filter', async () => {
    await page.getByRole('link', { name: 'Gallery', exact: true }).click();
    const cell = page.locator(`[data-photo="${photoId}"]`);
    await cell.waitFor();
    await shot('03-gallery');
    await cell.click();
    await page.getByTestId('photo').waitFor();
    await page.getByTestId('apply-filter').selectOption('grayscale');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('[data-testid="job"][data-state="done"]').waitFor({ timeout: 10_000 });
    expect(h.fakes.calls.jobs).toEqual([{ photoId, req: { filter: 'grayscale' } }]);
    await page.locator('[data-variant="grayscale"].active').waitFor();
    await expect
      .poll(() => page.getByTestId('photo').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Before/after' }).click();
    await page.getByTestId('compare').waitFor();
    await shot('04-viewer-filtered');
  });

  it('selects several photos to download as a zip or delete', async () => {
    for (let i = 0; i < 2; i++) await h.fakes.services.capture({ trigger: 'web' });
    const ids = h.fakes.gallery.photos.map((p) => p.id);
    await page.getByRole('link', { name: 'Gallery', exact: true }).click();
    await page.locator(`[data-photo="${ids[2]}"]`).waitFor();
    await page.getByRole('button', { name: 'Select' }).click();
    const cells = page.getByTestId('grid').locator('button.cell');
    await cells.nth(0).click();
    await cells.nth(1).click();
    await page.getByText('2 selected').waitFor();
    const zip = await page.getByRole('link', { name: 'Download zip' }).getAttribute('href');
    expect(zip).toBe(`/api/archive.zip?ids=${ids[2]},${ids[1]}`);
    const res = await page.request.get(`${h.url}${zip}`);
    expect(res.status()).toBe(200);
    expect((await res.body()).subarray(0, 4).toString('hex')).toBe('504b0304');
    await shot('05-gallery-select');
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete 2?' }).click();
    await expect.poll(() => h.fakes.gallery.photos.map((p) => p.id)).toEqual([ids[0]]);
    await expect.poll(() => cells.count()).toBe(1);
  });

  it('changes a setting, with inline validation', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    const section = page.locator('details[data-section="web"]');
    await section.locator('summary').click();
    const field = section.locator('[data-key="web.maxViewers"] input');
    await field.fill('1000');
    await section.getByText('must be at most 100').waitFor();
    expect(await section.getByRole('button', { name: /^Save/ }).isDisabled()).toBe(true);
    await field.fill('12');
    await section.getByRole('button', { name: /^Save/ }).click();
    await section.getByText('Saved.').waitFor();
    const text = await fs.readFile(h.fakes.config.file, 'utf8');
    expect(text).toMatch(/maxViewers: 12/);
    expect(text).toContain('# owner comment');
    await shot('06-settings');
  });

  it('reports a broken hand edit of the config', async () => {
    await fs.writeFile(h.fakes.config.file, 'camera:\n  preview:\n    fps: fast\n');
    await h.fakes.config.reloadFromDisk();
    await page.reload();
    const banner = page.getByTestId('config-errors');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('camera.preview.fps: must be number (line 3)');
    await shot('07-settings-broken-config');
  });

  it('shows status, low storage and offers the phone time', async () => {
    await page.getByRole('link', { name: 'Status' }).click();
    await page.getByTestId('camera-state').waitFor();
    expect(await page.getByTestId('camera-state').textContent()).toContain('streaming');
    await page.getByTestId('low-space').waitFor();
    // A button that can never fire (onoff cannot set its pull-up) is shown with the config.txt fix.
    expect(await page.getByTestId('gpio-warning').textContent()).toContain(
      'Add `gpio=26=ip,pu` to /boot/firmware/config.txt',
    );
    expect(await page.getByTestId('gpio-filter').textContent()).toContain('spike filter: in software');
    await page.getByTestId('clock-banner').getByRole('button').click();
    await page.getByText('Camera clock set.').waitFor();
    expect(h.fakes.calls.time).toHaveLength(1);
    expect(Math.abs(h.fakes.calls.time[0] - Date.now())).toBeLessThan(60_000);
    await shot('08-status');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Password').waitFor();
  });
});
