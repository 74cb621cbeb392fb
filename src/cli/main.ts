#!/usr/bin/env node
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, errorMessage, isPinholeError } from '../util/errors.js';
import { commands } from './registry.js';
import type { CliCommand, CliContext } from './types.js';
import { version } from './version.js';

function usageOf(c: CliCommand): string {
  return `pinhole ${c.name}${c.usage ? ` ${c.usage}` : ''}`;
}

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Pinhole — a Raspberry Pi camera appliance.',
    '',
    'Usage: pinhole <command> [options]',
    '',
    'Commands:',
    ...[...commands].sort((a, b) => a.name.localeCompare(b.name)).map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command accepts --config FILE (default lookup: $PINHOLE_CONFIG, /etc/pinhole/config.yaml, .dev/config.yaml)',
    'and --help. `pinhole --version` prints the version.',
  ].join('\n');
}

function commandHelp(c: CliCommand): string {
  const opts = Object.entries(c.options ?? {}).map(
    ([k, o]) => `  --${k}${o.type === 'string' ? ' VALUE' : ''}${o.short ? ` (-${o.short})` : ''}`,
  );
  return [
    `Usage: ${usageOf(c)}`,
    '',
    c.summary,
    ...(c.help ? ['', c.help] : []),
    ...(opts.length ? ['', 'Options:', ...opts] : []),
    '  --config FILE',
    '  --help',
  ].join('\n');
}

/** Finds the longest command name that prefixes argv ('models install' before 'models'). */
function findCommand(argv: string[]): { cmd?: CliCommand; rest: string[] } {
  const words = argv.filter((a) => !a.startsWith('-')).slice(0, 3);
  for (let n = Math.min(3, words.length); n > 0; n--) {
    const name = words.slice(0, n).join(' ');
    const cmd = commands.find((c) => c.name === name);
    if (cmd) {
      // Remove exactly those words (in order) from argv, keep everything else.
      const rest = [...argv];
      for (const w of words.slice(0, n)) rest.splice(rest.indexOf(w), 1);
      return { cmd, rest };
    }
  }
  return { rest: argv };
}

export async function runCli(argv: string[], ctx: Omit<CliContext, 'configFlag'>): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    if (argv[0] === 'help' && argv[1]) return runCli([...argv.slice(1), '--help'], ctx);
    ctx.out(mainHelp());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    ctx.out(version());
    return 0;
  }
  const { cmd, rest } = findCommand(argv);
  if (!cmd) {
    const group = commands.filter((c) => c.name.startsWith(`${argv[0]} `));
    if (group.length) {
      ctx.err(
        `pinhole ${argv[0]}: missing sub-command. One of:\n${group.map((c) => `  ${usageOf(c)}  — ${c.summary}`).join('\n')}`,
      );
    } else {
      ctx.err(`pinhole: unknown command "${argv[0]}". Run \`pinhole --help\` for the list.`);
    }
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...(cmd.options ?? {}), config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    ctx.err(`pinhole ${cmd.name}: ${errorMessage(e)}\nUsage: ${usageOf(cmd)}`);
    return 2;
  }
  if (parsed.values.help) {
    ctx.out(commandHelp(cmd));
    return 0;
  }
  if (!cmd.allowPositionals && parsed.positionals.length) {
    ctx.err(`pinhole ${cmd.name}: unexpected argument "${parsed.positionals[0]}"\nUsage: ${usageOf(cmd)}`);
    return 2;
  }
  const { config, help: _help, ...values } = parsed.values;
  try {
    return await cmd.run(
      { values, positionals: parsed.positionals },
      { ...ctx, configFlag: config as string | undefined },
    );
  } catch (e) {
    if (e instanceof ConfigError) {
      ctx.err(e.message);
      return e.exitCode;
    }
    if (isPinholeError(e)) {
      ctx.err(`pinhole ${cmd.name}: ${e.message}`);
      return e.exitCode;
    }
    ctx.err(`pinhole ${cmd.name}: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}

const isMain =
  process.argv[1] && path.resolve(process.argv[1]).replace(/\.ts$/, '.js').endsWith(path.join('cli', 'main.js'));
if (isMain) {
  runCli(process.argv.slice(2), {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  }).then(
    (code) => {
      // `run` returns -1 and keeps the process alive itself; every other command ends here, even if a library left
      // a handle open. stdout/stderr are synchronous for files and pipes on Linux, so nothing is cut off.
      if (code !== -1) process.exit(code);
    },
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
