/**
 * `npm run bench`: runs every benchmark module in src/bench/ and prints one JSON document on stdout.
 * `--quick` shortens each; `--only a,b` picks modules by file name. Progress goes to stderr.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface BenchModule {
  run(opts: { quick: boolean }): Promise<Record<string, unknown>>;
}

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bench');
const only = values.only?.split(',').map((s) => s.trim());
const files = readdirSync(benchDir)
  .filter((f) => f.endsWith('.js'))
  .filter((f) => !only || only.includes(path.basename(f, '.js')))
  .sort();

const results: Record<string, unknown> = {};
const started = Date.now();
for (const f of files) {
  const name = path.basename(f, '.js');
  process.stderr.write(`bench ${name}…\n`);
  const t0 = Date.now();
  try {
    const mod = (await import(pathToFileURL(path.join(benchDir, f)).href)) as BenchModule;
    results[name] = { ...(await mod.run({ quick: Boolean(values.quick) })), seconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    results[name] = { error: (e as Error).message };
  }
}
process.stdout.write(
  `${JSON.stringify(
    {
      machine: { arch: process.arch, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
      quick: Boolean(values.quick),
      seconds: (Date.now() - started) / 1000,
      results,
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
