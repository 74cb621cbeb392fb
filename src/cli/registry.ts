import { command as benchDetect } from './commands/bench-detect.js';
import { command as benchFaces } from './commands/bench-faces.js';
import { command as capture } from './commands/capture.js';
import {
  checkCommand as configCheck,
  initCommand as configInit,
  showCommand as configShow,
} from './commands/config.js';
import { command as detect } from './commands/detect.js';
import { command as doctor } from './commands/doctor.js';
import { command as faces } from './commands/faces.js';
import { command as filter } from './commands/filter.js';
import { command as mode } from './commands/mode.js';
import { command as modelsInstall } from './commands/models-install.js';
import { command as modelsList } from './commands/models-list.js';
import { command as modelsVerify } from './commands/models-verify.js';
import { command as night } from './commands/night.js';
import { command as passwd } from './commands/passwd.js';
import {
  disableCommand as peopleDisable,
  enableCommand as peopleEnable,
  statusCommand as peopleStatus,
} from './commands/people.js';
import { command as run } from './commands/run.js';
import { command as scan } from './commands/scan.js';
import { command as simFault } from './commands/sim-fault.js';
import { command as simPress } from './commands/sim-press.js';
import { command as status } from './commands/status.js';
import { nowCommand as syncNow, retryCommand as syncRetry, statusCommand as syncStatus } from './commands/sync.js';
import type { CliCommand } from './types.js';

/** Every `pinhole` sub-command. One import and one entry per command file in ./commands. */
export const commands: CliCommand[] = [
  run,
  status,
  configCheck,
  configShow,
  configInit,
  doctor,
  simPress,
  simFault,
  capture,
  modelsInstall,
  modelsVerify,
  modelsList,
  detect,
  faces,
  benchDetect,
  benchFaces,
  filter,
  night,
  scan,
  passwd,
  mode,
  peopleStatus,
  peopleEnable,
  peopleDisable,
  syncStatus,
  syncNow,
  syncRetry,
];
