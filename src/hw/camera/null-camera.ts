import { UnavailableError } from '../../util/errors.js';
import { FrameHub } from './frame-hub.js';
import type { BurstTiming, CameraDriver, CameraStatus, StillTiming } from './types.js';

/** `camera.backend: none`: the daemon runs without a camera (GPIO or web work on a bench). */
export class NullCamera implements CameraDriver {
  private readonly since = new Date().toISOString();
  constructor(readonly frames: FrameHub = new FrameHub()) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  status(): CameraStatus {
    return { state: 'disabled', mode: null, restarts: 0, since: this.since };
  }
  captureStill(_outPath: string): Promise<StillTiming> {
    return Promise.reject(new UnavailableError('the camera is disabled (camera.backend: none)', 'camera-disabled'));
  }
  captureBurst(): Promise<BurstTiming> {
    return Promise.reject(new UnavailableError('the camera is disabled (camera.backend: none)', 'camera-disabled'));
  }
  onStatus(): () => void {
    return () => {};
  }
}
