import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../scripts/torture/security.js';
import { assertBuilt, explain } from './helpers.js';

beforeAll(assertBuilt);

describe('torture: security', () => {
  it('rate-limited brute force, no session fixation, CSRF refused, no credentials in query strings, no secret in the logs', async () => {
    const r = await run({ quick: true });
    expect(r.ok, explain(r)).toBe(true);
    expect((r.bruteForce as { rightPasswordWhileLocked: number }).rightPasswordWhileLocked).toBe(429);
    expect((r.logs as { secretsFound: number; secretsChecked: number }).secretsFound).toBe(0);
    expect((r.logs as { secretsChecked: number }).secretsChecked).toBeGreaterThanOrEqual(5);
  }, 60_000);
});
