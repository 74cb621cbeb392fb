import type { RequestHandler, Router } from 'express';
import { UnavailableError } from '../util/errors.js';
import type { WebServices, WebSync } from './services.js';

/**
 * `GET /api/sync` (targets by name, queue, last error in words), `POST /api/sync/now|retry|pause|resume`.
 * Behind the same auth and CSRF checks as every other route.
 */
export function mountSyncRoutes(api: Router, services: WebServices, authed: RequestHandler): void {
  const sync = (): WebSync => {
    const s = services.sync?.();
    if (!s) throw new UnavailableError('sync is not running', 'sync-unavailable');
    return s;
  };
  api.get('/sync', authed, (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(sync().status());
  });
  for (const action of ['now', 'retry', 'pause', 'resume'] as const) {
    api.post(`/sync/${action}`, authed, (_req, res) => {
      res.json(sync()[action]());
    });
  }
}
