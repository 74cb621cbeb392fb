import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfigText } from '../../src/config/validate.js';
import { runCliSync } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const extra = (...args: string[]) => `camera:\n  extraArgs: [${args.map((a) => JSON.stringify(a)).join(', ')}]\n`;

describe('camera.extraArgs: every spelling Boost accepts is checked (issue 13 item 7)', () => {
  it.each([
    ['-v2', '--verbose'],
    ['-q90', '--quality'],
    ['-t0', '--timeout'],
    ['--wid', '--width'],
    ['--width=640', '--width'],
    ['--heig=480', '--height'],
    ['-n', '--nopreview'],
    ['-o-', '--output'],
    ['--zs', '--zsl'],
    ['--shut=20000', '--shutter'],
    ['--analog=2', '--analoggain'],
    ['--frames=3', '--frames'],
  ])('%s is refused as %s, naming the entry and its line', (arg, option) => {
    const r = validateConfigText(`web:\n  port: 8080\n${extra('--contrast', '1.1', arg)}`);
    expect(r.config).toBeUndefined();
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^camera\.extraArgs\.2: /);
    expect(r.errors[0]).toContain(option);
    expect(r.errors[0]).toMatch(/\(line 4\)$/);
  });

  it('an entry that is the value of the previous option is not an option', () => {
    // `--info-text -v2`: Boost takes "-v2" as the text (only a bare known short option like `-v` is not a value).
    expect(validateConfigText(extra('--info-text', '-v2')).errors).toEqual([]);
    expect(validateConfigText(extra('--sharpness', '1.5', '--contrast=1.2', '--mode', '2028:1520:12')).errors).toEqual(
      [],
    );
  });

  it('ambiguous abbreviations, unknown options and bad values are refused with the app that refuses them', () => {
    const amb = validateConfigText(extra('--sh', '1'));
    expect(amb.errors[0]).toContain("option '--sh' is ambiguous and matches '--sharpness', and '--shutter'");
    const still = validateConfigText(extra('--inline'));
    expect(still.errors[0]).toContain("rpicam-still would refuse it: unrecognised option '--inline'");
    const vid = validateConfigText(extra('-x', 'EXIF.Artist=me'));
    expect(vid.errors[0]).toContain("rpicam-vid would refuse it: unrecognised option '-x'");
    const bad = validateConfigText(extra('--sharpness', 'soft'));
    expect(bad.errors[0]).toContain("the argument ('soft') for option '--sharpness' is invalid");
    const missing = validateConfigText(extra('--contrast'));
    expect(missing.errors[0]).toContain("the required argument for option '--contrast' is missing");
  });
});

describe('long exposures: camera timeouts follow the shutter (issue 13 item 4)', () => {
  it('derives camera.frameTimeoutMs and camera.capture.timeoutMs from a 200 s shutter when they are not set', () => {
    const r = validateConfigText('camera:\n  controls:\n    shutterUs: 200000000\n');
    expect(r.errors).toEqual([]);
    // One frame lasts at least the shutter time; a capture waits for up to two frames.
    expect(r.config?.camera.frameTimeoutMs).toBeGreaterThan(200_000);
    expect(r.config?.camera.capture.timeoutMs).toBeGreaterThan(400_000);
    // Without a fixed shutter the defaults stay.
    const d = validateConfigText('');
    expect(d.config?.camera.frameTimeoutMs).toBe(5000);
    expect(d.config?.camera.capture.timeoutMs).toBe(20000);
  });

  it('accepts explicit timeouts long enough for a 200 s exposure (the schema maxima allow it)', () => {
    const r = validateConfigText(
      'camera:\n  frameTimeoutMs: 250000\n  capture:\n    timeoutMs: 500000\n  controls:\n    shutterUs: 200000000\n',
    );
    expect(r.errors).toEqual([]);
    expect(r.config?.camera.frameTimeoutMs).toBe(250000);
  });

  it('an explicit timeout shorter than the shutter needs is an error naming both keys', () => {
    const r = validateConfigText(
      'camera:\n  frameTimeoutMs: 5000\n  capture:\n    timeoutMs: 20000\n  controls:\n    shutterUs: 10000000\n',
    );
    expect(r.config).toBeUndefined();
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/^camera\.controls\.shutterUs: .*camera\.frameTimeoutMs \(5000 ms\).*\(line 6\)$/);
    expect(r.errors[1]).toMatch(/^camera\.controls\.shutterUs: .*camera\.capture\.timeoutMs \(20000 ms\).*\(line 6\)$/);
  });
});

describe('`pinhole config check` (the contract other tools call)', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  it('rejects a managed option in extraArgs and a shutter the frame timeout cannot wait for, naming the keys', () => {
    const file = path.join(t.dir, 'c.yaml');
    writeFileSync(
      file,
      'camera:\n  frameTimeoutMs: 3000\n  controls:\n    shutterUs: 4000000\n  extraArgs: ["-v2", "--wid=100"]\n',
    );
    const r = runCliSync(['config', 'check', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.startsWith('camera.controls.shutterUs:'))).toContain('camera.frameTimeoutMs');
    expect(lines.find((l) => l.startsWith('camera.extraArgs.0:'))).toContain('--verbose');
    expect(lines.find((l) => l.startsWith('camera.extraArgs.1:'))).toContain('--width');
  });
});
