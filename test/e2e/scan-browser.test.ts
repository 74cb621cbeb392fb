import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Quad } from '../../src/scan/geometry.js';
import { writePassword } from '../../src/web/auth/password.js';
import { astronaut, twoPeople } from '../filters/helpers.js';
import * as s from '../fixtures/scan/synth.js';
import { simDaemonYaml, TestDaemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/tmp.js';
import { PASSWORD } from '../web/helpers.js';

const CHROMIUM = '/usr/bin/chromium';

/**
 * Scan mode from the phone: the daemon with the simulated camera looking at a synthetic print on a table, the real
 * web UI in Debian's chromium. Selecting Scan draws the daemon's live outline of the print over the viewfinder;
 * dragging a corner makes it the owner's outline, which goes with the capture and is what the scan variant is cut
 * from; the viewer shows the corners again and sends dragged ones for a new crop.
 */
describe.skipIf(!existsSync(CHROMIUM))(`scan mode from the phone UI (needs ${CHROMIUM})`, () => {
  const d = new TestDaemon();
  const images = path.join(d.t.dir, 'images');
  let url = '';
  let browser: Browser | undefined;
  let truth: Quad;
  const W = 960;
  const H = 720;

  beforeAll(async () => {
    await fs.mkdir(images);
    const photos = [await s.loadRgb(astronaut, 420), await s.loadRgb(twoPeople, 520)];
    const scene = await s.makeScene(photos, 1003, photos, { width: W, height: H, fill: [0.35, 0.5] });
    truth = scene.corners;
    await s.writePng(scene.image, path.join(images, 'print.png'));
    d.writeConfig(
      simDaemonYaml(images, {
        camera: ['  still: { width: 960, height: 720 }'],
        // The filter worker at the daemon's priority: beside a machine's worth of nice-0 load (stress-ng) a nice-19
        // scan gets ~1.5 % of a core; its priority is test/filters/worker's subject.
        more: ['filters:', '  nice: 0'],
      }),
    );
    await fs.mkdir(path.join(d.t.dir, 'data'), { recursive: true });
    await writePassword(path.join(d.t.dir, 'data'), PASSWORD);
    await d.start(undefined, 90_000);
    url = /web: listening url=(\S+)/.exec(d.output)?.[1] ?? '';
    await waitUntil(() => /camera: camera (armed|streaming)/.test(d.output), 60_000);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    if (process.env.PINHOLE_TEST_LOG) await fs.writeFile(process.env.PINHOLE_TEST_LOG, d.output);
    await d.cleanup();
  });

  const meta = (id: string) =>
    JSON.parse(readFileSync(path.join(d.t.dir, 'data', 'gallery', id, 'meta.json'), 'utf8')) as {
      variants: Record<string, { recipe: { params: { cornersFrom: string; cornersFraction: Quad | null } } }>;
    };
  const quadOf = async (page: Page, testId: string) =>
    JSON.parse((await page.getByTestId(testId).getAttribute('data-quad')) ?? 'null') as Quad;
  /** Drags a corner handle by (dx, dy) CSS pixels with the mouse (pointer events, as a finger would). */
  const dragCorner = async (page: Page, scope: string, i: number, dx: number, dy: number) => {
    const box = await page.getByTestId(scope).getByTestId(`scan-corner-${i}`).boundingBox();
    if (!box) throw new Error(`corner ${i} not on screen`);
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    await page.mouse.move(x, y);
    await page.mouse.down();
    for (let k = 1; k <= 5; k++) await page.mouse.move(x + (dx * k) / 5, y + (dy * k) / 5);
    await page.mouse.up();
  };

  it('Scan outlines the print live; a dragged corner goes with the capture and the scan variant is cut from it', async () => {
    const context = await (browser as Browser).newContext({ viewport: { width: 390, height: 844 }, hasTouch: true });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('scan-mode').check();
    // the daemon's guess: dashed, near the print's real corners (found on a preview frame)
    const outline = page.getByTestId('scan-outline');
    await outline.waitFor({ timeout: 120_000 });
    expect(await outline.getAttribute('data-guess')).toBe('true');
    const guess = await quadOf(page, 'scan-outline');
    const truthFr = truth.map(([x, y]) => [(x + 0.5) / W, (y + 0.5) / H]) as Quad;
    expect(s.cornerError(guess, truthFr, 1, 0.75)).toBeLessThan(0.03);
    expect(await page.getByTestId('scan-status').textContent()).toMatch(/Print found/);

    await dragCorner(page, 'scan-outline', 0, -25, -20);
    await waitUntil(async () => (await outline.getAttribute('data-guess')) === 'false', 5_000);
    const dragged = await quadOf(page, 'scan-outline');
    expect(dragged[0][0]).toBeLessThan(guess[0][0] - 0.03);
    expect(dragged[0][1]).toBeLessThan(guess[0][1] - 0.03);
    // live outlines arriving meanwhile do not undo the drag
    await new Promise((r) => setTimeout(r, 1500));
    expect(await quadOf(page, 'scan-outline')).toEqual(dragged);

    const request = page.waitForRequest((r) => r.url().endsWith('/api/modes/scan') && r.method() === 'POST');
    await page.getByTestId('shutter').click();
    const sent = (await request).postDataJSON() as { corners: Quad };
    expect(sent.corners).toEqual(dragged);
    const last = page.getByTestId('last-photo');
    await last.waitFor({ timeout: 60_000 });
    const id = /photos\/([^/?]+)/.exec((await last.getAttribute('src')) ?? '')?.[1] as string;
    await waitUntil(() => meta(id).variants.scan?.recipe.params.cornersFrom === 'manual', 240_000);
    expect(meta(id).variants.scan.recipe.params.cornersFraction).toEqual(dragged);

    // the viewer: the same corners on the original; a dragged one is sent for a new crop
    await page.goto(`${url}#/gallery/${id}`);
    await page.getByTestId('scan-corners').click();
    const edit = page.getByTestId('scan-edit');
    await edit.waitFor();
    expect(JSON.parse((await edit.getByTestId('scan-outline').getAttribute('data-quad')) ?? '[]')).toEqual(dragged);
    await dragCorner(page, 'scan-edit', 2, -20, -15);
    const rerun = page.waitForRequest((r) => r.url().endsWith(`/api/photos/${id}/scan`) && r.method() === 'POST');
    await page.getByTestId('scan-rerun').click();
    const again = (await rerun).postDataJSON() as { corners: Quad };
    expect(again.corners[2][0]).toBeLessThan(dragged[2][0]);
    expect(again.corners.slice(0, 2)).toEqual(dragged.slice(0, 2));
    await waitUntil(
      () => JSON.stringify(meta(id).variants.scan.recipe.params.cornersFraction) === JSON.stringify(again.corners),
      240_000,
    );
    await page.screenshot({ path: path.join(d.t.dir, 'scan.png') });
    await context.close();
  }, 600_000);
});
