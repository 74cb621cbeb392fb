import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../scripts/torture/faults.js';
import { assertBuilt, explain } from './helpers.js';

beforeAll(assertBuilt);

describe('torture: camera faults under viewers (short)', () => {
  it('every fake-camera fault mode and busy → absent → crash: the preview resumes with live frames and a capture succeeds', async () => {
    const r = await run({ quick: true });
    expect(r.ok, explain(r)).toBe(true);
    // 7 single modes + the combination, each recovered and followed by a successful capture.
    expect(r.faultsInjected).toBe(8);
    expect(r.capturesAfterRecovery).toBe(8);
    expect((r.recoveryMs as { p99: number }).p99).toBeLessThan(20_000);
  }, 90_000);
});
