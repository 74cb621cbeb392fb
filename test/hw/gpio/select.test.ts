import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePiModel, readPiModel } from '../../../src/hw/gpio/pi-model.js';
import { chooseBackend, hasExecutableOnPath } from '../../../src/hw/gpio/select.js';
import { fixturesDir, tempDir } from './helpers.js';

const has = (yes: boolean) => async () => yes;

describe('Pi model', () => {
  it('reads generations from device-tree model strings', () => {
    expect(parsePiModel('Raspberry Pi 5 Model B Rev 1.0\0')).toEqual({
      model: 'Raspberry Pi 5 Model B Rev 1.0',
      isPi: true,
      generation: 5,
    });
    expect(parsePiModel('Raspberry Pi 4 Model B Rev 1.4\0').generation).toBe(4);
    expect(parsePiModel('Raspberry Pi Compute Module 4 Rev 1.0\0').generation).toBe(4);
    expect(parsePiModel('Raspberry Pi Zero 2 W Rev 1.0\0').generation).toBe(3);
    expect(parsePiModel('Raspberry Pi 3 Model B Plus Rev 1.3\0').generation).toBe(3);
    expect(parsePiModel('Raspberry Pi Zero W Rev 1.1\0').generation).toBe(1);
    expect(parsePiModel('Raspberry Pi 500 Rev 1.0').generation).toBe(5);
    expect(parsePiModel('Rockchip RK3588 EVB')).toEqual({
      model: 'Rockchip RK3588 EVB',
      isPi: false,
      generation: null,
    });
  });

  it('a missing model file means "not a Pi"', async () => {
    const dir = await tempDir();
    expect(await readPiModel(path.join(dir, 'model'))).toEqual({ model: null, isPi: false, generation: null });
    await fs.writeFile(path.join(dir, 'model'), 'Raspberry Pi 4 Model B Rev 1.5\0');
    expect((await readPiModel(path.join(dir, 'model'))).generation).toBe(4);
    await fs.rm(dir, { recursive: true });
  });
});

describe('auto backend', () => {
  const pi = (s: string) => parsePiModel(s);
  it('Pi 5 → gpiod', async () => {
    const s = await chooseBackend('auto', {
      model: pi('Raspberry Pi 5 Model B Rev 1.0'),
      env: {},
      hasExecutable: has(true),
    });
    expect(s.kind).toBe('gpiod');
    expect(s.reason).toMatch(/Pi 5/);
  });
  it('Pi ≤ 4 → gpiod when gpiomon exists, else onoff', async () => {
    expect(
      (await chooseBackend('auto', { model: pi('Raspberry Pi Zero 2 W Rev 1.0'), env: {}, hasExecutable: has(true) }))
        .kind,
    ).toBe('gpiod');
    const s = await chooseBackend('auto', {
      model: pi('Raspberry Pi 4 Model B Rev 1.5'),
      env: {},
      hasExecutable: has(false),
    });
    expect(s).toEqual({ kind: 'onoff', reason: expect.stringMatching(/gpiomon not installed/) });
  });
  it('not a Pi → sim under npm start (PINHOLE_DEV=1), none otherwise', async () => {
    const model = parsePiModel(null);
    const dev = await chooseBackend('auto', { model, env: { PINHOLE_DEV: '1' }, hasExecutable: has(true) });
    expect(dev.kind).toBe('sim');
    expect(dev.reason).toMatch(/PINHOLE_DEV=1/);
    expect((await chooseBackend('auto', { model, env: {}, hasExecutable: has(true) })).kind).toBe('none');
  });
  it('an explicit backend is taken as is', async () => {
    expect(await chooseBackend('pigpio', { model: parsePiModel(null), env: {}, hasExecutable: has(false) })).toEqual({
      kind: 'pigpio',
      reason: 'gpio.backend is pigpio',
    });
  });
  it('finds executables on PATH', async () => {
    expect(await hasExecutableOnPath('gpiomon', `/nonexistent${path.delimiter}${fixturesDir}`)).toBe(true);
    expect(await hasExecutableOnPath('gpiomon', '/nonexistent')).toBe(false);
  });
});
