import type { PinholeConfig } from '../config/schema.js';
import type { ConfigEdit } from '../config/writer.js';
import type { WebModes } from './mode-routes.js';
import type { WebPeople } from './people-routes.js';

/**
 * What the web server needs from the rest of the daemon. The web layer imports none of the camera, gallery,
 * vision or filter modules: the composition root adapts the real ones to these interfaces, tests use hand-written
 * fakes. Methods throw the errors of src/util/errors.ts (NotFoundError, ConflictError, UnavailableError,
 * StorageError, ValidationError, ...); the server maps them to HTTP in one place.
 */

// A type only: the web layer shares the camera's vocabulary of states, not its code.
export type { CameraState } from '../hw/camera/types.js';

import type { CameraState } from '../hw/camera/types.js';

export interface CameraStatusInfo {
  state: CameraState;
  lastError?: string;
  [extra: string]: unknown;
}

export interface WebCamera {
  status(): CameraStatusInfo;
  /** Complete JPEG frames of the live preview. The same Buffer goes to every consumer: never mutate it. */
  subscribe(onFrame: (jpeg: Buffer) => void): () => void;
  latestFrame(): Buffer | undefined;
}

export interface CaptureRequest {
  trigger: 'web';
  /** Exposure compensation for this shot, in stops (-8..8). */
  ev?: number;
  /** Filter or recipe name to apply after the shot (the original is kept). */
  recipe?: string;
}

/** A photo as the gallery describes it. `id` is opaque; photos are ordered by a capture sequence, newest first. */
export interface PhotoRecord {
  id: string;
  /** ISO 8601 capture time (may be wrong when the clock was unset: `seq` is the true order). */
  takenAt: string;
  seq?: number;
  width?: number;
  height?: number;
  /** Filtered versions of this photo; `name` is what `?variant=` takes. */
  variants?: { name: string; [extra: string]: unknown }[];
  [extra: string]: unknown;
}

export interface PhotoPage {
  photos: PhotoRecord[];
  nextCursor: string | null;
}

export interface WebGallery {
  list(opts: { cursor?: string; limit: number }): Promise<PhotoPage>;
  /** Throws NotFoundError for an unknown id. */
  get(id: string): Promise<PhotoRecord>;
  /** Absolute path of the original ('original') or of a named variant; throws NotFoundError. */
  filePath(id: string, variant: string): Promise<string>;
  thumbPath(id: string): Promise<string>;
  delete(id: string): Promise<void>;
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRecord {
  id: string;
  photoId: string;
  state: JobState;
  /** 0..1 */
  progress?: number;
  /** The variant name the job writes (when known). */
  variant?: string;
  error?: string;
  [extra: string]: unknown;
}

export interface JobRequest {
  recipe?: string;
  filter?: string;
  params?: Record<string, string | number | boolean>;
}

export interface CatalogEntry {
  name: string;
  title?: string;
  description?: string;
  /** JSON-schema-like description of the filter's params (optional). */
  params?: Record<string, unknown>;
}

export interface WebJobs {
  /** Throws NotFoundError (photo/filter), RateLimitedError or ConflictError (queue full). */
  enqueue(photoId: string, req: JobRequest): Promise<JobRecord>;
  get?(jobId: string): Promise<JobRecord>;
  catalog(): Promise<{ filters: CatalogEntry[]; recipes: CatalogEntry[] }>;
}

export interface ConfigSnapshot {
  /** The config in force (the last good one when the file on disk is broken). */
  config: PinholeConfig;
  /** Errors of the file on disk (a broken hand edit), `<dotted.path>: <message> (line N)`; empty when fine. */
  errors: string[];
  file?: string;
}

export interface WebConfigService {
  get(): ConfigSnapshot;
  /** Applies edits through the comment-preserving writer; throws ConfigError (400) listing what is wrong. */
  update(edits: ConfigEdit[]): Promise<PinholeConfig>;
  /** The JSON schema of the whole config (ConfigSchema). */
  schema(): unknown;
}

export interface StatusReport {
  storage?: {
    freeBytes: number;
    totalBytes: number;
    minFreeBytes?: number;
    photoCount?: number;
    [extra: string]: unknown;
  };
  system?: {
    cpuTempC?: number | null;
    throttled?: string[] | null;
    uptimeS?: number;
    loadAvg?: number[];
    [extra: string]: unknown;
  };
  models?: { name: string; present: boolean; loaded?: boolean; error?: string; [extra: string]: unknown }[];
  versions?: Record<string, string>;
  /** `synced` false when the clock has never been set (no RTC, offline): the UI offers the phone's time. */
  /** `owner`: `ntp` when systemd-timesyncd keeps the clock synchronised (the phone's time is then refused, 409). */
  clock?: { now: number; synced: boolean; owner?: 'ntp' | 'ntp-waiting' | 'manual' | 'unknown'; message?: string };
  [extra: string]: unknown;
}

export interface WebSystem {
  status(): Promise<StatusReport>;
  /** Sim-safe implementations are injected in development. Resolve once the action is scheduled. */
  shutdown(): Promise<void>;
  reboot(): Promise<void>;
  /** Sets the system clock (ms since epoch). */
  setTime(epochMs: number): Promise<void>;
}

/** Events pushed to WebSocket clients as `{ "type", "data" }`. */
export type WebEventType =
  | 'status'
  | 'faces'
  | 'capture'
  | 'job'
  | 'config'
  | 'camera'
  | 'mode'
  | 'people'
  | 'sync'
  | 'scan';

export interface WebEvent {
  type: WebEventType;
  data: unknown;
}

/**
 * `faces` data: `{ width, height, faces: [{ box: [x, y, w, h], score }] }` (src/vision's FacesEvent as is; `{ x, y,
 * w, h }` boxes are accepted too), in pixels of a preview frame of width×height. `capture`: `{ phase: 'started'|'done'|'failed', photoId?, error? }`. `job`: a JobRecord.
 * `config`: `{ errors: string[] }`. `camera`: CameraStatusInfo. `scan`: `{ corners: [[x, y] ×4] | null, at, ms }`, the
 * print's outline as fractions of the preview while scan mode is watched.
 */
export interface WebEvents {
  subscribe(listener: (event: WebEvent) => void): () => void;
}

/** Sync and MQTT as the UI sees them: targets by name (never remotes or credentials), actions, per-photo state. */
export interface WebSync {
  status(): unknown;
  now(): unknown;
  retry(): unknown;
  pause(): unknown;
  resume(): unknown;
}

export interface WebServices {
  /** Absent when the sync component is not running. */
  sync?: () => WebSync | undefined;
  camera: WebCamera;
  capture(req: CaptureRequest): Promise<PhotoRecord>;
  gallery: WebGallery;
  jobs: WebJobs;
  config: WebConfigService;
  system: WebSystem;
  events: WebEvents;
  /** Smile and gesture shutters, best shot (src/web/mode-routes.ts). */
  modes?: WebModes;
  /** People (src/web/people-routes.ts). */
  people?: WebPeople;
}
