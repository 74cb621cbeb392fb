import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { errorBody, httpStatusOf, UnavailableError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import type { Authenticator } from './auth/authenticator.js';
import type { WebEvent, WebEvents } from './services.js';

const log = createLogger('web.ws');
const MAX_CLIENTS = 50;
/** A client that cannot keep up loses events rather than growing our memory. */
const MAX_BUFFERED = 512 * 1024;
const PING_MS = 25_000;

/**
 * WebSocket `/ws`: pushes daemon events as `{ "type", "data" }` JSON text frames. Authentication happens on the
 * upgrade (cookie session or bearer token); a cookie session must come from our own origin, because browsers
 * send cookies on cross-site WebSocket handshakes.
 */
export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  private unsubscribe?: () => void;
  private pingTimer?: NodeJS.Timeout;
  private readonly alive = new WeakSet<WebSocket>();

  constructor(
    private readonly auth: Authenticator,
    private readonly events: WebEvents,
  ) {}

  start(): void {
    this.unsubscribe = this.events.subscribe((e) => this.broadcast(e));
    this.pingTimer = setInterval(() => {
      for (const ws of this.wss.clients) {
        if (!this.alive.has(ws)) {
          ws.terminate();
          continue;
        }
        this.alive.delete(ws);
        ws.ping();
      }
    }, PING_MS);
    this.pingTimer.unref();
  }

  get clientCount(): number {
    return this.wss.clients.size;
  }

  broadcast(event: WebEvent): void {
    if (this.wss.clients.size === 0) return;
    let text: string;
    try {
      text = JSON.stringify(event);
    } catch (e) {
      log.warn('unserialisable event dropped', { type: event.type, error: e });
      return;
    }
    for (const ws of this.wss.clients) {
      if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < MAX_BUFFERED) ws.send(text);
    }
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      this.auth.rejectQueryTokens(url);
      const p = await this.auth.require(req);
      if (p.kind === 'session') {
        const origin = req.headers.origin;
        if (origin !== undefined && !this.auth.sameOrigin(req, origin))
          throw Object.assign(new Error('cross-origin'), { status: 403 });
      }
      if (this.wss.clients.size >= MAX_CLIENTS)
        throw new UnavailableError('too many WebSocket clients', 'too-many-clients');
    } catch (e) {
      const status = (e as { status?: number }).status ?? httpStatusOf(e);
      const body = JSON.stringify(
        status === 403 ? { error: { code: 'csrf', message: 'cross-origin WebSocket refused' } } : errorBody(e),
      );
      socket.end(
        `HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.alive.add(ws);
      ws.on('pong', () => this.alive.add(ws));
      ws.on('error', () => ws.terminate());
      // Clients only listen; anything they send is ignored.
      ws.send(JSON.stringify({ type: 'hello', data: { time: Date.now() } }));
    });
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
