import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/tmp.js';

export const TOKEN = 'sync-test-token-0123456789';

export interface SyncStatus {
  targets: {
    name: string;
    queued: number;
    uploading: number;
    done: number;
    failed: number;
    pendingBytes: number;
    lastSuccess: string | null;
    lastError: string | null;
  }[];
  mqtt: { connected: boolean; lastError: string | null } | null;
}

/** A real daemon (sim camera, small stills) with the given `sync:` / `mqtt:` YAML and an API token. */
export class SyncDaemon extends TestDaemon {
  url = '';
  constructor(
    readonly extra: string,
    env: NodeJS.ProcessEnv = {},
  ) {
    super('', env);
    this.writeConfig(
      `#full\ndataDir: ./data\ncontrol:\n  socket: ./control.sock\nmodels:\n  dir: ./models\nlog:\n  level: info\nweb:\n  host: 127.0.0.1\n  port: 0\n  auth:\n    apiTokens: [${TOKEN}]\ngpio:\n  backend: none\ncamera:\n  backend: sim\n  still:\n    width: 640\n    height: 480\nstorage:\n  minFreeMB: 0\nvision:\n  faces:\n    enabled: false\n${extra}`,
    );
  }

  get dataDir(): string {
    return path.join(this.t.dir, 'data');
  }

  /** A daemon start on a machine shared with other test runs may take long: generous by default. */
  override async start(waitFor = /app: ready/, timeoutMs = 120_000): Promise<void> {
    await super.start(waitFor, timeoutMs);
    const m = /web: listening url=(http:\/\/[0-9.:]+)/.exec(this.output);
    this.url = m ? m[1] : '';
  }

  status(cmd: 'status' | 'now' | 'retry' = 'status'): SyncStatus {
    const r = this.cli(['sync', cmd, '--json']);
    if (r.code !== 0) throw new Error(`pinhole sync ${cmd} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as SyncStatus;
  }

  capture(): string {
    const r = this.cli(['capture']);
    if (r.code !== 0) throw new Error(`capture failed: ${r.stderr}`);
    return r.stdout.split(' ')[0].trim();
  }

  async api(method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.url}${p}`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, json };
  }

  /**
   * Waits until `pred` holds for the JSON status: polled through GET /api/sync (cheap), then confirmed through
   * `pinhole sync status --json` (the contract), which is what it returns. Each CLI call is a Node start: polling
   * with it alone would load a busy machine for no gain.
   */
  async waitStatus(pred: (s: SyncStatus) => boolean, timeoutMs = 120_000): Promise<SyncStatus> {
    let last: SyncStatus | undefined;
    try {
      await waitUntil(
        async () => {
          const api = await this.api('GET', '/api/sync').catch(() => undefined);
          const targets = (api?.json as { targets?: SyncStatus['targets'] } | undefined)?.targets;
          if (api?.status !== 200 || !targets || !pred({ targets, mqtt: last?.mqtt ?? null })) return false;
          last = this.status();
          return pred(last);
        },
        timeoutMs,
        250,
      );
    } catch {
      throw new Error(`sync status never matched; last: ${JSON.stringify(last)}\n${this.output.slice(-3000)}`);
    }
    return last as SyncStatus;
  }
}

export function writeRcloneConf(file: string, text: string, mode = 0o600): void {
  writeFileSync(file, text);
  chmodSync(file, mode);
}

export function rcloneObscure(p: string): string {
  return execFileSync('rclone', ['obscure', p], { encoding: 'utf8' }).trim();
}
