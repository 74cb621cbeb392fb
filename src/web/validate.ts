import { ValidationError } from '../util/errors.js';

/**
 * Request values that name things on disk are checked here with strict patterns before any service sees them;
 * the gallery checks again. Nothing from a request ever becomes part of a path unchecked.
 */
export const PHOTO_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;
export const VARIANT = /^[a-z0-9][a-z0-9_-]{0,47}$/;
export const FILTER_NAME = /^[a-z][a-z0-9-]{0,47}$/;
export const CURSOR = /^[A-Za-z0-9_.:=-]{1,200}$/;
export const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;

export const PAGE_DEFAULT = 30;
export const PAGE_MAX = 100;
export const ZIP_MAX_PHOTOS = 200;

export function photoId(v: unknown): string {
  if (typeof v !== 'string' || !PHOTO_ID.test(v))
    throw new ValidationError('invalid photo id', undefined, 'invalid-id');
  return v;
}

export function variantName(v: unknown): string {
  if (v === undefined || v === '') return 'original';
  if (typeof v !== 'string' || !VARIANT.test(v))
    throw new ValidationError('invalid variant name', undefined, 'invalid-variant');
  return v;
}

export function filterName(v: unknown, what: string): string {
  if (typeof v !== 'string' || !FILTER_NAME.test(v)) throw new ValidationError(`invalid ${what} name`);
  return v;
}

export function pageLimit(v: unknown): number {
  if (v === undefined || v === '') return PAGE_DEFAULT;
  if (typeof v !== 'string' || !/^\d{1,6}$/.test(v)) throw new ValidationError('limit must be a positive integer');
  // Above the maximum is clamped, not refused (API contract).
  return Math.min(PAGE_MAX, Math.max(1, Number(v)));
}

export function cursor(v: unknown): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !CURSOR.test(v)) throw new ValidationError('invalid cursor');
  return v;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function jsonObject(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (!isPlainObject(body)) throw new ValidationError('the request body must be a JSON object', undefined, 'bad-body');
  return body;
}
