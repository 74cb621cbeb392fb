import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * A stable id for this camera: several cameras on one broker or one NAS folder must never collide. The machine id is
 * confidential (systemd's machine-id(5) asks apps to hash it with an app-specific key), so only an HMAC of it is
 * used. Without a machine id (a container), the hostname stands in.
 */
export function deriveDeviceId(machineIdFile: string): string {
  let source: string;
  try {
    source = readFileSync(machineIdFile, 'utf8').trim();
  } catch {
    source = '';
  }
  if (!source) source = `host:${os.hostname()}`;
  return `pinhole-${createHmac('sha256', 'pinhole-device-id').update(source).digest('hex').slice(0, 10)}`;
}

export function deviceIdOf(cfg: { mqtt: { deviceId: string | null; machineIdFile: string } }): string {
  return cfg.mqtt.deviceId ?? deriveDeviceId(cfg.mqtt.machineIdFile);
}
