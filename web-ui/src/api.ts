/** Thin client for the daemon's JSON API. Errors come back as ApiError with the server's code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { errors?: string[] },
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface Photo {
  id: string;
  takenAt: string;
  seq?: number;
  width?: number;
  height?: number;
  variants?: { name: string; recipe?: unknown }[];
  /** Best shot's score breakdown (photos taken in that mode). */
  bestShot?: import('./views/alternates').BestShotInfo;
  /** Upload state over every sync target; null when no target is configured. */
  sync?: { state: 'synced' | 'queued' | 'uploading' | 'failed'; targets: Record<string, string> } | null;
  /** Night mode's record (src/capture/night-shot.ts NightMeta). */
  night?: { frames: number; merged: number; rejectedTiles: number; fellBack: boolean; reason?: string };
}

export interface Job {
  id: string;
  photoId: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  progress?: number;
  variant?: string;
  error?: string;
}

export interface CatalogEntry {
  name: string;
  title?: string;
}

function csrfToken(): string {
  const m = /(?:^|;\s*)pinhole_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : '';
}

const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(l: () => void): () => void {
  unauthorizedListeners.add(l);
  return () => unauthorizedListeners.delete(l);
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken();
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'offline', 'The camera is not reachable. Check the Wi-Fi connection.');
  }
  if (res.status === 204) return undefined as T;
  let data: unknown;
  try {
    data = await res.json();
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: { errors?: string[] } } })?.error;
    const retry = Number(res.headers.get('Retry-After')) || undefined;
    const e = new ApiError(res.status, err?.code ?? 'http', err?.message ?? `HTTP ${res.status}`, err?.details, retry);
    if (res.status === 401 && path !== '/api/login') for (const l of unauthorizedListeners) l();
    throw e;
  }
  return data as T;
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(0)} MB`;
  return `${Math.round(n / 1e3)} kB`;
}
