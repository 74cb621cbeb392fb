import type { ButtonActions, ButtonConfig, GpioConfig } from '../../config/sections/gpio.js';
import { errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import type { Gesture } from './button.js';

export type ButtonAction = (typeof ButtonActions)[number];

/** What buttons can do. The composition root wires these to the capture service; they may reject freely. */
export interface ButtonActionHandlers {
  shutter(): Promise<unknown>;
  burst(count: number): Promise<unknown>;
  timer(seconds: number): Promise<unknown>;
  nextFilter(): Promise<unknown>;
  toggleFaces(): Promise<unknown>;
  shutdown(): Promise<unknown>;
  /** Capture modes (optional: a handler set without them refuses these actions with a clear error). */
  smileShutter?(): Promise<unknown>;
  gestureShutter?(): Promise<unknown>;
  bestShot?(): Promise<unknown>;
  nightBurst?(): Promise<unknown>;
  scan?(): Promise<unknown>;
}

const missing = (action: string) => () => Promise.reject(new Error(`the ${action} action is not available here`));

export function actionFor(button: ButtonConfig, gesture: Gesture): ButtonAction {
  switch (gesture) {
    case 'short':
      return button.action;
    case 'long':
      return button.longPressAction;
    case 'double':
      return button.doublePressAction;
  }
}

/**
 * Problems the schema cannot express, as `path: message` lines like the config validator's. Buttons named here
 * are not opened (the daemon still runs; the reason is in status).
 */
export function validateGpioConfig(cfg: GpioConfig): string[] {
  const errors: string[] = [];
  const names = new Map<string, string>();
  const pins = new Map<number, string>();
  const claim = (kind: 'buttons' | 'leds', i: number, name: string, pin: number) => {
    const at = `gpio.${kind}.${i}`;
    if (names.has(name)) errors.push(`${at}.name: "${name}" is also used by ${names.get(name)}`);
    else names.set(name, at);
    if (pins.has(pin)) errors.push(`${at}.pin: BCM ${pin} is also used by ${pins.get(pin)}`);
    else pins.set(pin, at);
  };
  cfg.buttons.forEach((b, i) => {
    claim('buttons', i, b.name, b.pin);
    if (b.action === 'shutdown') errors.push(`gpio.buttons.${i}.action: shutdown is allowed only as longPressAction`);
    if (b.doublePressAction === 'shutdown')
      errors.push(`gpio.buttons.${i}.doublePressAction: shutdown is allowed only as longPressAction`);
  });
  cfg.leds.forEach((l, i) => {
    claim('leds', i, l.name, l.pin);
  });
  return errors;
}

export interface ActionContext {
  handlers: ButtonActionHandlers;
  timerSeconds: number;
  burstCount: number;
  /** False with the sim backend and off a Pi: shutdown is then only logged. */
  allowPoweroff: boolean;
  log: Logger;
}

/**
 * Starts an action and returns at once: the GPIO layer never waits for a capture, and a handler's error is
 * logged here, never thrown back into an edge callback. A press during a capture simply calls shutter() again;
 * the capture service applies the camera's busy policy.
 */
export function dispatchAction(action: ButtonAction, ctx: ActionContext, source: string): void {
  let run: (() => Promise<unknown>) | undefined;
  switch (action) {
    case 'shutter':
      run = () => ctx.handlers.shutter();
      break;
    case 'burst':
      run = () => ctx.handlers.burst(ctx.burstCount);
      break;
    case 'timer':
      run = () => ctx.handlers.timer(ctx.timerSeconds);
      break;
    case 'next-filter':
      run = () => ctx.handlers.nextFilter();
      break;
    case 'toggle-faces':
      run = () => ctx.handlers.toggleFaces();
      break;
    case 'smile-shutter':
      run = ctx.handlers.smileShutter?.bind(ctx.handlers) ?? missing(action);
      break;
    case 'gesture-shutter':
      run = ctx.handlers.gestureShutter?.bind(ctx.handlers) ?? missing(action);
      break;
    case 'best-shot':
      run = ctx.handlers.bestShot?.bind(ctx.handlers) ?? missing(action);
      break;
    case 'night-burst':
      run = ctx.handlers.nightBurst?.bind(ctx.handlers) ?? missing(action);
      break;
    case 'scan':
      run = ctx.handlers.scan?.bind(ctx.handlers) ?? missing(action);
      break;
    case 'shutdown':
      if (!ctx.allowPoweroff) {
        ctx.log.warn('shutdown requested by button; not powering off (sim backend or not a Pi)', { button: source });
        return;
      }
      ctx.log.warn('shutdown requested by button', { button: source });
      run = () => ctx.handlers.shutdown();
      break;
    case 'none':
      return;
  }
  let p: Promise<unknown>;
  try {
    p = run();
  } catch (e) {
    p = Promise.reject(e);
  }
  // Logged after the handler started: a journal write must not add to shutter lag.
  ctx.log.info('button action', { button: source, action });
  Promise.resolve(p).catch((e: unknown) =>
    ctx.log.warn('button action failed', { button: source, action, error: errorMessage(e) }),
  );
}
