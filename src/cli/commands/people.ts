import { callDaemon } from '../../control/client.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

interface PeopleStatus {
  enabled: boolean;
  people: number;
  faces: number;
  queued: number;
}

const line = (s: PeopleStatus) =>
  s.enabled
    ? `People is on: ${s.people} ${s.people === 1 ? 'person' : 'people'}, ${s.faces} faces, ${s.queued} photos waiting to be described`
    : 'People is off (no face descriptors are stored)';

export const statusCommand: CliCommand = {
  name: 'people status',
  summary: 'Show whether People is on, and how many people, faces and queued photos it has',
  usage: '[--json]',
  help: 'With --json, exactly {"enabled": B, "people": N, "faces": N, "queued": N}.',
  options: { json: { type: 'boolean' } },
  async run({ values }, ctx) {
    const { config } = await resolveCliConfig(ctx);
    const s = (await callDaemon(config.control.socket, 'people.status', {}, 10_000)) as PeopleStatus;
    const contract = { enabled: s.enabled, people: s.people, faces: s.faces, queued: s.queued };
    ctx.out(values.json ? JSON.stringify(contract) : line(contract));
    return 0;
  },
};

function toggle(on: boolean): CliCommand {
  return {
    name: on ? 'people enable' : 'people disable',
    summary: on
      ? 'Turn People on: describe every face of every photo (kept on the camera only)'
      : 'Turn People off and delete every face descriptor, name and merge',
    usage: '[--json]',
    options: { json: { type: 'boolean' } },
    async run({ values }, ctx) {
      const { config } = await resolveCliConfig(ctx);
      const s = (await callDaemon(
        config.control.socket,
        on ? 'people.enable' : 'people.disable',
        {},
        30_000,
      )) as PeopleStatus;
      ctx.out(values.json ? JSON.stringify(s) : line(s));
      return 0;
    },
  };
}

export const enableCommand = toggle(true);
export const disableCommand = toggle(false);
