import { callDaemon } from '../../control/client.js';
import { ValidationError } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

const DEFAULT_HOLD_MS = 80;
const MAX_HOLD_MS = 30_000;

interface SimPressResult {
  name: string;
  holdMs: number;
  gestures: { gesture: string; action: string }[];
}

export const command: CliCommand = {
  name: 'sim press',
  summary: 'Press a simulated button on the running daemon (gpio.backend: sim)',
  usage: '<name> [--hold MS]',
  help: `Sends a press edge, waits MS milliseconds (default ${DEFAULT_HOLD_MS}), then a release edge, through the same
debounce and long/double-press logic as a real button. \`--hold 1500\` triggers a long press.`,
  options: { hold: { type: 'string' } },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (positionals.length !== 1) throw new ValidationError('usage: pinhole sim press <name> [--hold MS]');
    const name = positionals[0];
    let holdMs = DEFAULT_HOLD_MS;
    if (values.hold !== undefined) {
      const text = String(values.hold);
      if (!/^\d+$/.test(text) || Number(text) > MAX_HOLD_MS)
        throw new ValidationError(`--hold: milliseconds from 0 to ${MAX_HOLD_MS} expected, got "${text}"`);
      holdMs = Number(text);
    }
    const { config } = await resolveCliConfig(ctx);
    const res = (await callDaemon(
      config.control.socket,
      'sim.press',
      { name, holdMs },
      holdMs + 15_000,
    )) as SimPressResult;
    const fired = res.gestures.length
      ? res.gestures.map((g) => `${g.gesture} → ${g.action}`).join(', ')
      : 'no gesture yet (a double-press window may still be open)';
    ctx.out(`pressed ${res.name} for ${res.holdMs} ms: ${fired}`);
    return 0;
  },
};
