import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const dist = path.join(repoRoot, 'dist');
let out: string;

async function files(dir: string, base = dir): Promise<string[]> {
  const list: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) list.push(...(await files(p, base)));
    else list.push(path.relative(base, p));
  }
  return list.sort();
}

/** A file's text; for a source map, with `sources` made absolute (the two trees sit in different folders). */
async function same(root: string, f: string): Promise<string> {
  const text = await fs.readFile(path.join(root, f), 'utf8');
  if (!f.endsWith('.map')) return text;
  const map = JSON.parse(text) as { sources: string[] };
  map.sources = map.sources.map((s) => path.resolve(path.dirname(path.join(root, f)), s));
  return JSON.stringify(map);
}

beforeAll(async () => {
  out = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-lowmem-'));
}, 30_000);
afterAll(async () => {
  await fs.rm(out, { recursive: true, force: true });
});

describe('scripts/build-lowmem.mjs (the installer builds a clone on the Pi with it)', () => {
  it('emits exactly what tsc emits (JavaScript and source maps), under the heap caps the installer uses', async () => {
    // npm test builds dist/ with tsc first; compare against it (its web-ui/ comes from vite, not from tsc).
    expect(existsSync(path.join(dist, 'src/cli/main.js')), 'build dist/ with tsc first').toBe(true);
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--max-old-space-size=48', '--max-semi-space-size=1', 'scripts/build-lowmem.mjs', '--out', out],
        { cwd: repoRoot, timeout: 240_000 },
        (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve()),
      ),
    );
    const mine = await files(out);
    const tscFiles = (await files(dist)).filter((f) => !f.startsWith('web-ui/'));
    expect(mine).toEqual(tscFiles);
    expect(mine.length).toBeGreaterThan(100);
    const differ: string[] = [];
    for (const f of mine) {
      const [a, b] = await Promise.all([same(out, f), same(dist, f)]);
      if (a !== b) differ.push(f);
    }
    expect(differ, 'these differ from tsc (stale dist/? rebuild with tsc)').toEqual([]);
  }, 300_000);
});
