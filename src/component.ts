import type { PinholeConfig } from './config/schema.js';

/**
 * A long-lived part of the daemon (camera, gpio, web server, ...). The composition root starts components in
 * order and stops them in reverse. On a config change that touches one of `configSections`, `reconfigure` is
 * called; if it returns 'restart' (or is absent), the component is stopped and rebuilt with the new config.
 */
export interface Component {
  readonly name: string;
  readonly configSections: readonly (keyof PinholeConfig)[];
  start(): Promise<void>;
  /** Must finish within a few seconds; the daemon has a bounded shutdown. */
  stop(): Promise<void>;
  reconfigure?(next: PinholeConfig, prev: PinholeConfig): Promise<'applied' | 'restart'>;
  /** A JSON-able summary for `pinhole status` and /api/status. */
  status?(): unknown;
  /** Methods served on the control socket (`pinhole capture` → 'capture'). Params and results are JSON. */
  controlMethods?(): Record<string, ControlHandler>;
}

export type ControlHandler = (params: Record<string, unknown>) => Promise<unknown>;
