import type { RequestHandler, Router } from 'express';
import { NotFoundError, ValidationError } from '../util/errors.js';
import type { PhotoRecord } from './services.js';
import * as v from './validate.js';

/**
 * What the capture-mode routes need (the composition root adapts the modes component): the smile and gesture
 * shutters armed and disarmed, best shot, and promoting a best-shot alternate.
 */
export interface WebModes {
  /** `{ mode, state, ... }` as the `mode` WebSocket event carries it. */
  status(): Record<string, unknown>;
  /** Throws UnavailableError (503) with the reason when the mode cannot run (model missing, no camera). */
  arm(mode: 'smile-shutter' | 'gesture-shutter'): Promise<Record<string, unknown>>;
  disarm(): Promise<Record<string, unknown>>;
  bestShot(): Promise<PhotoRecord>;
  /** Takes a night burst and queues its merge; resolves once the burst is taken (the photo comes later). */
  night(): Promise<{ jobId: string; frames: number; burstMs: number }>;
  /**
   * Scan mode: takes a photo and queues its restoration (the `scan` variant). `corners`: the owner's outline of the
   * print as fractions of the image, or undefined to detect it. Throws ValidationError (400) for bad corners.
   */
  scan(corners: unknown): Promise<{ photo: PhotoRecord; jobId: string }>;
  /** Scan mode selected (`on`) or left: the daemon outlines the print on preview frames meanwhile (`scan` events). */
  scanOutline(on: boolean): Promise<Record<string, unknown>>;
  /** The restoration of stored photo `id` again (corners dragged in the viewer). */
  rescan(id: string, corners: unknown): Promise<{ jobId: string }>;
  /** Alternate `name` becomes the photo; the old photo an alternate. Throws NotFoundError. */
  promote(photoId: string, name: string): Promise<{ photo: PhotoRecord; removedVariants: string[] }>;
}

export interface RouteKit {
  authed: RequestHandler;
  json: RequestHandler;
  h: (
    fn: (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => Promise<void> | void,
  ) => RequestHandler;
}

/**
 * `GET /api/modes`, `POST /api/modes/smile-shutter|gesture-shutter` (202: armed), `POST /api/modes/disarm`,
 * `POST /api/modes/best-shot` (201: the photo), `POST /api/modes/night-burst` (202: `{ night: { jobId, frames,
 * burstMs } }`, the merged photo arrives as a new photo when the job is done), `POST /api/modes/scan` (202: `{ scan: {
 * photo, jobId } }`, the `scan` variant arrives when the job is done), `POST /api/photos/:id/scan` (202: `{ scan: { jobId
 * } }`), `POST /api/modes/scan/outline` `{ on }` (the print's outline on the `scan` WebSocket event while on; a
 * watch lasts 60 s unless renewed), `POST /api/photos/:id/alternates/:name/promote`.
 */
export function mountModeRoutes(api: Router, modes: WebModes | undefined, { authed, json, h }: RouteKit): void {
  const need = (): WebModes => {
    if (!modes) throw new NotFoundError('capture modes are not available');
    return modes;
  };
  api.get(
    '/modes',
    authed,
    h((_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({ mode: need().status() });
    }),
  );
  for (const mode of ['smile-shutter', 'gesture-shutter'] as const) {
    api.post(
      `/modes/${mode}`,
      authed,
      json,
      h(async (_req, res) => {
        res.status(202).json({ mode: await need().arm(mode) });
      }),
    );
  }
  api.post(
    '/modes/disarm',
    authed,
    json,
    h(async (_req, res) => {
      res.json({ mode: await need().disarm() });
    }),
  );
  api.post(
    '/modes/best-shot',
    authed,
    json,
    h(async (_req, res) => {
      res.status(201).json({ photo: await need().bestShot() });
    }),
  );
  api.post(
    '/modes/night-burst',
    authed,
    json,
    h(async (_req, res) => {
      res.status(202).json({ night: await need().night() });
    }),
  );
  api.post(
    '/modes/scan',
    authed,
    json,
    h(async (req, res) => {
      res.status(202).json({ scan: await need().scan((req.body as { corners?: unknown } | undefined)?.corners) });
    }),
  );
  api.post(
    '/modes/scan/outline',
    authed,
    json,
    h(async (req, res) => {
      const on = (req.body as { on?: unknown } | undefined)?.on;
      if (typeof on !== 'boolean') throw new ValidationError('on must be true (scan mode selected) or false (left)');
      res.json({ outline: await need().scanOutline(on) });
    }),
  );
  api.post(
    '/photos/:id/scan',
    authed,
    json,
    h(async (req, res) => {
      const id = v.photoId(req.params.id);
      res.status(202).json({ scan: await need().rescan(id, (req.body as { corners?: unknown } | undefined)?.corners) });
    }),
  );
  api.post(
    '/photos/:id/alternates/:name/promote',
    authed,
    json,
    h(async (req, res) => {
      const id = v.photoId(req.params.id);
      const name = v.variantName(req.params.name);
      res.json(await need().promote(id, name));
    }),
  );
}
