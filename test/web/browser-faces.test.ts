import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebPeople } from '../../src/web/people-routes.js';
import { FakeModes, peopleService } from './faces-fakes.js';
import { makeJpeg } from './fakes.js';
import { type Harness, PASSWORD, startHarness } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(repoRoot, 'test-artifacts', 'web');

/** The capture modes, best-shot alternates and the People tab in a real browser (fake services, real UI). */
describe.skipIf(!existsSync(CHROMIUM))(`capture modes and People in a real browser (needs ${CHROMIUM})`, () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let uiDir = '';
  let modes: FakeModes;
  let people: Awaited<ReturnType<typeof peopleService>>;

  beforeAll(async () => {
    await fs.mkdir(artifacts, { recursive: true });
    const { build } = await import('vite');
    uiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-ui-faces-'));
    await build({
      configFile: path.join(repoRoot, 'web-ui', 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: uiDir, emptyOutDir: true },
    });
    let svc: WebPeople | undefined;
    const lazy = new Proxy({} as WebPeople, {
      get:
        (_t, k) =>
        (...args: unknown[]) =>
          (svc as unknown as Record<string, (...a: unknown[]) => unknown>)[k as string](...args),
    });
    h = await startHarness({
      staticDir: uiDir,
      services: (s, fakes) => {
        modes = new FakeModes(fakes.gallery, fakes.events);
        s.modes = modes;
        s.people = lazy;
      },
    });
    await fs.mkdir(h.config.dataDir, { recursive: true });
    people = await peopleService(h.config.dataDir, h.fakes.gallery, h.fakes.events);
    svc = people.service;
    const frames = await Promise.all([0, 1].map((i) => makeJpeg(320, 240, i, `frame ${i}`)));
    h.fakes.camera.play(frames, 8);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    page = await context.newPage();
    await page.goto(h.url);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('shutter').waitFor();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    if (uiDir) await fs.rm(uiDir, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`) });

  it('smile shutter: armed from the UI, face boxes coloured by smile, "2 of 3 smiling", cancel', async () => {
    await page.getByTestId('arm-smile').click();
    await expect.poll(() => modes.calls).toEqual(['arm smile-shutter']);
    const banner = page.getByTestId('mode-banner');
    await banner.getByText('Smile shutter: waiting for faces').waitFor();
    h.fakes.events.emit({
      type: 'faces',
      data: {
        width: 320,
        height: 240,
        faces: [
          { box: [20, 40, 60, 60], score: 0.9, smile: 0.95 },
          { box: [120, 40, 60, 60], score: 0.9, smile: 0.1 },
          { box: [220, 40, 60, 60], score: 0.9, smile: 0.8 },
        ],
      },
    });
    const rects = page.getByTestId('faces').locator('rect');
    await expect.poll(() => rects.count()).toBe(3);
    const strokes = () =>
      rects.evaluateAll((els) =>
        els.map((e) => (/rgb\((\d+), (\d+), (\d+)\)/.exec(getComputedStyle(e).stroke) ?? []).slice(1).map(Number)),
      );
    // before the daemon reports its threshold: the score alone, red → green (0.8 between 0.95 and 0.1)
    let [smiling, neutral, mostly] = await strokes();
    expect(smiling[1]).toBeGreaterThan(smiling[0] * 3);
    expect(neutral[0]).toBeGreaterThan(neutral[1] * 3);
    expect(mostly[0]).toBeGreaterThan(smiling[0]);
    expect(mostly[1]).toBeGreaterThan(mostly[0]);
    h.fakes.events.emit({
      type: 'mode',
      data: {
        mode: 'smile-shutter',
        state: 'armed',
        smiling: { smiling: 2, total: 3, streak: 0, needed: 3, threshold: 0.7 },
      },
    });
    await banner.getByText('Smile shutter: 2 of 3 smiling').waitFor();
    // with it: green exactly for the faces the count calls smiling (0.95, 0.8), red for 0.1
    await expect.poll(async () => (await strokes())[2]).toEqual((await strokes())[0]);
    [smiling, neutral, mostly] = await strokes();
    for (const g of [smiling, mostly]) expect(g[1]).toBeGreaterThan(g[0] * 3);
    expect(neutral[0]).toBeGreaterThan(neutral[1] * 3);
    await shot('20-smile-shutter');
    // a face just under the threshold is amber: not green, but clearly not the red of no smile
    h.fakes.events.emit({
      type: 'faces',
      data: { width: 320, height: 240, faces: [{ box: [20, 40, 60, 60], score: 0.9, smile: 0.6 }] },
    });
    await expect.poll(() => rects.count()).toBe(1);
    const [nearly] = await strokes();
    expect(nearly[0]).toBeGreaterThan(nearly[1]);
    expect(nearly[1]).toBeGreaterThan(neutral[1] + 50);
    await page.getByTestId('disarm').click();
    await expect.poll(() => modes.calls).toEqual(['arm smile-shutter', 'disarm']);
    await page.getByTestId('mode-message').getByText('Smile shutter disarmed').waitFor();
    expect(await banner.count()).toBe(0);
  });

  it('gesture shutter: the viewfinder counts down', async () => {
    await page.getByTestId('arm-gesture').click();
    await page.getByTestId('mode-banner').getByText('raise a hand above your shoulder').waitFor();
    h.fakes.events.emit({ type: 'mode', data: { mode: 'gesture-shutter', state: 'armed', handRaised: true } });
    await page.getByTestId('mode-banner').getByText('hand raised — hold it').waitFor();
    for (const n of [3, 2]) {
      h.fakes.events.emit({ type: 'mode', data: { mode: 'gesture-shutter', state: 'countdown', countdown: n } });
      await expect.poll(() => page.getByTestId('mode-countdown').textContent()).toBe(String(n));
    }
    await shot('21-gesture-countdown');
    h.fakes.events.emit({ type: 'mode', data: { mode: 'gesture-shutter', state: 'idle', message: 'done' } });
    await expect.poll(() => page.getByTestId('mode-countdown').count()).toBe(0);
  });

  it('best shot: the photo, its alternates with scores, and promoting one', async () => {
    await page.getByTestId('best-shot').click();
    await page.getByTestId('last-photo').waitFor();
    const id = h.fakes.gallery.photos.at(-1)?.id as string;
    await page.getByTestId('last-photo').click();
    const strip = page.getByTestId('alternates');
    await strip.getByText('Best shot: frame 1 of 3').waitFor();
    expect(await strip.locator('.chip').allTextContents()).toEqual(['★ Frame 1 · 90', 'Frame 2 · 80', 'Frame 3 · 70']);
    // alternates are not shown as filtered versions
    expect(await page.locator('[data-variant="frame-2"]').count()).toBe(0);
    await strip.locator('[data-frame="3"]').click();
    await expect
      .poll(() => page.getByTestId('photo').getAttribute('src'))
      .toBe(`/api/photos/${id}/file?variant=frame-3`);
    await shot('22-best-shot-alternates');
    await page.getByTestId('promote').click();
    await strip.getByText('Best shot: frame 3 of 3').waitFor();
    expect(modes.calls.at(-1)).toBe(`promote ${id} frame-3`);
    expect(await strip.locator('.chip.active').textContent()).toBe('★ Frame 3 · 70');
  });

  it('People: the sentence, turning it on, cards, rename, a person’s photos, merge, remove a face, turn off', async () => {
    await page.getByRole('link', { name: 'People' }).click();
    const sentence = await page.getByTestId('people-sentence').textContent();
    expect(sentence).toMatch(/here on the camera only/);
    expect(sentence).toMatch(/never in the photos, their metadata or anything synced/);
    expect(sentence).toMatch(/deleted with their photo/);
    await page.getByTestId('people-on').click();
    await page.getByTestId('people-status').waitFor();
    await people.seed([['ann', 'bob'], ['ann'], ['ann', 'cy']]);
    h.fakes.events.emit({ type: 'people', data: { reason: 'described' } });
    const cards = page.getByTestId('people-grid').locator('.person');
    await expect.poll(() => cards.count(), { timeout: 5000 }).toBe(3);
    expect(await page.getByTestId('people-status').textContent()).toBe('3 people, 5 faces');
    const first = cards.nth(0);
    await expect
      .poll(() => first.locator('img').evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth))
      .toBeGreaterThan(0);
    await first.getByRole('button', { name: 'Rename' }).click();
    await first.getByTestId('person-name-input').fill('Grandma');
    await first.getByRole('button', { name: 'Save' }).click();
    await first.getByTestId('person-name').getByText('Grandma').waitFor();
    await shot('23-people');
    // that person's photos in the gallery
    await first.getByTestId('person-photos').click();
    await page.getByTestId('person-filter').waitFor();
    await expect.poll(() => page.getByTestId('grid').locator('.cell').count()).toBe(3);
    await page.getByRole('link', { name: 'People' }).click();
    // merge the two single-face people
    const bob = cards.nth(1);
    await bob.getByRole('button', { name: 'Merge…' }).click();
    await bob.getByTestId('merge-select').selectOption({ index: 2 });
    await expect.poll(() => cards.count()).toBe(2);
    // "not Grandma" on one of her faces
    const g = cards.nth(0);
    await g.getByRole('button', { name: 'Faces' }).click();
    await g.getByRole('button', { name: 'Not Grandma' }).first().click();
    await expect.poll(() => people.store.list().find((p) => p.name === 'Grandma')?.faces).toBe(2);
    // turning it off deletes everything (after a confirmation)
    await page.getByTestId('people-off').click();
    await page.getByTestId('people-off-confirm').click();
    await page.getByTestId('people-on').waitFor();
    expect(people.store.enabled).toBe(false);
    await expect(fs.access(path.join(h.config.dataDir, 'people'))).rejects.toThrow();
  });
});
