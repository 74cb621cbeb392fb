/**
 * The gallery as the web server, the capture pipeline, face detection and filters see it. Photos are addressed by
 * opaque IDs; paths come only from the store (never built from request input).
 */

/** Shutter lag of one photo, in ms after the trigger (button press, HTTP request, CLI). */
export interface ShutterLag {
  strategy: 'switch' | 'signal';
  /** Capture command issued (rpicam-still spawned or SIGUSR1 sent). */
  commandIssuedMs: number;
  /** The camera reported the still received (exposure + readout done). */
  exposureDoneMs: number;
  /** The camera process finished writing the JPEG. */
  writtenMs: number;
  /** The photo is committed: fsynced and renamed into the gallery. */
  durableMs?: number;
}

export interface VariantInfo {
  /** What produced it (filter name and parameters), as given by the writer. */
  recipe: unknown;
  createdAt: string;
  bytes: number;
}

/** The JSON sidecar of a photo. Other components add their own keys through `update()`. */
export interface PhotoMeta {
  id: string;
  /** Monotonic capture number: the gallery order (the Pi has no RTC: wall-clock time may jump). */
  seq: number;
  /** Wall-clock time of the capture as the system knew it. */
  capturedAt: string;
  width: number;
  height: number;
  bytes: number;
  /** Who asked: 'button', 'web', 'cli', ... */
  source?: string;
  /** Camera settings used (strategy, size, quality, controls). */
  settings: Record<string, unknown>;
  lag?: ShutterLag;
  variants: Record<string, VariantInfo>;
  /** Written by face detection. */
  faces?: unknown;
  /** Written by the filters. */
  filters?: unknown;
  [key: string]: unknown;
}

export interface PhotoRecord {
  id: string;
  seq: number;
  /** Absolute paths owned by the store: serve them, never write them. */
  path: string;
  thumbPath: string;
  meta: PhotoMeta;
}

export interface PhotoPage {
  items: PhotoRecord[];
  /** Pass as `cursor` to get the next (older) page; absent on the last page. */
  nextCursor?: string;
}

export interface GalleryReader {
  list(opts?: { cursor?: string; limit?: number }): PhotoPage;
  /** Throws NotFoundError (unknown ID) or ValidationError (malformed ID). */
  get(id: string): PhotoRecord;
  filePath(id: string): string;
  thumbPath(id: string): string;
  variantPath(id: string, name: string): string;
  listVariants(id: string): Record<string, VariantInfo>;
  readonly count: number;
}

export interface GalleryWriter {
  delete(id: string): Promise<void>;
  /** Shallow merge of top-level keys into the sidecar (`id`, `seq` are immutable). Atomic; serialised per photo. */
  update(id: string, patch: Partial<PhotoMeta>): Promise<PhotoMeta>;
  writeVariant(id: string, name: string, data: Buffer, recipe: unknown): Promise<string>;
  deleteVariant(id: string, name: string): Promise<void>;
}

export interface StorageHealth {
  writable: boolean;
  freeMB?: number;
  minFreeMB: number;
  error?: string;
}
