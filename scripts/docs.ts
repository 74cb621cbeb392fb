/** `npm run docs`: regenerates the config and CLI references in README.md from the schema and the command list. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { updateReadme } from '../src/cli/reference.js';

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
const before = readFileSync(readme, 'utf8');
const after = updateReadme(before);
if (after !== before) writeFileSync(readme, after);
process.stdout.write(after === before ? 'README.md is up to date\n' : 'README.md updated\n');
