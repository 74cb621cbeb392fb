import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../scripts/torture/fuzz.js';
import { assertBuilt, explain } from './helpers.js';

beforeAll(assertBuilt);

describe('torture: bad input (short)', () => {
  it('HTTP/WebSocket fuzzing: no 5xx but a genuine camera 503, no crash, nothing outside the data dir touched; config fuzzing: never runs on an invalid config', async () => {
    const r = await run({ quick: true, requests: 400, seed: 20261125 });
    expect(r.ok, explain(r)).toBe(true);
    expect(r.requestsFuzzed).toBe(400);
    expect((r.configEdits as { edits: number; mismatches: number }).edits).toBe(20);
    expect((r.configEdits as { invalid: number }).invalid).toBeGreaterThan(0);
  }, 90_000);
});
