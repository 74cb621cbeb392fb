import { promises as fs } from 'node:fs';
import type { App } from '../app.js';
import type { CameraComponent } from '../capture/camera-component.js';
import type { SystemProbe } from '../system/status.js';
import type { MqttDeps } from './mqtt-component.js';

const PROBLEM_STATES = new Set(['absent', 'crashed', 'busy']);

/** Adapts the daemon's components to what MQTT needs; every call looks them up anew (they may restart). */
export function mqttDepsFor(app: App, probe: SystemProbe, version: string): MqttDeps {
  const camera = () => app.lifecycle.get<CameraComponent>('camera');
  return {
    version,
    capture: () => app.capture('mqtt', app.look),
    facesEnabled: () => app.faces()?.isEnabled() ?? null,
    setFaces: (on) => app.faces()?.setEnabled(on),
    looks: () => app.looks(),
    look: () => app.look,
    setLook: (look) => app.selectLook(look),
    async state() {
      const c = camera();
      const health = await c?.gallery.health();
      const last = c?.gallery.list({ limit: 1 }).items[0];
      const sync = app.sync()?.status();
      const state = c?.cameraStatus().state;
      return {
        photos: c?.gallery.count ?? 0,
        free_mb: health?.freeMB === undefined ? null : Math.round(health.freeMB),
        cpu_temp: await probe.cpuTempC(),
        last_capture: last?.meta.capturedAt ?? null,
        sync_queue: sync?.queueLength ?? 0,
        problem:
          state === undefined || PROBLEM_STATES.has(state) || app.config.camera.backend === 'none' ? 'ON' : 'OFF',
      };
    },
    async lastPhoto() {
      const last = camera()?.gallery.list({ limit: 1 }).items[0];
      return last ? fs.readFile(last.thumbPath) : undefined;
    },
  };
}
