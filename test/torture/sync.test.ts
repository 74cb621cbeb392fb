import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../scripts/torture/sync.js';
import { assertBuilt, explain } from './helpers.js';

beforeAll(assertBuilt);

describe('torture: power cuts during uploads (short)', () => {
  it('SIGKILL mid-upload, restart: no photo lost, no partial or duplicate file at the destination', async () => {
    const r = await run({ quick: true, cycles: 5 });
    expect(r.ok, explain(r)).toBe(true);
    expect(r.cyclesSurvived).toBe(5);
    expect(r.lost).toBe(0);
    expect(r.partialAtFinal).toBe(0);
    expect(Number(r.atDestination)).toBe(Number(r.photos));
    expect(Number(r.photos)).toBeGreaterThanOrEqual(5);
  }, 240_000);
});
