import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  applyBoardProfile,
  classifyModel,
  detectBoard,
  parseMemTotalMB,
  profileFor,
} from '../../src/config/board-profile.js';
import { defaultConfig } from '../../src/config/load.js';
import { validateConfigObject } from '../../src/config/validate.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-board-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A fake /proc: the device-tree model (NUL-terminated, as the kernel writes it) and meminfo. */
async function fakeProc(model: string | null, memKb: number) {
  const paths = { model: path.join(dir, 'model'), meminfo: path.join(dir, 'meminfo') };
  if (model !== null) await fs.writeFile(paths.model, `${model}\0`);
  await fs.writeFile(
    paths.meminfo,
    `MemTotal:       ${memKb} kB\nMemFree:          100000 kB\nMemAvailable:   200000 kB\n`,
  );
  return paths;
}

describe('board detection', () => {
  it.each([
    ['Raspberry Pi Zero 2 W Rev 1.0', 'zero2w'],
    ['Raspberry Pi 3 Model B Plus Rev 1.3', 'pi3'],
    ['Raspberry Pi 3 Model A Plus Rev 1.1', 'pi3'],
    ['Raspberry Pi Compute Module 3 Plus Rev 1.0', 'pi3'],
    ['Raspberry Pi 4 Model B Rev 1.5', 'pi4'],
    ['Raspberry Pi 400 Rev 1.1', 'pi4'],
    ['Raspberry Pi Compute Module 4 Rev 1.1', 'pi4'],
    ['Raspberry Pi 5 Model B Rev 1.0', 'pi5'],
    ['Raspberry Pi Zero W Rev 1.1', 'unsupported-pi'],
    ['Raspberry Pi Model B Plus Rev 1.2', 'unsupported-pi'],
    ['Raspberry Pi 2 Model B Rev 1.1', 'unsupported-pi'],
    ['Raspberry Pi Compute Module Rev 1.0', 'unsupported-pi'],
    ['Pine64 RockPro64', 'not-pi'],
    [null, 'not-pi'],
  ])('%s → %s', (model, id) => {
    expect(classifyModel(model)).toBe(id);
  });

  it('reads the NUL-terminated model and MemTotal from a fake /proc', async () => {
    const paths = await fakeProc('Raspberry Pi Zero 2 W Rev 1.0', 427_860);
    expect(await detectBoard(paths)).toEqual({ id: 'zero2w', model: 'Raspberry Pi Zero 2 W Rev 1.0', memTotalMB: 418 });
  });

  it('is not a Pi when the device-tree model is absent', async () => {
    const paths = await fakeProc(null, 8_000_000);
    expect(await detectBoard(paths)).toEqual({ id: 'not-pi', model: null, memTotalMB: 7813 });
  });

  it('parses meminfo defensively', () => {
    expect(parseMemTotalMB('garbage')).toBeNull();
    expect(parseMemTotalMB('MemTotal: 1048576 kB')).toBe(1024);
  });
});

describe('profiles', () => {
  it('gives a Zero 2 W two threads, no arena, a small preview and photos detected at its size, no live filters and a small sharp cache', () => {
    const p = profileFor({ id: 'zero2w', model: 'Raspberry Pi Zero 2 W Rev 1.0', memTotalMB: 418 });
    expect(p.overrides).toMatchObject({
      'vision.threads': 2,
      'vision.memArena': false,
      'vision.faces.maxSide': 480,
      'camera.preview.width': 480,
      'camera.preview.height': 360,
      'filters.workers': 1,
    });
    expect(p.runtime).toEqual({
      liveFilters: 'none',
      sharpCache: { memory: 0, files: 0, items: 0 },
      sharpConcurrency: 1,
    });
  });

  it('gives a Pi 5 more threads, the arena and all live filters', () => {
    const p = profileFor({ id: 'pi5', model: 'Raspberry Pi 5 Model B Rev 1.0', memTotalMB: 8000 });
    expect(p.overrides['vision.threads']).toBe(4);
    expect(p.overrides['vision.memArena']).toBe(true);
    expect(p.runtime.liveFilters).toBe('all');
  });

  it('switches to low-memory settings by RAM, whatever the model', () => {
    const a = profileFor({ id: 'pi3', model: 'Raspberry Pi 3 Model A Plus Rev 1.1', memTotalMB: 420 });
    expect(a.name).toBe('pi3-lowmem');
    expect(a.overrides).toMatchObject({ 'vision.memArena': false, 'filters.tileSize': 128 });
    expect(a.runtime.sharpCache.memory).toBe(0);
    const oneGig = profileFor({ id: 'pi4', model: 'Raspberry Pi 4 Model B Rev 1.1', memTotalMB: 910 });
    expect(oneGig.name).toBe('pi4');
    expect(oneGig.overrides['vision.memArena']).toBe(false);
    expect(oneGig.overrides['vision.threads']).toBe(3);
    expect(profileFor({ id: 'pi4', model: 'x', memTotalMB: 3800 }).overrides['vision.memArena']).toBe(true);
  });

  it('caps resident face analysis sessions at 2 and picks the smaller mask grid on 512 MB boards only', () => {
    for (const b of [
      profileFor({ id: 'zero2w', model: 'Raspberry Pi Zero 2 W Rev 1.0', memTotalMB: 418 }),
      profileFor({ id: 'pi3', model: 'Raspberry Pi 3 Model B Rev 1.2', memTotalMB: 920 }),
      profileFor({ id: 'pi4', model: 'Raspberry Pi 4 Model B Rev 1.1', memTotalMB: 600 }),
    ]) {
      expect(b.overrides['vision.analysis.maxSessions'], b.name).toBe(2);
      expect(b.overrides['vision.analysis.maskModel'], b.name).toBe('selfie_seg_landscape');
    }
    const pi5 = profileFor({ id: 'pi5', model: 'Raspberry Pi 5 Model B Rev 1.0', memTotalMB: 8000 });
    expect(pi5.overrides['vision.analysis.maxSessions']).toBeUndefined();
  });

  it('recommends nothing on a development machine', () => {
    expect(profileFor({ id: 'not-pi', model: null, memTotalMB: 8000 }).overrides).toEqual({});
  });

  it('every profile yields a config the schema accepts', () => {
    for (const id of ['zero2w', 'pi3', 'pi4', 'pi5'] as const) {
      for (const mem of [400, 900, 4000]) {
        const { config } = applyBoardProfile(
          defaultConfig(),
          profileFor({ id, model: 'Raspberry Pi', memTotalMB: mem }),
          null,
        );
        const result = validateConfigObject(config);
        expect(result.errors, `${id}/${mem}`).toEqual([]);
      }
    }
  });
});

describe('applyBoardProfile', () => {
  it('applies recommendations only where the owner wrote nothing', () => {
    const userDoc = parse('vision:\n  threads: 1\ncamera:\n  preview:\n    fps: 5\n');
    const profile = profileFor({ id: 'zero2w', model: 'Raspberry Pi Zero 2 W Rev 1.0', memTotalMB: 418 });
    const base = defaultConfig();
    base.vision.threads = 1;
    base.camera.preview.fps = 5;
    const { config, applied } = applyBoardProfile(base, profile, userDoc);
    expect(config.vision.threads).toBe(1);
    expect(config.camera.preview.fps).toBe(5);
    expect(config.camera.preview.width).toBe(480);
    expect(config.filters.tileSize).toBe(128);
    expect(applied.map((a) => a.path)).not.toContain('vision.threads');
    expect(applied).toContainEqual({ path: 'camera.preview.width', value: 480 });
    // the input is not mutated
    expect(base.camera.preview.width).toBe(640);
  });
});
