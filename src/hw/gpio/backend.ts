/**
 * The small interface every GPIO backend implements. Backends speak raw line levels (0/1) with BCM pin numbers;
 * active-low, debounce and press gestures are decided above them, in pure code (button.ts), so every backend
 * behaves the same.
 */
export type Level = 0 | 1;
export type Pull = 'up' | 'down' | 'off';
export type BackendKind = 'gpiod' | 'onoff' | 'pigpio' | 'sim' | 'none';
/** Who drops spikes shorter than gpio.glitchFilterUs when the backend does it itself. */
export type NativeFilter = 'pigpio' | 'debounce-period';

export interface InputOptions {
  pull: Pull;
  /** Spike filter, applied by backends that declare `nativeFilter`; the others ignore it (see GlitchFilter). */
  glitchFilterUs: number;
  /**
   * Called on every edge with the new level. `ts` (any monotonic unit, per line) orders edges when the backend
   * knows the kernel's timestamp; edges older than one already seen are dropped by the button logic.
   */
  onEdge(level: Level, ts?: number): void;
}

export interface InputLine {
  close(): Promise<void>;
}

export interface OutputLine {
  /** Never throws: a failed write is logged by the backend (an LED is not worth stopping the camera for). */
  write(level: Level): void;
  close(): Promise<void>;
}

export interface GpioBackend {
  readonly kind: BackendKind;
  /** Set when the backend applies InputOptions.glitchFilterUs itself; otherwise the caller filters in software. */
  readonly nativeFilter?: NativeFilter;
  /** False when the backend cannot set pull resistors (onoff): the pins keep their boot-time pulls. */
  readonly setsPulls?: boolean;
  openInput(pin: number, opts: InputOptions): Promise<InputLine>;
  openOutput(pin: number, initial: Level): Promise<OutputLine>;
  /** Releases every line the backend opened. */
  close(): Promise<void>;
  /** Backend-specific facts for status (sysfs base, libgpiod version, ...). */
  describe?(): Record<string, unknown>;
}

/** The do-nothing backend: the daemon runs without buttons or LEDs. */
export class NoneBackend implements GpioBackend {
  readonly kind = 'none' as const;
  async openInput(): Promise<InputLine> {
    return { close: async () => {} };
  }
  async openOutput(): Promise<OutputLine> {
    return { write: () => {}, close: async () => {} };
  }
  async close(): Promise<void> {}
}
