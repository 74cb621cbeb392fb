import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Quad } from '../../src/scan/geometry.js';
import { astronaut, twoPeople } from '../filters/helpers.js';
import * as s from '../fixtures/scan/synth.js';
import { runCliSync, simDaemonYaml, TestDaemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/tmp.js';
import { raw } from '../web/helpers.js';

/**
 * Scan mode in the whole daemon: the simulated camera looks at a synthetic old print lying at an angle on a table
 * (test/fixtures/scan/synth.ts, made from ../shared/images). A scan capture keeps the photo as taken and adds the
 * `scan` variant made by the filter worker, with the corners and every step's parameters in the sidecar; corners
 * dragged by the owner win over detection, in the capture and in the viewer's re-run; bad corners are refused.
 */
const TOKEN = 'scan-e2e-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const W = 960;
const H = 720;

interface ScanVariant {
  recipe: {
    recipe: string;
    params: {
      corners: Quad | null;
      cornersFraction: Quad | null;
      cornersFrom: string;
      steps: Record<string, Record<string, unknown>>;
      width: number;
      height: number;
    };
  };
}

describe('scan mode in the daemon (sim camera, HTTP, control socket)', () => {
  const d = new TestDaemon();
  const images = path.join(d.t.dir, 'images');
  let url = '';
  let truth: Quad;

  const http = (method: string, p: string, body?: unknown, headers: Record<string, string> = auth) =>
    raw(url, method, p, {
      headers: { ...headers, connection: 'close' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const meta = (id: string) =>
    JSON.parse(readFileSync(path.join(d.t.dir, 'data', 'gallery', id, 'meta.json'), 'utf8')) as {
      width: number;
      height: number;
      mode?: { name: string };
      variants: Record<string, ScanVariant>;
    };
  const scanVariant = async (id: string, from: string) => {
    await waitUntil(() => meta(id).variants.scan?.recipe.params.cornersFrom === from, 240_000);
    return meta(id).variants.scan.recipe.params;
  };

  beforeAll(async () => {
    await fs.mkdir(images);
    const photos = [await s.loadRgb(astronaut, 420), await s.loadRgb(twoPeople, 520)];
    const scene = await s.makeScene(photos, 1003, photos, { width: W, height: H, fill: [0.35, 0.5] });
    truth = scene.corners;
    await s.writePng(scene.image, path.join(images, 'print.png'));
    d.writeConfig(
      simDaemonYaml(images, {
        camera: ['  still: { width: 960, height: 720 }'],
        web: ['  auth:', `    apiTokens: [${JSON.stringify(TOKEN)}]`],
        // The filter worker at the daemon's priority: beside a machine's worth of nice-0 load (stress-ng) a nice-19
        // scan gets ~1.5 % of a core; its priority is test/filters/worker's subject.
        more: ['filters:', '  nice: 0'],
      }),
    );
    await d.start(undefined, 90_000);
    url = /web: listening url=(\S+)/.exec(d.output)?.[1] ?? '';
    await waitUntil(() => /camera: camera (armed|streaming)/.test(d.output), 60_000);
  }, 180_000);
  afterAll(async () => {
    if (process.env.PINHOLE_TEST_LOG) await fs.writeFile(process.env.PINHOLE_TEST_LOG, d.output);
    await d.cleanup();
  });

  let photoId = '';

  it('POST /api/modes/scan: the photo as taken, then the scan variant with the detected corners and every step', async () => {
    const res = await http('POST', '/api/modes/scan', {});
    expect(res.status, res.text).toBe(202);
    const { photo, jobId } = res.json().scan as { photo: { id: string }; jobId: string };
    expect(jobId).toBeTruthy();
    photoId = photo.id;
    const p = await scanVariant(photoId, 'detected');
    const m = meta(photoId);
    expect(m.mode?.name).toBe('scan');
    expect(m.width).toBe(W);
    // the print's corners in the photo: the scene's own, within 2 % of the diagonal (the sim camera re-encodes it)
    const err = s.cornerError(p.corners as Quad, truth, W, H);
    expect(err).toBeLessThan(0.02);
    expect(p.cornersFraction?.[0][0]).toBeCloseTo(((p.corners as Quad)[0][0] + 0.5) / W, 3);
    // every step ran or says why not, with its parameters
    expect(Object.keys(p.steps).sort()).toEqual(['crop', 'denoise', 'faces', 'fade', 'scratches']);
    expect(p.steps.scratches).toHaveProperty('params');
    expect(p.steps.fade).toHaveProperty('clip');
    // the variant is the flattened print, at its own aspect; the original is untouched
    const v = await sharp(path.join(d.t.dir, 'data', 'gallery', photoId, 'variants', 'scan.jpg')).metadata();
    expect(v.width).toBe(p.width);
    expect(v.height).toBe(p.height);
    const orig = await sharp(path.join(d.t.dir, 'data', 'gallery', photoId, 'photo.jpg')).metadata();
    expect([orig.width, orig.height]).toEqual([W, H]);
  }, 300_000);

  it('POST /api/photos/:id/scan with corners dragged in the viewer: the variant is made again from them', async () => {
    const dragged: Quad = [
      [0.1, 0.1],
      [0.8, 0.15],
      [0.85, 0.9],
      [0.12, 0.85],
    ];
    const res = await http('POST', `/api/photos/${photoId}/scan`, { corners: dragged });
    expect(res.status, res.text).toBe(202);
    const p = await scanVariant(photoId, 'manual');
    expect(p.cornersFraction).toEqual(dragged);
    expect((p.corners as Quad)[2][0]).toBeCloseTo(0.85 * W - 0.5, 1);
  }, 300_000);

  it('bad corners are refused with 400 naming what is wrong; unknown photo 404; no auth 401', async () => {
    const bad: [unknown, RegExp][] = [
      [
        [
          [0, 0],
          [1, 0],
          [1, 1],
        ],
        /4 \[x, y\] points/,
      ],
      [
        [
          [0.1, 0.1],
          [1.2, 0.1],
          [0.9, 0.9],
          [0.1, 0.9],
        ],
        /corners\[1\].*outside the image/,
      ],
      [
        [
          [0.1, 0.1],
          [0.1, 0.9],
          [0.9, 0.9],
          [0.9, 0.1],
        ],
        /convex quadrilateral, clockwise/,
      ],
      [
        [
          [0.1, 0.1],
          ['a', 0.1],
          [0.9, 0.9],
          [0.1, 0.9],
        ],
        /corners\[1\] must be \[x, y\]/,
      ],
    ];
    for (const [corners, message] of bad) {
      for (const route of [`/api/photos/${photoId}/scan`, '/api/modes/scan']) {
        const res = await http('POST', route, { corners });
        expect(res.status, `${route} ${JSON.stringify(corners)}`).toBe(400);
        expect(res.text).toMatch(message);
      }
    }
    const unknown = await http('POST', '/api/photos/p99999999-0badf00d/scan', {});
    expect(unknown.status, unknown.text).toBe(404);
    expect((await http('POST', `/api/photos/${photoId}/scan`, {}, { 'content-type': 'application/json' })).status).toBe(
      401,
    );
  }, 60_000);

  it('a scan capture with corners dragged in the viewfinder uses them; pinhole mode scan detects them', async () => {
    const dragged: Quad = [
      [0.2, 0.2],
      [0.7, 0.2],
      [0.7, 0.8],
      [0.2, 0.8],
    ];
    const res = await http('POST', '/api/modes/scan', { corners: dragged });
    expect(res.status, res.text).toBe(202);
    const id = (res.json().scan as { photo: { id: string } }).photo.id;
    expect(id).not.toBe(photoId);
    const p = await scanVariant(id, 'manual');
    expect(p.cornersFraction).toEqual(dragged);
    // the print is 0.5 × 0.6 of a 4:3 frame: the crop keeps that aspect
    expect(p.width / p.height).toBeCloseTo((0.5 * W) / (0.6 * H), 1);
    const cli = runCliSync(['mode', 'scan', '--json', '--config', d.configFile], { env: d.env, timeoutMs: 600_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const out = JSON.parse(cli.stdout) as { id: string; scan: { params: { cornersFrom: string } } };
    expect(out.scan.params.cornersFrom).toBe('detected');
    expect(meta(out.id).variants.scan.recipe.params.cornersFrom).toBe('detected');
  }, 900_000);
});
