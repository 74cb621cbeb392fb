import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../scripts/torture/load.js';
import { assertBuilt, explain } from './helpers.js';

beforeAll(assertBuilt);

describe('torture: load (short)', () => {
  it('20 viewers (5 slow) and a capture a second: fast viewers keep the frame rate, RSS bounded, no fd leak', async () => {
    const r = await run({ quick: true, durationS: 18 });
    expect(r.ok, explain(r)).toBe(true);
    expect(Number(r.fastFpsNoCaptures)).toBeGreaterThanOrEqual(0.8 * Number(r.configuredFps));
    const fds = r.fds as { baseline: number; afterViewersLeft: number };
    expect(fds.afterViewersLeft).toBeLessThanOrEqual(fds.baseline + 3);
  }, 90_000);
});
