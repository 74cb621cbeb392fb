import { promises as fs } from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { ConfigEdit } from '../config/writer.js';
import {
  ConfigError,
  errorBody,
  httpStatusOf,
  isPinholeError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  ValidationError,
} from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { type Authenticator, clientAddress, type Principal } from './auth/authenticator.js';
import type { MjpegHub } from './mjpeg-hub.js';
import { mountModeRoutes } from './mode-routes.js';
import { mountPeopleRoutes } from './people-routes.js';
import type { JobRequest, WebServices } from './services.js';
import { mountSyncRoutes } from './sync-routes.js';
import * as v from './validate.js';
import { writeZip, type ZipEntrySource } from './zip-writer.js';

const log = createLogger('web.http');

export const BODY_LIMIT = '32kb';

/** Keys only the owner changes over SSH: paths the daemon reads or writes, extra process args, credentials. */
export const SSH_ONLY_KEYS = [
  'dataDir',
  'control',
  'models',
  'web.auth.apiTokens',
  'camera.extraArgs',
  'camera.sim.images',
  'gpio.sysfsRoot',
  'sync.targets',
  'sync.rcloneConfig',
  'mqtt',
];

const HEALTHY_CAMERA = new Set(['streaming', 'capturing', 'starting', 'disabled']);

export interface AppDeps {
  services: WebServices;
  auth: Authenticator;
  hub: MjpegHub;
  staticDir: string;
  counts: () => { viewers: number; wsClients: number };
}

type Handler = (req: Request, res: Response) => Promise<void> | void;

/** Express 5 forwards rejected promises to the error handler; this only adapts the signature. */
const h =
  (fn: Handler): RequestHandler =>
  (req, res, next) => {
    Promise.resolve(fn(req, res)).catch(next);
  };

function isSafeMethod(m: string): boolean {
  return m === 'GET' || m === 'HEAD' || m === 'OPTIONS';
}

export function buildApp(deps: AppDeps): express.Express {
  const { services, auth, hub } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    // Credentials in query strings are refused everywhere except the one-time login link.
    if (req.path !== '/login') auth.rejectQueryTokens(new URL(req.originalUrl, 'http://x'));
    next();
  });

  /** Authentication first (401), then CSRF for state-changing cookie requests (403). */
  const authed: RequestHandler = (req, res, next) => {
    auth
      .require(req)
      .then((p) => {
        if (!isSafeMethod(req.method)) auth.checkCsrf(req, p);
        res.locals.principal = p;
        next();
      })
      .catch(next);
  };
  const json = express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] });

  const api = express.Router();

  api.get(
    '/health',
    h((_req, res) => {
      const camera = services.camera.status().state;
      const configErrors = services.config.get().errors.length;
      res.json({ status: HEALTHY_CAMERA.has(camera) && configErrors === 0 ? 'ok' : 'degraded', camera, configErrors });
    }),
  );

  // What the login screen needs to know; nothing else is told to an anonymous caller.
  api.get(
    '/login',
    h(async (req, res) => {
      const p = await auth.identify(req).catch(() => undefined);
      const passwordSet = (await auth.passwords.load()) !== null;
      res.setHeader('Cache-Control', 'no-store');
      res.json({
        authenticated: p !== undefined,
        passwordSet,
        ...(p?.kind === 'session' ? { csrfToken: p.session.csrf } : {}),
      });
    }),
  );

  api.post(
    '/login',
    json,
    h(async (req, res) => {
      const body = v.jsonObject(req.body);
      const { id, session } = await auth.login(body.password, clientAddress(req));
      res.setHeader('Set-Cookie', auth.sessionCookies(id, session));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ ok: true, csrfToken: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() });
    }),
  );

  api.post(
    '/logout',
    authed,
    h((_req, res) => {
      const p = res.locals.principal as Principal;
      if (p.kind === 'session') auth.sessions.destroy(p.sessionId);
      res.setHeader('Set-Cookie', auth.clearCookies());
      res.status(204).end();
    }),
  );

  api.get(
    '/status',
    authed,
    h(async (_req, res) => {
      const snap = services.config.get();
      const report = await services.system.status();
      res.setHeader('Cache-Control', 'no-store');
      res.json({ ...report, camera: services.camera.status(), configErrors: snap.errors, web: deps.counts() });
    }),
  );

  api.post(
    '/capture',
    authed,
    json,
    h(async (req, res) => {
      const body = v.jsonObject(req.body);
      let ev: number | undefined;
      if (body.ev !== undefined && body.ev !== null) {
        if (typeof body.ev !== 'number' || !Number.isFinite(body.ev) || body.ev < -8 || body.ev > 8)
          throw new ValidationError('ev must be a number from -8 to 8');
        ev = body.ev;
      }
      const recipe =
        body.recipe === undefined || body.recipe === null || body.recipe === ''
          ? undefined
          : v.filterName(body.recipe, 'recipe');
      const photo = await services.capture({
        trigger: 'web',
        ...(ev === undefined ? {} : { ev }),
        ...(recipe ? { recipe } : {}),
      });
      res.status(201).json({ photo });
    }),
  );

  api.get(
    '/photos',
    authed,
    h(async (req, res) => {
      const limit = v.pageLimit(req.query.limit);
      const cursor = v.cursor(req.query.cursor);
      const page = await services.gallery.list({ limit, ...(cursor ? { cursor } : {}) });
      res.setHeader('Cache-Control', 'no-store');
      res.json({ photos: page.photos, nextCursor: page.nextCursor ?? null });
    }),
  );

  api.get(
    '/archive.zip',
    authed,
    h(async (req, res) => {
      const raw = req.query.ids;
      if (typeof raw !== 'string' || raw === '')
        throw new ValidationError('ids must list photo ids separated by commas');
      const ids = [...new Set(raw.split(','))];
      if (ids.length > v.ZIP_MAX_PHOTOS) throw new ValidationError(`at most ${v.ZIP_MAX_PHOTOS} photos per zip`);
      const variant = v.variantName(req.query.variant);
      const entries: ZipEntrySource[] = [];
      // Resolve every file before the first byte, so a bad id is a clean 404 and not a truncated zip.
      for (const id of ids.map(v.photoId)) {
        const file = await services.gallery.filePath(id, variant);
        const st = await statFile(file);
        entries.push({
          name: `${id}${variant === 'original' ? '' : `-${variant}`}${path.extname(file) || '.jpg'}`,
          mtime: st.mtime,
          open: () => fsStream(file),
        });
      }
      res.writeHead(200, {
        'Content-Type': 'application/zip',
        'Content-Disposition': 'attachment; filename="pinhole-photos.zip"',
        'Cache-Control': 'no-store',
      });
      await writeZip(res, entries);
      res.end();
    }),
  );

  api.get(
    '/photos/:id',
    authed,
    h(async (req, res) => {
      res.json({ photo: await services.gallery.get(v.photoId(req.params.id)) });
    }),
  );

  api.get(
    '/photos/:id/file',
    authed,
    h(async (req, res) => {
      const id = v.photoId(req.params.id);
      const variant = v.variantName(req.query.variant);
      const file = await services.gallery.filePath(id, variant);
      const download =
        req.query.download === '1'
          ? `pinhole-${id}${variant === 'original' ? '' : `-${variant}`}${path.extname(file) || '.jpg'}`
          : undefined;
      await sendFile(res, file, { maxAge: 0, download });
    }),
  );

  api.get(
    '/photos/:id/thumb',
    authed,
    h(async (req, res) => {
      const id = v.photoId(req.params.id);
      await sendFile(res, await services.gallery.thumbPath(id), { maxAge: 3600 });
    }),
  );

  api.delete(
    '/photos/:id',
    authed,
    h(async (req, res) => {
      await services.gallery.delete(v.photoId(req.params.id));
      res.status(204).end();
    }),
  );

  api.post(
    '/photos/:id/variants',
    authed,
    json,
    h(async (req, res) => {
      const id = v.photoId(req.params.id);
      const body = v.jsonObject(req.body);
      const hasRecipe = body.recipe !== undefined;
      const hasFilter = body.filter !== undefined;
      if (hasRecipe === hasFilter) throw new ValidationError('give exactly one of "recipe" or "filter"');
      const jobReq: JobRequest = hasRecipe
        ? { recipe: v.filterName(body.recipe, 'recipe') }
        : { filter: v.filterName(body.filter, 'filter') };
      if (body.params !== undefined) jobReq.params = filterParams(body.params);
      const job = await services.jobs.enqueue(id, jobReq);
      res.status(202).json({ job });
    }),
  );

  api.get(
    '/filters',
    authed,
    h(async (_req, res) => {
      res.json(await services.jobs.catalog());
    }),
  );

  api.get(
    '/jobs/:id',
    authed,
    h(async (req, res) => {
      const id = req.params.id;
      if (typeof id !== 'string' || !v.JOB_ID.test(id))
        throw new ValidationError('invalid job id', undefined, 'invalid-id');
      if (!services.jobs.get) throw new NotFoundError('job not found');
      res.json({ job: await services.jobs.get(id) });
    }),
  );

  api.get(
    '/config',
    authed,
    h((_req, res) => {
      const snap = services.config.get();
      res.setHeader('Cache-Control', 'no-store');
      res.json({
        config: redactConfig(snap.config),
        errors: snap.errors,
        file: snap.file ?? null,
        schema: services.config.schema(),
        sshOnly: SSH_ONLY_KEYS,
      });
    }),
  );

  api.put(
    '/config',
    authed,
    json,
    h(async (req, res) => {
      const edits = configEdits(v.jsonObject(req.body));
      if (edits.length === 0) throw new ValidationError('no changes given');
      const config = await services.config.update(edits);
      res.json({ config: redactConfig(config), errors: services.config.get().errors });
    }),
  );

  for (const action of ['shutdown', 'reboot'] as const) {
    api.post(
      `/system/${action}`,
      authed,
      h(async (_req, res) => {
        await services.system[action]();
        res.status(202).json({ ok: true, action });
      }),
    );
  }

  api.post(
    '/time',
    authed,
    json,
    h(async (req, res) => {
      const body = v.jsonObject(req.body);
      const now = body.now;
      // 2020-01-01 .. 2100-01-01: a phone's clock, not garbage.
      if (typeof now !== 'number' || !Number.isFinite(now) || now < 1_577_836_800_000 || now > 4_102_444_800_000)
        throw new ValidationError('now must be a time in ms since 1970 (2020..2100)');
      await services.system.setTime(Math.round(now));
      res.json({ ok: true });
    }),
  );

  mountModeRoutes(api, services.modes, { authed, json, h });
  mountPeopleRoutes(api, services.people, {
    authed,
    json,
    h,
    sendFile: (res, file) => sendFile(res, file, { maxAge: 3600 }),
  });
  mountSyncRoutes(api, services, authed);

  // Any other /api path is a JSON 404, never the UI page; also without credentials (it reveals nothing).
  api.all('/{*rest}', () => {
    throw new NotFoundError('no such API endpoint');
  });

  app.use('/api', api);

  app.get(
    '/stream.mjpg',
    authed,
    h((_req, res) => {
      hub.attach(res);
    }),
  );

  // One-time login link (printed by `npm start`): sets the session, then the UI.
  app.get(
    '/login',
    h(async (req, res) => {
      const token = typeof req.query.otl === 'string' ? req.query.otl : undefined;
      res.setHeader('Cache-Control', 'no-store');
      if (token && token.length <= 100) {
        const made = await auth.consumeOneTimeLogin(token);
        if (made) {
          res.setHeader('Set-Cookie', auth.sessionCookies(made.id, made.session));
          res.redirect(302, '/');
          return;
        }
        res.redirect(302, '/#/login-link-expired');
        return;
      }
      res.redirect(302, '/');
    }),
  );

  app.use(
    '/assets',
    express.static(path.join(deps.staticDir, 'assets'), {
      index: false,
      dotfiles: 'ignore',
      immutable: true,
      maxAge: '365d',
      fallthrough: false,
    }),
  );
  app.use(express.static(deps.staticDir, { index: false, dotfiles: 'ignore', maxAge: 0 }));

  // The single page app: every other GET is the UI (it shows the login screen when not signed in).
  app.get(
    '/{*rest}',
    h(async (req, res) => {
      if (!req.accepts('html')) throw new NotFoundError();
      const index = path.join(deps.staticDir, 'index.html');
      let html: string;
      try {
        html = await fs.readFile(index, 'utf8');
      } catch {
        res.status(503).type('text/plain').send('The web UI is not built. Run `npm run build:ui`.\n');
        return;
      }
      res.setHeader('Cache-Control', 'no-cache');
      res.type('html').send(html);
    }),
  );

  app.use(() => {
    throw new NotFoundError();
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(req, res, err);
  });

  return app;
}

/** The one place errors become HTTP responses. */
export function sendError(req: Request, res: Response, err: unknown): void {
  const e = toPinholeError(err);
  const status = httpStatusOf(e);
  if (status >= 500 && !isPinholeError(e))
    log.error('request failed', { method: req.method, path: req.path, error: err, stack: (err as Error)?.stack });
  else if (status >= 500)
    log.warn('request refused', { method: req.method, path: req.path, code: (e as { code?: string }).code, error: e });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof RateLimitedError) res.setHeader('Retry-After', String(e.retryAfterSeconds));
  const body = errorBody(e);
  if (e instanceof ConfigError) body.error.details = { errors: e.errors };
  res.removeHeader('Content-Disposition');
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).json(body);
}

/** Errors thrown by express and body-parser carry `status`/`type`; give them our codes. */
function toPinholeError(err: unknown): unknown {
  if (isPinholeError(err)) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; code?: string };
  if (e?.type === 'entity.too.large') return new PayloadTooLargeError(`request body too large (limit ${BODY_LIMIT})`);
  if (e?.type === 'entity.parse.failed') return new ValidationError('malformed JSON body', undefined, 'malformed-json');
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status === 404) return new NotFoundError();
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new ValidationError('bad request', undefined, 'bad-request');
  if (e?.code === 'ENOENT') return new NotFoundError('file not found');
  return err;
}

async function statFile(file: string): Promise<{ mtime: Date; size: number }> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new NotFoundError('file not found');
    return st;
  } catch (e) {
    if (isPinholeError(e)) throw e;
    throw new NotFoundError('file not found');
  }
}

async function* fsStream(file: string): AsyncIterable<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      // Copy: the buffer is reused for the next read while this chunk may still sit in the socket queue.
      yield Buffer.from(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

const MIME: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

function sendFile(res: Response, file: string, opts: { maxAge: number; download?: string }): Promise<void> {
  if (!path.isAbsolute(file)) return Promise.reject(new Error(`gallery returned a relative path: ${file}`));
  const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'Content-Type': type,
      'Cache-Control': `private, max-age=${opts.maxAge}`,
    };
    if (opts.download) headers['Content-Disposition'] = `attachment; filename="${opts.download}"`;
    res.sendFile(file, { dotfiles: 'allow', headers, lastModified: true, cacheControl: false }, (err) => {
      if (!err) resolve();
      else if ((err as { code?: string }).code === 'ECONNABORTED' || res.headersSent) resolve();
      else reject((err as { status?: number }).status === 404 ? new NotFoundError('file not found') : err);
    });
  });
}

function filterParams(p: unknown): Record<string, string | number | boolean> {
  if (!v.isPlainObject(p)) throw new ValidationError('params must be an object');
  const entries = Object.entries(p);
  if (entries.length > 32) throw new ValidationError('too many params');
  const out: Record<string, string | number | boolean> = {};
  for (const [k, val] of entries) {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,47}$/.test(k)) throw new ValidationError(`invalid param name: ${k.slice(0, 50)}`);
    if (typeof val === 'number' ? !Number.isFinite(val) : typeof val !== 'string' && typeof val !== 'boolean')
      throw new ValidationError(`param ${k} must be a string, number or boolean`);
    if (typeof val === 'string' && val.length > 200) throw new ValidationError(`param ${k} is too long`);
    out[k] = val as string | number | boolean;
  }
  return out;
}

function isSshOnly(segments: string[]): boolean {
  const dotted = segments.join('.');
  return SSH_ONLY_KEYS.some((k) => dotted === k || dotted.startsWith(`${k}.`) || k.startsWith(`${dotted}.`));
}

/**
 * PUT /api/config takes a partial config: `{ "camera": { "preview": { "fps": 10 } } }`. Each leaf (arrays are
 * leaves) becomes one edit; `null` removes the key, so it goes back to its default.
 */
export function configEdits(body: Record<string, unknown>): ConfigEdit[] {
  const edits: ConfigEdit[] = [];
  const walk = (node: unknown, segs: string[]) => {
    if (segs.length > 8) throw new ValidationError('config too deeply nested');
    if (v.isPlainObject(node) && Object.keys(node).length > 0 && !(segs.length > 0 && isRecordKey(segs))) {
      for (const [k, val] of Object.entries(node)) {
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k) || k === '__proto__' || k === 'constructor' || k === 'prototype')
          throw new ValidationError(`invalid config key: ${k.slice(0, 64)}`);
        walk(val, [...segs, k]);
      }
      return;
    }
    if (segs.length === 0) return;
    if (isSshOnly(segs))
      throw new ValidationError(
        `${segs.join('.')} can only be changed over SSH (edit the config file)`,
        undefined,
        'ssh-only',
      );
    edits.push({ path: segs, value: node === null ? undefined : node });
    if (edits.length > 200) throw new ValidationError('too many changes at once');
  };
  walk(body, []);
  return edits;
}

/** Maps whose keys are names the owner chooses (recipes, per-namespace log levels) are replaced whole. */
function isRecordKey(segs: string[]): boolean {
  const dotted = segs.join('.');
  return dotted === 'filters.recipes' || dotted === 'log.namespaces';
}

function redactConfig<T>(config: T): T {
  const copy = structuredClone(config) as { web?: { auth?: { apiTokens?: string[] } } };
  if (copy.web?.auth?.apiTokens) copy.web.auth.apiTokens = copy.web.auth.apiTokens.map((t) => `…${t.slice(-4)}`);
  return copy as T;
}
