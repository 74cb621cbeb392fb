import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DoctorContext } from './checks.js';
import { parseGroups } from './checks.js';
import type { CheckResult } from './types.js';

/**
 * Checks made for the service user (`pinhole`), not for whoever runs the doctor: the daemon runs as that user with
 * the unit's SupplementaryGroups, so what matters is whether *it* can open the GPIO and camera devices and whether
 * polkit lets *it* power off and set the clock.
 */
export const SERVICE_USER = 'pinhole';
/** systemd/pinhole.service: SupplementaryGroups=video gpio (test/appliance/unit.test.ts holds the unit to it). */
export const UNIT_GROUPS = ['video', 'gpio'];
export const POLKIT_RULE = '50-pinhole.rules';
/** The actions systemd/50-pinhole.rules grants; the doctor checks the installed file still names each. */
export const POLKIT_ACTIONS = [
  'org.freedesktop.login1.power-off',
  'org.freedesktop.login1.reboot',
  'org.freedesktop.timedate1.set-time',
  'org.freedesktop.timedate1.set-ntp',
];

export interface ServicePaths {
  passwdFile: string;
  groupFile: string;
  devRoot: string;
  polkitRulesDir: string;
  /** polkitd's executable (Debian: /usr/lib/polkit-1/polkitd). */
  polkitd: string;
}

export const DEFAULT_SERVICE_PATHS: Omit<ServicePaths, 'groupFile'> = {
  passwdFile: '/etc/passwd',
  devRoot: '/dev',
  polkitRulesDir: '/etc/polkit-1/rules.d',
  polkitd: '/usr/lib/polkit-1/polkitd',
};

export function servicePaths(ctx: DoctorContext): ServicePaths {
  return { ...DEFAULT_SERVICE_PATHS, groupFile: ctx.sys.paths.groupFile, ...ctx.sys.paths.service };
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
}

export interface ServiceIdentity {
  uid: number;
  gids: Map<number, string>;
}

/** uid and every group the service process has: its primary group, /etc/group memberships and the unit's groups. */
export function serviceIdentity(passwd: string, group: string, user = SERVICE_USER): ServiceIdentity | null {
  const entry = passwd.split('\n').find((l) => l.split(':')[0] === user);
  if (!entry) return null;
  const [, , uid, gid] = entry.split(':');
  const gids = new Map<number, string>();
  const members = parseGroups(group);
  for (const line of group.split('\n')) {
    const [name, , id] = line.split(':');
    if (!name || id === undefined) continue;
    if (Number(id) === Number(gid) || (members.get(name) ?? []).includes(user) || UNIT_GROUPS.includes(name))
      gids.set(Number(id), name);
  }
  return { uid: Number(uid), gids };
}

/** Read and write access by mode bits, as the kernel decides for a process with these ids (no ACLs). */
export function canReadWrite(st: { uid: number; gid: number; mode: number }, who: ServiceIdentity): boolean {
  if (who.uid === 0) return true;
  if (st.uid === who.uid) return (st.mode & 0o600) === 0o600;
  if (who.gids.has(st.gid)) return (st.mode & 0o060) === 0o060;
  return (st.mode & 0o006) === 0o006;
}

/** The camera and GPIO device nodes the daemon opens: gpiochip*, video*, media*, and the dma_heap folder's heaps. */
async function deviceNodes(devRoot: string): Promise<string[]> {
  const out: string[] = [];
  let entries: string[] = [];
  try {
    entries = await fs.readdir(devRoot);
  } catch {}
  for (const e of entries.sort()) if (/^(gpiochip|video|media)\d+$/.test(e)) out.push(path.join(devRoot, e));
  try {
    for (const e of (await fs.readdir(path.join(devRoot, 'dma_heap'))).sort())
      out.push(path.join(devRoot, 'dma_heap', e));
  } catch {}
  return out;
}

export async function checkServiceUser(ctx: DoctorContext): Promise<CheckResult> {
  const id = 'service-user';
  const title = 'Service user';
  const p = servicePaths(ctx);
  const passwd = (await readOptional(p.passwdFile)) ?? '';
  const group = (await readOptional(p.groupFile)) ?? '';
  const who = serviceIdentity(passwd, group);
  const onPi = ctx.board.id !== 'not-pi';
  if (!who)
    return {
      id,
      title,
      status: onPi ? 'fail' : 'skip',
      message: `no user ${SERVICE_USER}${onPi ? ': the service is not installed' : ' (not installed as a service here)'}`,
      fix: 'sudo scripts/install.sh',
    };
  const groupNames = [...who.gids.values()].sort();
  const missingGroups = UNIT_GROUPS.filter((g) => !groupNames.includes(g));
  const details: Record<string, unknown> = { user: SERVICE_USER, uid: who.uid, groups: groupNames };
  if (missingGroups.length)
    return {
      id,
      title,
      status: 'fail',
      message: `group ${missingGroups.join(', ')} does not exist: the unit's SupplementaryGroups=${UNIT_GROUPS.join(' ')} cannot be applied`,
      fix: `sudo groupadd --system ${missingGroups[0]}`,
      details,
    };
  const nodes = await deviceNodes(p.devRoot);
  const denied: string[] = [];
  for (const node of nodes) {
    try {
      const st = await fs.stat(node);
      if (!canReadWrite(st, who)) {
        const g =
          who.gids.get(st.gid) ??
          group
            .split('\n')
            .find((l) => Number(l.split(':')[2]) === st.gid)
            ?.split(':')[0] ??
          String(st.gid);
        denied.push(`${node} (${(st.mode & 0o777).toString(8)}, group ${g})`);
      }
    } catch {}
  }
  details.devices = nodes;
  details.denied = denied;
  if (denied.length)
    return {
      id,
      title,
      status: 'fail',
      message: `${SERVICE_USER} (groups ${groupNames.join(', ')}) cannot open ${denied.join(', ')}`,
      fix: `sudo usermod -aG video,gpio ${SERVICE_USER}; check the udev rules that set these devices' group (Raspberry Pi OS: raspberrypi-sys-mods)`,
      details,
    };
  const gpioNodes = nodes.filter((n) => path.basename(n).startsWith('gpiochip'));
  if (onPi && gpioNodes.length === 0)
    return {
      id,
      title,
      status: 'warn',
      message: `${SERVICE_USER} (groups ${groupNames.join(', ')}): no /dev/gpiochip* on this Pi`,
      fix: 'Update the kernel (sudo apt full-upgrade) and reboot.',
      details,
    };
  return {
    id,
    title,
    status: 'ok',
    message: `${SERVICE_USER} (groups ${groupNames.join(', ')}) can open ${nodes.length ? nodes.map((n) => path.relative(p.devRoot, n)).join(', ') : 'every device present (none here)'}`,
    details,
  };
}

/**
 * pkcheck's answer for each action about the doctor's own process (polkit lets any user ask about its own processes).
 * Exit 0 = authorised; 1-3 = not (refused, needs an agent, dismissed); 126/127 = pkcheck's own error (pkcheck(1)).
 */
async function askPolkit(
  ctx: DoctorContext,
  pid: number,
): Promise<{ allowed: string[]; refused: string[]; error?: string } | null> {
  const allowed: string[] = [];
  const refused: string[] = [];
  for (const action of POLKIT_ACTIONS) {
    const r = await ctx.sys.exec('pkcheck', ['--action-id', action, '--process', String(pid)], 10_000);
    if (!r.found) return null;
    if (r.code === 0) allowed.push(action);
    else if (r.code !== null && r.code >= 1 && r.code <= 3) refused.push(action);
    else
      return {
        allowed,
        refused,
        error: `pkcheck ${action}: ${r.timedOut ? 'timed out' : r.stderr.trim() || `exit ${r.code}`}`,
      };
  }
  return { allowed, refused };
}

export async function checkPolkit(ctx: DoctorContext): Promise<CheckResult> {
  const id = 'polkit';
  const title = 'Power and clock rights';
  const p = servicePaths(ctx);
  const file = path.join(p.polkitRulesDir, POLKIT_RULE);
  const read = ctx.sys.readFile ?? ((f: string) => fs.readFile(f, 'utf8'));
  let rule: string | null = null;
  let unreadable = '';
  try {
    rule = await read(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') unreadable = code ?? String(e);
  }
  const passwd = (await readOptional(p.passwdFile)) ?? '';
  const installed = passwd.split('\n').some((l) => l.startsWith(`${SERVICE_USER}:`));
  if (rule === null && !unreadable && !installed && ctx.board.id === 'not-pi')
    return { id, title, status: 'skip', message: 'not installed as a service here' };
  const fix = 'sudo scripts/install.sh (it installs the polkit rule and polkitd)';
  if (rule === null && unreadable) {
    // Debian's polkitd keeps rules.d at mode 0700 (owner polkitd): the service user cannot read the rule. Running as
    // that user, the doctor asks polkit itself about its own process: the answer the daemon would get.
    const who = serviceIdentity(passwd, '');
    const self = ctx.sys.self;
    if (!who || !self || self.uid !== who.uid)
      return {
        id,
        title,
        status: 'warn',
        message: `${file} cannot be read here (${unreadable}): rights of ${SERVICE_USER} not checked`,
        fix: 'sudo pinhole doctor (it checks as the service user)',
      };
    const asked = await askPolkit(ctx, self.pid);
    if (asked === null)
      return {
        id,
        title,
        status: 'fail',
        message: `${file} cannot be read by ${SERVICE_USER} (${unreadable}) and pkcheck is not installed: polkit cannot be asked`,
        fix: 'sudo apt install polkitd',
      };
    const details = { source: 'pkcheck', allowed: asked.allowed, refused: asked.refused };
    if (asked.error)
      return { id, title, status: 'warn', message: `polkit could not be asked: ${asked.error}`, fix, details };
    if (asked.refused.length)
      return {
        id,
        title,
        status: 'fail',
        message: `polkit refuses ${SERVICE_USER} ${asked.refused.join(', ')}: shutdown, reboot or setting the clock from the phone will be refused`,
        fix,
        details,
      };
    return {
      id,
      title,
      status: 'ok',
      message: `polkit lets ${SERVICE_USER} power off, reboot and set the clock (asked with pkcheck)`,
      details,
    };
  }
  if (rule === null)
    return {
      id,
      title,
      status: 'fail',
      message: `${file} is missing: shutdown, reboot and setting the clock from the phone will be refused`,
      fix,
    };
  const missing = POLKIT_ACTIONS.filter((a) => !rule.includes(`"${a}"`));
  if (missing.length || !rule.includes(`"${SERVICE_USER}"`))
    return {
      id,
      title,
      status: 'fail',
      message: `${file} does not grant ${missing.join(', ') || `user ${SERVICE_USER}`}`,
      fix,
    };
  try {
    await fs.access(p.polkitd);
  } catch {
    return {
      id,
      title,
      status: 'fail',
      message: `${file} is installed but polkitd is not (${p.polkitd}): nothing reads the rule`,
      fix: 'sudo apt install polkitd',
    };
  }
  return {
    id,
    title,
    status: 'ok',
    message: `${file} lets ${SERVICE_USER} power off, reboot and set the clock`,
  };
}
