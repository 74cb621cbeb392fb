import type { GpioBackend, InputLine, InputOptions, Level, OutputLine } from './backend.js';

/**
 * Development backend: inputs are driven with `setLevel` (by `pinhole sim press` through the control socket,
 * later by the web UI's dev panel) and outputs just remember their level for status.
 */
export class SimBackend implements GpioBackend {
  readonly kind = 'sim' as const;
  private readonly inputs = new Map<number, { level: Level; opts: InputOptions }>();
  private readonly outputs = new Map<number, Level>();

  async openInput(pin: number, opts: InputOptions): Promise<InputLine> {
    // The idle level is what the pull resistor gives an open contact.
    this.inputs.set(pin, { level: opts.pull === 'up' ? 1 : 0, opts });
    return { close: async () => void this.inputs.delete(pin) };
  }

  async openOutput(pin: number, initial: Level): Promise<OutputLine> {
    this.outputs.set(pin, initial);
    return {
      write: (level) => void this.outputs.set(pin, level),
      close: async () => void this.outputs.delete(pin),
    };
  }

  /** Drives an input line like a real contact would; an unchanged level produces no edge, as on hardware. */
  setLevel(pin: number, level: Level): void {
    const line = this.inputs.get(pin);
    if (!line) throw new Error(`sim: GPIO ${pin} is not an open input`);
    if (line.level === level) return;
    line.level = level;
    line.opts.onEdge(level);
  }

  inputLevel(pin: number): Level | undefined {
    return this.inputs.get(pin)?.level;
  }

  outputLevel(pin: number): Level | undefined {
    return this.outputs.get(pin);
  }

  async close(): Promise<void> {
    this.inputs.clear();
    this.outputs.clear();
  }

  describe(): Record<string, unknown> {
    return { outputs: Object.fromEntries(this.outputs) };
  }
}
