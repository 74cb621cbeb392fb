import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cliPath, repoRoot, sharedDir, tempDir, waitUntil } from './tmp.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCliSync(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, PINHOLE_CONFIG: '', ...opts.env },
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function hasExited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

/** A daemon in a temp folder: its own config, data dir and control socket. */
export class TestDaemon {
  readonly t = tempDir('pinhole-daemon-');
  readonly configFile = path.join(this.t.dir, 'config.yaml');
  readonly socket = path.join(this.t.dir, 'control.sock');
  proc?: ChildProcess;
  output = '';

  constructor(
    extraYaml = '',
    readonly env: NodeJS.ProcessEnv = {},
  ) {
    this.writeConfig(extraYaml);
  }

  baseYaml(): string {
    return `dataDir: ./data\ncontrol:\n  socket: ./control.sock\nmodels:\n  dir: ./models\nweb:\n  host: 127.0.0.1\n  port: 0\ngpio:\n  backend: none\ncamera:\n  backend: none\n`;
  }

  writeConfig(extraYaml: string): void {
    writeFileSync(this.configFile, extraYaml.startsWith('#full\n') ? extraYaml : this.baseYaml() + extraYaml);
  }

  cli(args: string[], input?: string): CliResult {
    return runCliSync([...args, '--config', this.configFile], { input, env: this.env });
  }

  async start(waitFor = /app: ready/, timeoutMs = 30_000): Promise<void> {
    this.output = '';
    this.proc = spawn(process.execPath, [cliPath, 'run', '--config', this.configFile], {
      cwd: repoRoot,
      env: { ...process.env, PINHOLE_CONFIG: '', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    const proc = this.proc;
    await waitUntil(() => waitFor.test(this.output) || hasExited(proc), timeoutMs);
    if (hasExited(proc)) throw new Error(`daemon exited ${proc.exitCode ?? proc.signalCode}:\n${this.output}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    // A process that died of a signal has exitCode null and signalCode set; its 'exit' already fired.
    if (!p || hasExited(p)) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    return exited;
  }

  async cleanup(): Promise<void> {
    await this.stop('SIGKILL').catch(() => {});
    this.t.cleanup();
  }
}

/**
 * A whole config (`#full`, for TestDaemon.writeConfig) for a daemon with the simulated camera showing the photos of
 * `images`, the shared models, no GPIO and an ephemeral web port. `camera` lines go inside the `camera:` section
 * (indented by two spaces already), `web` lines inside `web:`, `more` lines at the end as top-level YAML.
 */
export function simDaemonYaml(
  images: string,
  opts: { camera?: string[]; web?: string[]; more?: string[] } = {},
): string {
  return `#full\n${[
    'dataDir: ./data',
    'control:',
    '  socket: ./control.sock',
    'camera:',
    '  backend: sim',
    `  sim: { images: ${JSON.stringify(images)} }`,
    ...(opts.camera ?? []),
    'gpio:',
    '  backend: none',
    'models:',
    `  dir: ${JSON.stringify(path.join(sharedDir, 'models'))}`,
    'web:',
    '  host: 127.0.0.1',
    '  port: 0',
    ...(opts.web ?? []),
    ...(opts.more ?? []),
    '',
  ].join('\n')}`;
}
