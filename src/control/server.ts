import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ControlHandler } from '../component.js';
import { errorMessage, isPinholeError, NotFoundError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { type ControlRequest, type ControlResponse, MAX_LINE_BYTES } from './protocol.js';

const log = createLogger('control');

/**
 * The daemon's end of the control socket. A stale socket left by a killed daemon is detected (nobody answers a
 * connect) and replaced; a live one means another daemon runs, which is refused.
 */
export class ControlServer {
  private server?: net.Server;
  private readonly handlers = new Map<string, ControlHandler>();
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly socketPath: string) {}

  handle(method: string, handler: ControlHandler): void {
    this.handlers.set(method, handler);
  }

  handleAll(methods: Record<string, ControlHandler>): void {
    for (const [m, h] of Object.entries(methods)) this.handle(m, h);
  }

  get path(): string {
    return this.socketPath;
  }

  async start(): Promise<void> {
    await fs.mkdir(path.dirname(this.socketPath), { recursive: true });
    if (await isLive(this.socketPath)) {
      throw new Error(`another Pinhole daemon is already running (it answers on ${this.socketPath})`);
    }
    await fs.rm(this.socketPath, { force: true });
    const server = net.createServer((sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await fs.chmod(this.socketPath, 0o660);
    this.server = server;
    log.info('listening', { socket: this.socketPath });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
    await fs.rm(this.socketPath, { force: true });
  }

  private onConnection(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE_BYTES) {
        sock.destroy();
        return;
      }
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.dispatch(line).then((res) => {
          if (!sock.destroyed) sock.write(`${JSON.stringify(res)}\n`);
        });
        nl = buf.indexOf('\n');
      }
    });
  }

  private async dispatch(line: string): Promise<ControlResponse> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      return { id: 0, error: { code: 'invalid', message: 'request is not JSON', status: 400 } };
    }
    const handler = this.handlers.get(req.method);
    try {
      if (!handler) throw new NotFoundError(`unknown control method "${req.method}"`);
      const result = await handler(req.params ?? {});
      return { id: req.id, result: result ?? null };
    } catch (e) {
      if (isPinholeError(e))
        return { id: req.id, error: { code: e.code, message: e.message, status: e.status, details: e.details } };
      log.error('control method failed', { method: req.method, error: errorMessage(e), stack: (e as Error)?.stack });
      return { id: req.id, error: { code: 'internal', message: `internal error: ${errorMessage(e)}`, status: 500 } };
    }
  }
}

function isLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
