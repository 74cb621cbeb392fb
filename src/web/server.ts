import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Component } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import { createLogger } from '../util/logger.js';
import { buildApp } from './app.js';
import { Authenticator } from './auth/authenticator.js';
import { MjpegHub } from './mjpeg-hub.js';
import type { WebServices } from './services.js';
import { ensureSelfSignedCert } from './tls.js';
import { WsHub } from './ws-hub.js';

const log = createLogger('web');

export interface WebServerOptions {
  /** Folder of the built UI (index.html, assets/). Default: `<repo>/dist/web-ui`. */
  staticDir?: string;
  /** Override `web.host` / `web.port` (tests use port 0). */
  host?: string;
  port?: number;
}

export interface WebServer {
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
  /** Token for `GET /login?otl=TOKEN`: valid once, for 10 minutes. */
  createOneTimeLogin(): string;
  /** The full one-time login link (after start). */
  oneTimeLoginUrl(): string;
  readonly url: string | undefined;
  readonly component: Component;
  /** For the bench and tests: the preview fan-out. */
  readonly mjpeg: MjpegHub;
}

/** `<repo>/dist/web-ui`, found from this file whether it runs from src/ (vitest) or dist/src/ (built). */
export function defaultStaticDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'web-ui');
    dir = path.dirname(dir);
  }
  return path.resolve('dist', 'web-ui');
}

/** How long an idle keep-alive connection is kept (see start()). */
const KEEP_ALIVE_MS = 65_000;

export function createWebServer(config: PinholeConfig, services: WebServices, opts: WebServerOptions = {}): WebServer {
  let cfg = config;
  const secure = cfg.web.tls.enabled;
  const auth = new Authenticator({
    dataDir: cfg.dataDir,
    apiTokens: cfg.web.auth.apiTokens,
    sessionHours: cfg.web.auth.sessionHours,
    secure,
  });
  const hub = new MjpegHub(services.camera, cfg.web.maxViewers);
  const ws = new WsHub(auth, services.events);
  const staticDir = path.resolve(opts.staticDir ?? defaultStaticDir());
  const rel = path.relative(staticDir, path.resolve(cfg.dataDir));
  // Static files are public: the data folder (password hash, photos) must never be below them.
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel)))
    throw new Error(`the web UI folder ${staticDir} contains dataDir ${cfg.dataDir}; refusing to serve it`);
  const app = buildApp({
    services,
    auth,
    hub,
    staticDir,
    counts: () => ({ viewers: hub.viewerCount, wsClients: ws.clientCount }),
  });
  let server: http.Server | https.Server | undefined;
  let url: string | undefined;

  const start = async (): Promise<{ url: string }> => {
    await auth.sessions.load();
    if (secure) {
      const tls = await ensureSelfSignedCert(cfg.dataDir);
      server = https.createServer({ key: tls.key, cert: tls.cert }, app);
    } else {
      server = http.createServer(app);
    }
    const srv = server;
    // Slowloris guard, and a bound on idle keep-alive sockets; /stream.mjpg responses are long-lived by design.
    // Idle connections are kept for a minute, not Node's 5 s: a client that was busy (a phone's tab in the
    // background, a script) sends its next request on the connection it kept before it can see a close, and a
    // POST sent into a just-closed socket fails (ECONNRESET) without a retry. A minute of a few idle sockets is cheap.
    srv.headersTimeout = 15_000;
    srv.requestTimeout = 0;
    srv.keepAliveTimeout = KEEP_ALIVE_MS;
    srv.maxHeadersCount = 64;
    srv.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/ws') {
        socket.destroy();
        return;
      }
      ws.handleUpgrade(req, socket, head).catch(() => socket.destroy());
    });
    srv.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    const host = opts.host ?? cfg.web.host;
    const port = opts.port ?? cfg.web.port;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    ws.start();
    const addr = srv.address() as AddressInfo;
    const shownHost =
      host === '0.0.0.0' || host === '::' ? 'localhost' : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    url = `${secure ? 'https' : 'http'}://${shownHost}:${addr.port}`;
    log.info('listening', { url, tls: secure, staticDir });
    return { url };
  };

  const stop = async (): Promise<void> => {
    hub.close();
    ws.close();
    const srv = server;
    server = undefined;
    if (srv) {
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      });
    }
    await auth.sessions.flush();
  };

  const component: Component = {
    name: 'web',
    configSections: ['web', 'dataDir'],
    start: async () => {
      await start();
    },
    stop,
    reconfigure: async (next, prev) => {
      const w = next.web;
      const p = prev.web;
      if (next.dataDir !== prev.dataDir || w.host !== p.host || w.port !== p.port || w.tls.enabled !== p.tls.enabled)
        return 'restart';
      cfg = next;
      auth.update({ apiTokens: w.auth.apiTokens, sessionHours: w.auth.sessionHours });
      hub.setMaxViewers(w.maxViewers);
      return 'applied';
    },
    status: () => ({
      url,
      tls: secure,
      viewers: hub.viewerCount,
      wsClients: ws.clientCount,
      sessions: auth.sessions.size,
    }),
    controlMethods: () => ({
      'web.loginLink': async () => ({ url: oneTimeLoginUrl() }),
    }),
  };

  const oneTimeLoginUrl = (): string => {
    if (!url) throw new Error('the web server is not started');
    return `${url}/login?otl=${auth.createOneTimeLogin()}`;
  };

  return {
    start,
    stop,
    createOneTimeLogin: () => auth.createOneTimeLogin(),
    oneTimeLoginUrl,
    get url() {
      return url;
    },
    component,
    mjpeg: hub,
  };
}
