import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editConfigFile } from '../../src/config/writer.js';
import { ConfigError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/tmp.js';

describe('editConfigFile', () => {
  let t: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    t = tempDir();
    file = path.join(t.dir, 'config.yaml');
  });
  afterEach(() => t.cleanup());

  it("keeps the owner's comments and formatting", async () => {
    const original =
      '# my camera\ncamera:\n  backend: sim # the simulator\n  controls:\n    ev: 0   # brighter later\nweb:\n  port: 8080\n';
    writeFileSync(file, original);
    const cfg = await editConfigFile(file, [{ path: ['camera', 'controls', 'ev'], value: 1.5 }]);
    expect(cfg.camera.controls.ev).toBe(1.5);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# my camera');
    expect(text).toContain('backend: sim # the simulator');
    expect(text).toMatch(/ev: 1.5 +# brighter later/);
    expect(text).toContain('web:\n  port: 8080');
  });

  it('refuses an edit that would make the config invalid and leaves the file alone', async () => {
    writeFileSync(file, 'web:\n  port: 8080\n');
    await expect(editConfigFile(file, [{ path: ['web', 'port'], value: 70000 }])).rejects.toBeInstanceOf(ConfigError);
    expect(readFileSync(file, 'utf8')).toBe('web:\n  port: 8080\n');
    expect(readdirSync(t.dir)).toEqual(['config.yaml']);
  });

  it('creates a missing file and removes keys set to undefined', async () => {
    await editConfigFile(file, [{ path: ['web', 'port'], value: 9000 }]);
    expect(readFileSync(file, 'utf8')).toContain('port: 9000');
    await editConfigFile(file, [{ path: ['web', 'port'], value: undefined }]);
    expect(readFileSync(file, 'utf8')).not.toContain('port');
  });
});
