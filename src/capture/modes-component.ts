import type { Component, ControlHandler } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import type { EventBus } from '../events.js';
import { parseCorners } from '../scan/corners-input.js';
import { LiveOutline, type LiveOutlineDeps } from '../scan/live-outline.js';
import { UnavailableError, ValidationError } from '../util/errors.js';
import { BestShot, type BestShotDeps, type BestShotMeta } from './best-shot.js';
import { GestureShutter, type GestureShutterDeps } from './gesture-shutter.js';
import { ARMED_MODES, type ArmedModeName, CaptureModes, type ModeRecord, type ModeState } from './modes.js';
import { NightShot, type NightShotDeps, type NightShotStarted } from './night-shot.js';
import { ScanShot, type ScanShotDeps, type ScanStarted } from './scan-shot.js';
import { SmileShutter, type SmileShutterDeps } from './smile-shutter.js';

export interface ModesComponentDeps {
  config: PinholeConfig;
  bus: EventBus;
  smile: Omit<SmileShutterDeps, 'config'>;
  gesture: Omit<GestureShutterDeps, 'config'>;
  bestShot: Omit<BestShotDeps, 'config'>;
  night: Omit<NightShotDeps, 'config'>;
  scan: ScanShotDeps;
  outline: LiveOutlineDeps;
  /** One photo through the normal capture path (look, faces, filters, People); `record` goes into its sidecar. */
  capture: (source: string, record: ModeRecord) => Promise<{ id: string }>;
  /** Why a mode cannot run now (a model missing, face detection off), checked before arming. */
  problem: (mode: ArmedModeName | 'best-shot') => Promise<string | undefined>;
}

/**
 * The capture modes built on face analysis, as one daemon component: the smile and gesture shutters (armed, one at a
 * time, through CaptureModes) and best shot. Settings are read at each use (`camera.capture.smile|gesture|bestShot`),
 * so a config change applies without a restart.
 */
export class ModesComponent implements Component {
  readonly name = 'modes';
  readonly configSections = ['camera'] as const;
  readonly modes: CaptureModes;
  readonly bestShot: BestShot;
  readonly night: NightShot;
  readonly scan: ScanShot;
  /** The viewfinder's print outline while scan mode is selected. */
  readonly outline: LiveOutline;
  private cfg: PinholeConfig;

  constructor(private readonly deps: ModesComponentDeps) {
    this.cfg = deps.config;
    this.modes = new CaptureModes({
      modes: [
        new SmileShutter({ ...deps.smile, config: () => this.cfg.camera.capture.smile }),
        new GestureShutter({ ...deps.gesture, config: () => this.cfg.camera.capture.gesture }),
      ],
      capture: deps.capture,
      emit: (s) => deps.bus.emit('capture.mode', s),
    });
    this.bestShot = new BestShot({ ...deps.bestShot, config: () => this.cfg.camera.capture.bestShot });
    this.night = new NightShot({ ...deps.night, config: () => this.cfg.camera.capture.night });
    this.scan = new ScanShot(deps.scan);
    this.outline = new LiveOutline(deps.outline);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.modes.stop();
    this.outline.unwatch();
  }

  async reconfigure(next: PinholeConfig): Promise<'applied'> {
    this.cfg = next;
    return 'applied';
  }

  /** Arms the smile or gesture shutter; refused with the reason when its model or face detection is unavailable. */
  async arm(mode: string, source: string): Promise<ModeState> {
    const m = checkMode(mode);
    const problem = await this.deps.problem(m);
    if (problem) throw new UnavailableError(`${this.modes.mode(m).title} unavailable: ${problem}`, 'mode-unavailable');
    return this.modes.arm(m, source);
  }

  disarm(): ModeState {
    return this.modes.disarm();
  }

  async takeBestShot(source: string): Promise<{ id: string; bestShot: BestShotMeta }> {
    const problem = await this.deps.problem('best-shot');
    if (problem) throw new UnavailableError(`Best shot unavailable: ${problem}`, 'mode-unavailable');
    if (this.bestShot.busy) throw new UnavailableError('a best shot is already being taken', 'busy');
    return this.bestShot.take(source);
  }

  /**
   * Night mode: takes the burst now and queues its merge as a filter job; `done` resolves with the merged photo.
   * Refused while another night burst is being taken or too many merges wait.
   */
  async takeNight(source: string): Promise<NightShotStarted> {
    return this.night.take(source);
  }

  /**
   * Scan mode: takes a photo now and queues its restoration as a filter job (the `scan` variant); `corners` (fractions
   * of the image, clockwise from top-left) are the owner's outline of the print, otherwise it is detected.
   */
  async takeScan(source: string, corners?: unknown): Promise<ScanStarted> {
    return this.scan.take(source, corners === undefined || corners === null ? undefined : parseCorners(corners));
  }

  /** The restoration of a stored photo again, e.g. with corners dragged in the viewer. */
  async rescan(photoId: string, corners?: unknown): Promise<ScanStarted> {
    return this.scan.restore(photoId, corners === undefined || corners === null ? undefined : parseCorners(corners));
  }

  /** True while a mode watches, a best shot runs or a night burst is taken: background work (People) waits. */
  get active(): boolean {
    return this.modes.status().state !== 'idle' || this.bestShot.busy || this.night.busy;
  }

  status(): ModeState & { bestShot: { busy: boolean }; night: { busy: boolean; merging: number } } {
    return {
      ...this.modes.status(),
      bestShot: { busy: this.bestShot.busy },
      night: { busy: this.night.busy, merging: this.night.pendingMerges },
    };
  }

  controlMethods(): Record<string, ControlHandler> {
    const src = (p: Record<string, unknown>) => (typeof p.source === 'string' ? p.source.slice(0, 32) : 'cli');
    return {
      'smile-shutter': async (p) => this.arm('smile-shutter', src(p)),
      'gesture-shutter': async (p) => this.arm('gesture-shutter', src(p)),
      'best-shot': async (p) => this.takeBestShot(src(p)),
      // waits for the merged photo (the CLI prints its id); `wait: false` returns once the burst is taken
      'night-burst': async (p) => {
        const r = await this.takeNight(src(p));
        if (p.wait === false) {
          r.done.catch(() => {});
          return { jobId: r.jobId, frames: r.frames, burstMs: r.burstMs };
        }
        const photo = await r.done;
        return { id: photo.id, jobId: r.jobId, night: photo.night };
      },
      // waits for the restored variant; `wait: false` returns once the photo is taken
      scan: async (p) => {
        const r = await this.takeScan(src(p), p.corners);
        if (p.wait === false) {
          r.done.catch(() => {});
          return { id: r.photoId, jobId: r.jobId };
        }
        return { id: r.photoId, jobId: r.jobId, scan: await r.done };
      },
      'scan.outline': async (p) => (p.on === false ? this.outline.unwatch() : this.outline.watch()),
      'mode.disarm': async () => this.disarm(),
      'mode.status': async () => this.status(),
    };
  }
}

function checkMode(mode: string): ArmedModeName {
  if (!(ARMED_MODES as readonly string[]).includes(mode))
    throw new ValidationError(`unknown capture mode "${mode}" (one of: ${ARMED_MODES.join(', ')})`);
  return mode as ArmedModeName;
}
