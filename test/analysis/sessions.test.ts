import { describe, expect, test } from 'vitest';
import { SessionPool } from '../../src/analysis/sessions.js';
import type { ort } from '../../src/vision/onnx.js';

/** A hand-written stand-in for onnxruntime sessions: records loads and releases. */
class FakeSessions {
  loaded: string[] = [];
  released: string[] = [];
  failing = new Set<string>();
  load = async (file: string) => {
    await new Promise((r) => setTimeout(r, 2));
    if (this.failing.has(file)) throw new Error(`cannot load ${file}`);
    this.loaded.push(file);
    return {
      release: async () => {
        this.released.push(file);
      },
    } as unknown as ort.InferenceSession;
  };
}

const SESSION = { threads: 1, optimization: 'all', memArena: false } as const;

describe('SessionPool', () => {
  test('loads on first use only, keeps at most maxResident, evicting the least recently used', async () => {
    const f = new FakeSessions();
    const pool = new SessionPool({ session: SESSION, maxResident: 2, idleMs: 0, load: f.load });
    expect(pool.resident()).toEqual([]);
    await pool.use('a', async () => 1);
    await pool.use('a', async () => 1);
    await pool.use('b', async () => 1);
    expect(f.loaded).toEqual(['a', 'b']);
    await pool.use('a', async () => 1); // a is now the most recent
    await pool.use('c', async () => 1); // evicts b
    expect(f.released).toEqual(['b']);
    expect(pool.resident().sort()).toEqual(['a', 'c']);
    expect(pool.loads).toBe(3);
    await pool.close();
    expect(f.released.sort()).toEqual(['a', 'b', 'c']);
    await expect(pool.use('a', async () => 1)).rejects.toThrow(/closed/);
  });

  test('unloads a session after idleMs without use', async () => {
    const f = new FakeSessions();
    const pool = new SessionPool({ session: SESSION, maxResident: 4, idleMs: 30, load: f.load });
    await pool.use('a', async () => 1);
    expect(pool.resident()).toEqual(['a']);
    await new Promise((r) => setTimeout(r, 120));
    expect(pool.resident()).toEqual([]);
    expect(f.released).toEqual(['a']);
    await pool.use('a', async () => 1);
    expect(f.loaded).toEqual(['a', 'a']);
    await pool.close();
  });

  test('one job at a time, live before photo before background, FIFO within a priority', async () => {
    const f = new FakeSessions();
    const pool = new SessionPool({ session: SESSION, maxResident: 4, idleMs: 0, load: f.load });
    const order: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const job = (name: string) => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 5));
      order.push(name);
      running--;
    };
    const first = pool.use('a', job('first'), 'background'); // starts at once
    const jobs = [
      pool.use('a', job('bg1'), 'background'),
      pool.use('a', job('photo1'), 'photo'),
      pool.use('a', job('bg2'), 'background'),
      pool.use('a', job('live1'), 'live'),
      pool.use('a', job('photo2'), 'photo'),
    ];
    await Promise.all([first, ...jobs]);
    expect(maxRunning).toBe(1);
    expect(order).toEqual(['first', 'live1', 'photo1', 'photo2', 'bg1', 'bg2']);
    await pool.close();
  });

  test('a model that fails to load fails its job only; the pool goes on', async () => {
    const f = new FakeSessions();
    f.failing.add('bad');
    const pool = new SessionPool({ session: SESSION, maxResident: 1, idleMs: 0, load: f.load });
    await expect(pool.use('bad', async () => 1)).rejects.toThrow(/cannot load bad/);
    expect(pool.resident()).toEqual([]);
    expect(await pool.use('good', async () => 42)).toBe(42);
    await pool.close();
  });

  test('releaseAll waits for the running job, then unloads everything', async () => {
    const f = new FakeSessions();
    const pool = new SessionPool({ session: SESSION, maxResident: 4, idleMs: 0, load: f.load });
    let done = false;
    const running = pool.use('a', async () => {
      await new Promise((r) => setTimeout(r, 30));
      done = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    await pool.releaseAll();
    expect(done).toBe(true);
    expect(f.released).toEqual(['a']);
    await running;
    await pool.close();
  });
});
