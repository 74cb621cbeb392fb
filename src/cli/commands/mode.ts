import { callDaemon } from '../../control/client.js';
import { ValidationError } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

const ACTIONS: Record<string, string> = {
  'smile-shutter': 'smile-shutter',
  'gesture-shutter': 'gesture-shutter',
  'best-shot': 'best-shot',
  'night-burst': 'night-burst',
  scan: 'scan',
  disarm: 'mode.disarm',
  status: 'mode.status',
};

export const command: CliCommand = {
  name: 'mode',
  summary: 'Arm the smile or gesture shutter, take a best shot, a night shot or a scan, disarm, or show the armed mode',
  usage: 'smile-shutter|gesture-shutter|best-shot|night-burst|scan|disarm|status [--json]',
  help: `smile-shutter    arm: the photo is taken when every face smiles (camera.capture.smile.*)
gesture-shutter  arm: a hand raised above the shoulder starts the self-timer (camera.capture.gesture.*)
best-shot        take a burst and keep the best frame (camera.capture.bestShot.*); prints the photo id
night-burst      take a burst and merge it into one low-noise photo (camera.capture.night.*); waits for the
                 merge and prints the photo id
scan             photograph an old print: the photo as taken, its restoration (crop, scratches, fade, denoise,
                 faces) as the photo's \`scan\` variant; waits for it and prints the photo id
disarm           disarm the armed mode
status           the armed mode and its last message`,
  options: { json: { type: 'boolean' } },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    const method = positionals.length === 1 ? ACTIONS[positionals[0]] : undefined;
    if (!method) throw new ValidationError(`usage: pinhole mode ${command.usage}`);
    const { config } = await resolveCliConfig(ctx);
    const timeout = method === 'best-shot' ? 120_000 : method === 'night-burst' || method === 'scan' ? 900_000 : 15_000;
    const res = (await callDaemon(config.control.socket, method, { source: 'cli' }, timeout)) as Record<
      string,
      unknown
    >;
    if (values.json) ctx.out(JSON.stringify(res));
    else if (['best-shot', 'night-burst', 'scan'].includes(method)) ctx.out(String(res.id));
    else ctx.out(`${res.mode ?? 'no mode'}: ${res.state}${res.message ? ` (${res.message})` : ''}`);
    return 0;
  },
};
