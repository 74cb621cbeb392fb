import { callDaemon } from '../../control/client.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

interface CaptureAnswer {
  id: string;
  path: string;
  width: number;
  height: number;
  lag: { strategy: string; commandIssuedMs: number; exposureDoneMs: number; durableMs?: number };
}

export const command: CliCommand = {
  name: 'capture',
  summary: 'Take a photo with the running daemon and print its ID and file',
  usage: '[--json]',
  help: `Asks the daemon (control socket) for one full-resolution photo, like the shutter button.
Prints "<id> <path>" on success; --json prints the whole result (size, shutter lag).
Exit status 3 when there is no camera, 4 when the disk is full, 1 when the camera is busy.`,
  options: { json: { type: 'boolean' } },
  async run({ values }, ctx) {
    const { config } = await resolveCliConfig(ctx);
    const res = (await callDaemon(
      config.control.socket,
      'capture',
      { source: 'cli' },
      config.camera.capture.timeoutMs + 30_000,
    )) as CaptureAnswer;
    if (values.json) {
      ctx.out(JSON.stringify(res, null, 2));
    } else {
      ctx.out(`${res.id} ${res.path}`);
      ctx.err(
        `${res.width}×${res.height}, ${res.lag.strategy} capture, shutter lag ${res.lag.exposureDoneMs} ms, saved after ${res.lag.durableMs ?? '?'} ms`,
      );
    }
    return 0;
  },
};
