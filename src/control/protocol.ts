/**
 * Control socket protocol: newline-delimited JSON over a Unix socket. One request per line:
 *   {"id": 1, "method": "status", "params": {}}
 * one response per request:
 *   {"id": 1, "result": ...}  or  {"id": 1, "error": {"code", "message", "status"}}
 */
export interface ControlRequest {
  id: number;
  method: string;
  params?: Record<string, unknown>;
}

export interface ControlResponse {
  id: number;
  result?: unknown;
  error?: { code: string; message: string; status: number; details?: unknown };
}

/** Upper bound of one request line: the socket is local, but a bug must not grow a buffer without limit. */
export const MAX_LINE_BYTES = 1024 * 1024;
