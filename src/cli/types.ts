import type { ParseArgsConfig } from 'node:util';

export type CliOptions = NonNullable<ParseArgsConfig['options']>;

export interface CliContext {
  /** Everything the command prints for people goes here (stdout). */
  out: (line: string) => void;
  /** Errors and warnings (stderr). */
  err: (line: string) => void;
  /** --config FILE as given (every command accepts it). */
  configFlag?: string;
}

/**
 * One `pinhole` sub-command. `name` may contain a space for a two-word command (`config check`, `models install`,
 * `bench detect`, `sim press`). Options are parsed with node:util parseArgs (strict); `--config` and `--help`
 * are added for every command.
 */
export interface CliCommand {
  name: string;
  summary: string;
  /** Usage line(s) after `pinhole <name>`, e.g. `[--json] IMAGE...`. */
  usage: string;
  /** Longer help text (optional). */
  help?: string;
  options?: CliOptions;
  allowPositionals?: boolean;
  /** Returns the process exit code. Throwing a PinholeError prints its message and exits with its exitCode. */
  run(args: { values: CliValues; positionals: string[] }, ctx: CliContext): Promise<number>;
}

/** Parsed option values; cast to the type declared in `options` (string, boolean, or arrays with `multiple`). */
export type CliValues = Record<string, string | boolean | (string | boolean)[] | undefined>;
