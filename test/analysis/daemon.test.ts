import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readXmp } from '../../src/vision/xmp.js';
import { TestDaemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/tmp.js';
import { astronaut, modelsDir } from './helpers.js';

interface Sidecar {
  faces?: {
    items: { score: number; smile?: number; expression?: Record<string, number> }[];
    analysis?: { expression: string };
  };
}

/**
 * Photos get expressions in their sidecar, never descriptors; the analysis models load for the photo and unload when
 * idle; status shows each feature. The daemon runs with the simulated camera showing the smiling astronaut.
 */
describe('face analysis in the daemon', () => {
  const d = new TestDaemon();
  const auth = { authorization: 'Bearer analysis-test-token-0123456789' };
  let url = '';

  beforeAll(async () => {
    const scene = path.join(d.t.dir, 'scene');
    mkdirSync(scene);
    copyFileSync(astronaut, path.join(scene, 'astronaut.png'));
    d.writeConfig(
      `#full\n${[
        'dataDir: ./data',
        'control:',
        '  socket: ./control.sock',
        'camera:',
        '  backend: sim',
        '  still: { width: 1600, height: 1200 }',
        '  sim:',
        `    images: ${JSON.stringify(scene)}`,
        'gpio:',
        '  backend: none',
        'models:',
        `  dir: ${JSON.stringify(modelsDir)}`,
        'vision:',
        '  threads: 1',
        '  analysis: { idleReleaseSeconds: 1, maxSessions: 2 }',
        'web:',
        '  host: 127.0.0.1',
        '  port: 0',
        '  auth:',
        '    apiTokens: ["analysis-test-token-0123456789"]',
        '',
      ].join('\n')}`,
    );
    await d.start();
    await waitUntil(() => /web: listening url=(\S+)/.test(d.output));
    url = /web: listening url=(\S+)/.exec(d.output)?.[1] ?? '';
  }, 60_000);
  afterAll(() => d.cleanup());

  it('a captured photo gets expressions in its sidecar and no descriptor anywhere', async () => {
    const r = d.cli(['capture', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const photo = JSON.parse(r.stdout) as { id: string; path: string };
    let meta: Sidecar = {};
    await waitUntil(async () => {
      const res = await fetch(`${url}/api/photos/${photo.id}`, { headers: auth });
      meta = ((await res.json()) as { photo: Sidecar }).photo;
      return Boolean(meta.faces);
    }, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; daemon output:\n${d.output.slice(-3000)}`);
    });
    expect(meta.faces?.items).toHaveLength(1);
    const [face] = meta.faces?.items ?? [];
    expect(face.smile).toBeGreaterThanOrEqual(0.9);
    expect(Object.keys(face.expression ?? {})).toEqual([
      'angry',
      'disgust',
      'fear',
      'happy',
      'sad',
      'surprise',
      'neutral',
    ]);
    expect(face.expression?.happy).toBe(face.smile);
    expect(meta.faces?.analysis?.expression).toBe('fer_mini_xception');
    const sidecar = readFileSync(path.join(path.dirname(photo.path), 'meta.json'), 'utf8');
    expect(sidecar).not.toMatch(/descriptor/i);
    await waitUntil(() => (readXmp(readFileSync(photo.path)) ?? '').includes('mwg-rs:Regions'), 10_000);
    expect(readXmp(readFileSync(photo.path))).not.toMatch(/descriptor|smile|happy/i);
  }, 90_000);

  it('status shows the analysis features; the sessions unload once idle', async () => {
    const status = () =>
      JSON.parse(d.cli(['status', '--json']).stdout) as {
        components: {
          name: string;
          status?: { resident: number; features: Record<string, { state: string; runs: number }> };
        }[];
      };
    const analysis = () => status().components.find((c) => c.name === 'analysis')?.status;
    expect(analysis()?.features.expression.runs).toBeGreaterThanOrEqual(1);
    expect(Object.keys(analysis()?.features ?? {})).toEqual(['expression', 'descriptor', 'mask', 'pose']);
    expect(analysis()?.features.descriptor.runs).toBe(0); // People is not on: no descriptors made
    // each probe is a `pinhole status` process: on a loaded machine that alone can take seconds
    await waitUntil(() => analysis()?.resident === 0, 60_000, 500);
    expect(analysis()?.features.expression.state).toBe('idle');
  }, 180_000);
});
