import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateReadme } from '../src/cli/reference.js';
import { repoRoot } from './helpers/tmp.js';

describe('README', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

  it('has the current config and CLI references (run `npm run docs` after changing the schema or a command)', () => {
    expect(updateReadme(readme)).toBe(readme);
  });

  it('shows the two commands and the test command that CI runs', () => {
    expect(readme).toContain('npm install');
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
    expect(readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8')).toMatch(/^npm test$/m);
  });
});
