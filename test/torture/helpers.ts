import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/torture/harness.js';

/** The torture scenarios run the built daemon (`npx tsc -p tsconfig.json`, done by `npm test`). */
export function assertBuilt(): void {
  const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -p tsconfig.json)`);
}

/** A failed scenario shows its violations in the assertion message. */
export function explain(r: Record<string, unknown>): string {
  // the seed replays a randomised run (`run({ seed })`)
  return JSON.stringify({ violations: r.violations, error: r.error, seed: r.seed }, null, 2);
}
