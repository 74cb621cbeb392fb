import { parsePiModel } from '../hw/gpio/pi-model.js';
import { BOOT_CONFIG_PATHS, pullProblems, readBootConfig } from '../hw/gpio/pulls.js';
import { chooseBackend } from '../hw/gpio/select.js';
import type { DoctorContext } from './checks.js';
import type { CheckResult } from './types.js';

/**
 * Buttons that can never fire because their backend (onoff) cannot set the pull they need and the pin keeps its
 * boot pull. Prints the config.txt line for each, e.g. `gpio=26=ip,pu`.
 */
export async function checkButtonPulls({ sys, config, board }: DoctorContext): Promise<CheckResult> {
  const id = 'button-pulls';
  const title = 'Button pulls';
  const { buttons, backend } = config.gpio;
  if (buttons.length === 0) return { id, title, status: 'skip', message: 'no buttons configured' };
  if (backend === 'sim' || backend === 'none')
    return { id, title, status: 'skip', message: `gpio.backend is ${backend}` };
  let effective: string = backend;
  if (backend === 'auto') {
    if (board.id === 'not-pi') return { id, title, status: 'skip', message: 'not a Raspberry Pi: check skipped' };
    const chosen = await chooseBackend('auto', {
      model: parsePiModel(board.model),
      env: {},
      hasExecutable: async (name) => (await sys.exec(name, ['--version'], 5000)).found,
    });
    effective = chosen.kind;
  }
  if (effective !== 'onoff')
    return { id, title, status: 'ok', message: `the ${effective} backend sets each button's pull itself` };
  const boot = await readBootConfig(sys.paths.bootConfig ? [sys.paths.bootConfig] : BOOT_CONFIG_PATHS);
  const file = boot?.path ?? sys.paths.bootConfig ?? BOOT_CONFIG_PATHS[0];
  const problems = pullProblems(buttons, boot);
  const details = { backend: effective, file, lines: problems.map((p) => p.line) };
  if (problems.length === 0)
    return {
      id,
      title,
      status: 'ok',
      message: `onoff cannot set pulls; each button's pin already has the pull it wants (${file})`,
      details,
    };
  return {
    id,
    title,
    status: 'fail',
    message: `${problems.length} button(s) can never fire with onoff: ${problems.map((p) => `${p.button} on BCM ${p.pin} wants pull-${p.wanted === 'off' ? 'none' : p.wanted} but has pull-${p.atBoot} at boot`).join('; ')}`,
    fix: `add ${problems.map((p) => p.line).join(' and ')} to ${file} and reboot (or \`sudo apt install gpiod\`: the gpiod backend sets pulls itself)`,
    details,
  };
}
