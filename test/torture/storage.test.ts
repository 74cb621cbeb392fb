import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../scripts/torture/storage.js';
import { assertBuilt, explain } from './helpers.js';

beforeAll(assertBuilt);

describe('torture: storage full (short)', () => {
  it('captures refused with 507 storage-full, nothing half-written, preview goes on, works again once space is freed', async () => {
    const r = await run({ quick: true });
    expect(r.ok, explain(r)).toBe(true);
    expect((r.quota as { statuses: Record<string, number> }).statuses).toEqual({ 507: 3 });
    expect((r.quota as { recovered: boolean }).recovered).toBe(true);
  }, 90_000);
});
