import path from 'node:path';
import type { Response, Router } from 'express';
import { NotFoundError, ValidationError } from '../util/errors.js';
import type { RouteKit } from './mode-routes.js';
import type { PhotoPage } from './services.js';
import * as v from './validate.js';

export const PERSON_ID = /^person-[0-9a-f]{8}$/;
export const FACE_ID = /^p\d{8}-[0-9a-f]{8}-f\d{1,3}$/;

/** `{ enabled, people, faces, queued }`: the same numbers as `pinhole people status --json`. */
export interface PeopleCounts {
  enabled: boolean;
  people: number;
  faces: number;
  queued: number;
  [extra: string]: unknown;
}

export interface PersonCard {
  id: string;
  name: string | null;
  faces: number;
  photos: number;
  /** Face id of the card's thumbnail. */
  cover: string;
}

/** What the People routes need (the composition root adapts the People component). Errors as in services.ts. */
export interface WebPeople {
  overview(): Promise<{ status: PeopleCounts; people: PersonCard[] }>;
  /** Turning it off deletes every descriptor. */
  setEnabled(on: boolean): Promise<PeopleCounts>;
  person(id: string): Promise<PersonCard & { faceList: { id: string; photoId: string; box: number[] }[] }>;
  rename(id: string, name: string | null): Promise<PersonCard>;
  merge(into: string, from: string): Promise<PersonCard>;
  remove(id: string): Promise<void>;
  removeFace(id: string, faceId: string): Promise<{ face: string; person: string }>;
  photos(id: string, opts: { cursor?: string; limit: number }): Promise<PhotoPage>;
  /** Absolute path of a face thumbnail (JPEG). */
  faceThumb(faceId: string): Promise<string>;
}

function personId(x: unknown): string {
  if (typeof x !== 'string' || !PERSON_ID.test(x))
    throw new ValidationError('invalid person id', undefined, 'invalid-id');
  return x;
}

function faceId(x: unknown): string {
  if (typeof x !== 'string' || !FACE_ID.test(x)) throw new ValidationError('invalid face id', undefined, 'invalid-id');
  return x;
}

/**
 * People (all behind the same auth as the rest of the API):
 * `GET /api/people` · `POST /api/people/enable|disable` · `GET|PATCH|DELETE /api/people/:id` ·
 * `POST /api/people/:id/merge {from}` · `DELETE /api/people/:id/faces/:faceId` · `GET /api/people/:id/photos` ·
 * `GET /api/people/faces/:faceId/thumb`.
 */
export function mountPeopleRoutes(
  api: Router,
  people: WebPeople | undefined,
  kit: RouteKit & { sendFile: (res: Response, file: string) => Promise<void> },
): void {
  const { authed, json, h } = kit;
  const need = (): WebPeople => {
    if (!people) throw new NotFoundError('People is not available');
    return people;
  };
  api.get(
    '/people',
    authed,
    h(async (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await need().overview());
    }),
  );
  for (const [action, on] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    api.post(
      `/people/${action}`,
      authed,
      json,
      h(async (_req, res) => {
        res.json({ status: await need().setEnabled(on) });
      }),
    );
  }
  api.get(
    '/people/faces/:faceId/thumb',
    authed,
    h(async (req, res) => {
      const file = await need().faceThumb(faceId(req.params.faceId));
      if (!path.isAbsolute(file)) throw new Error('face thumbnail path is not absolute');
      await kit.sendFile(res, file);
    }),
  );
  api.get(
    '/people/:id',
    authed,
    h(async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({ person: await need().person(personId(req.params.id)) });
    }),
  );
  api.patch(
    '/people/:id',
    authed,
    json,
    h(async (req, res) => {
      const body = v.jsonObject(req.body);
      if (!('name' in body)) throw new ValidationError('give a "name" (a string, or null to clear it)');
      if (body.name !== null && typeof body.name !== 'string')
        throw new ValidationError('name must be a string or null');
      res.json({ person: await need().rename(personId(req.params.id), body.name as string | null) });
    }),
  );
  api.delete(
    '/people/:id',
    authed,
    h(async (req, res) => {
      await need().remove(personId(req.params.id));
      res.status(204).end();
    }),
  );
  api.post(
    '/people/:id/merge',
    authed,
    json,
    h(async (req, res) => {
      const body = v.jsonObject(req.body);
      res.json({ person: await need().merge(personId(req.params.id), personId(body.from)) });
    }),
  );
  api.delete(
    '/people/:id/faces/:faceId',
    authed,
    h(async (req, res) => {
      res.json(await need().removeFace(personId(req.params.id), faceId(req.params.faceId)));
    }),
  );
  api.get(
    '/people/:id/photos',
    authed,
    h(async (req, res) => {
      const limit = v.pageLimit(req.query.limit);
      const cursor = v.cursor(req.query.cursor);
      const page = await need().photos(personId(req.params.id), { limit, ...(cursor ? { cursor } : {}) });
      res.setHeader('Cache-Control', 'no-store');
      res.json({ photos: page.photos, nextCursor: page.nextCursor ?? null });
    }),
  );
}
