/**
 * One error hierarchy for the whole daemon. Each class carries a stable machine code, the HTTP status it maps
 * to (used by the web error handler) and the CLI exit code. Anything not a PinholeError is an internal error:
 * logged with its stack, shown to clients as a bare 500 without details.
 */
export class PinholeError extends Error {
  readonly code: string;
  readonly status: number;
  readonly exitCode: number;
  readonly details?: unknown;

  constructor(
    message: string,
    opts: { code: string; status: number; exitCode?: number; details?: unknown; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.status = opts.status;
    this.exitCode = opts.exitCode ?? 1;
    this.details = opts.details;
  }
}

export class ValidationError extends PinholeError {
  constructor(message: string, details?: unknown, code = 'invalid') {
    super(message, { code, status: 400, exitCode: 2, details });
  }
}

export class UnauthorizedError extends PinholeError {
  constructor(message = 'authentication required', code = 'unauthorized') {
    super(message, { code, status: 401 });
  }
}

export class ForbiddenError extends PinholeError {
  constructor(message = 'forbidden', code = 'forbidden') {
    super(message, { code, status: 403 });
  }
}

export class NotFoundError extends PinholeError {
  constructor(message = 'not found', code = 'not-found') {
    super(message, { code, status: 404 });
  }
}

/** The resource is busy or in a conflicting state (camera capturing, photo being filtered, no password yet). */
export class ConflictError extends PinholeError {
  constructor(message: string, code = 'busy') {
    super(message, { code, status: 409 });
  }
}

export class PayloadTooLargeError extends PinholeError {
  constructor(message = 'request body too large', code = 'too-large') {
    super(message, { code, status: 413 });
  }
}

export class RateLimitedError extends PinholeError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = 'too many attempts, try again later') {
    super(message, { code: 'rate-limited', status: 429 });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency is missing or down: no camera, model not installed, daemon not running. */
export class UnavailableError extends PinholeError {
  constructor(message: string, code = 'unavailable', cause?: unknown) {
    super(message, { code, status: 503, exitCode: 3, cause });
  }
}

/** The data directory is below `storage.minFreeMB` or not writable: captures are refused, nothing is written. */
export class StorageError extends PinholeError {
  constructor(message: string, code = 'storage-full') {
    super(message, { code, status: 507, exitCode: 4 });
  }
}

/** The config file is invalid. `errors` are `<dotted.path>: <message> (line N)` lines. */
export class ConfigError extends PinholeError {
  readonly errors: string[];
  constructor(errors: string[], file?: string) {
    super(`${file ? `${file}: ` : ''}invalid config:\n${errors.join('\n')}`, {
      code: 'config-invalid',
      status: 400,
      exitCode: 1,
    });
    this.errors = errors;
  }
}

export function isPinholeError(e: unknown): e is PinholeError {
  return e instanceof PinholeError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** JSON body for an error; internal errors never leak their message or stack. */
export function errorBody(e: unknown): { error: { code: string; message: string; details?: unknown } } {
  if (isPinholeError(e)) {
    return { error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } };
  }
  return { error: { code: 'internal', message: 'internal error' } };
}

export function httpStatusOf(e: unknown): number {
  return isPinholeError(e) ? e.status : 500;
}
