import * as faults from './faults.js';
import * as fuzz from './fuzz.js';
import { liveDaemons, type ScenarioOptions } from './harness.js';
import * as load from './load.js';
import * as power from './power.js';
import * as security from './security.js';
import * as storage from './storage.js';
import * as sync from './sync.js';

type Scenario = (opts: ScenarioOptions) => Promise<Record<string, unknown>>;

/** Order matters only for the total time: the long ones last, so a quick failure shows early. */
export const scenarios: Record<string, Scenario> = {
  security: security.run,
  storage: storage.run,
  faults: faults.run,
  fuzz: fuzz.run,
  power: power.run,
  sync: sync.run,
  load: load.run,
};

function parseArgs(argv: string[]): { only: string[]; quick: boolean; extra: Record<string, unknown> } {
  let only = Object.keys(scenarios);
  let quick = false;
  const extra: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) only = a.slice(7).split(',').filter(Boolean);
    else if (a.startsWith('--') && a.includes('=')) {
      // e.g. --cycles=50 --durationS=180 --seed=42
      const [k, val] = a.slice(2).split('=', 2);
      extra[k] = Number.isNaN(Number(val)) ? val : Number(val);
    } else throw new Error(`unknown argument ${a} (use --only a,b --quick --key=value)`);
  }
  for (const name of only)
    if (!scenarios[name]) throw new Error(`unknown scenario ${name} (known: ${Object.keys(scenarios).join(', ')})`);
  return { only, quick, extra };
}

async function main(): Promise<number> {
  const { only, quick, extra } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const results: Record<string, unknown> = {};
  let ok = true;
  for (const name of only) {
    process.stderr.write(`torture: ${name}${quick ? ' (quick)' : ''}…\n`);
    const t = Date.now();
    try {
      const r = await scenarios[name]({ quick, ...extra });
      results[name] = r;
      if (r.ok === false) ok = false;
      process.stderr.write(
        `torture: ${name} ${r.ok === false ? 'FAILED' : 'ok'} in ${Math.round((Date.now() - t) / 1000)} s\n`,
      );
    } catch (e) {
      ok = false;
      results[name] = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      process.stderr.write(`torture: ${name} FAILED: ${String(e)}\n`);
    }
  }
  process.stdout.write(
    `${JSON.stringify({ ok, quick, seconds: Math.round((Date.now() - started) / 1000), node: process.version, cpus: (await import('node:os')).cpus().length, scenarios: results }, null, 2)}\n`,
  );
  return ok ? 0 : 1;
}

// Interrupted: no daemon, fake camera, tmpfs or temp folder is left behind.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    process.stderr.write(`torture: ${sig}, cleaning up ${liveDaemons.size} daemon(s)\n`);
    void Promise.allSettled([...liveDaemons].map((d) => d.cleanup())).then(() => process.exit(130));
  });

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`torture: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
