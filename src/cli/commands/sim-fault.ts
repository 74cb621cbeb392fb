import { callDaemon } from '../../control/client.js';
import { FAULT_SYNTAX, parseFault } from '../../hw/camera/sim/fault.js';
import { ValidationError } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'sim fault',
  summary: 'Make the simulated camera fail (camera.backend: sim) to rehearse a fault',
  usage: 'MODE|none',
  help: `MODE: ${FAULT_SYNTAX}
  busy           every start fails: "failed to acquire camera" (exit 255)
  busy:N         the next N starts fail, then the camera works
  absent         "no cameras available": the preview shows NO CAMERA, captures get 503
  crash-after:N  each camera process dies after N frames
  hang-after:N   each camera process stops answering after N frames (the watchdog kills it)
  garbage        junk bytes and truncated frames in the MJPEG stream; stills are not JPEGs
  slow-start:MS  the camera takes MS milliseconds longer to start
  cma:MB         the camera has MB of buffer memory: a 12 MP ZSL (~170 MB) fails to allocate and falls back
  disk-full      every file the camera writes fails part-way ("failed to write file")
The running camera process is restarted with the new mode; \`none\` clears it.`,
  allowPositionals: true,
  async run({ positionals }, ctx) {
    if (positionals.length !== 1)
      throw new ValidationError(`usage: pinhole sim fault MODE|none (MODE: ${FAULT_SYNTAX})`);
    const mode = positionals[0];
    const fault = parseFault(mode);
    if (fault.kind === 'invalid') throw new ValidationError(fault.message);
    const { config } = await resolveCliConfig(ctx);
    const res = (await callDaemon(config.control.socket, 'sim.fault', { mode })) as {
      mode: string;
      status: { state: string };
    };
    ctx.out(fault.kind === 'none' ? 'simulated camera fault cleared' : `simulated camera fault set: ${res.mode}`);
    return 0;
  },
};
