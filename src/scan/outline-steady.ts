/**
 * Keeps the live print outline steady. One preview frame can mislead the print finder — a hand or a passing object
 * across the print's edge, a frame caught mid-exposure change — and an outline that jumps for half a second and
 * back is worse than one that waits. A result is shown only when it agrees with the frame before it: both found
 * no print, or both found one with every corner within `tolerance` (fraction of the frame's diagonal) of the
 * other's. It costs one frame of delay (half a second at the default 2 fps) when the print really moves.
 */
export type Corners = [number, number][];

export class OutlineSteadier {
  private last?: Corners | null;

  constructor(private readonly tolerance = 0.02) {}

  /**
   * The next frame's result (corners as fractions of a frame whose height / width is `aspect`): what to show (the
   * two frames' mean), or undefined to keep showing what is shown.
   */
  next(corners: Corners | null, aspect: number): { corners: Corners | null } | undefined {
    const before = this.last;
    this.last = corners;
    if (before === undefined) return undefined;
    if (corners === null || before === null) return corners === null && before === null ? { corners: null } : undefined;
    const diag = Math.hypot(1, aspect);
    const near = corners.every(
      ([x, y], i) => Math.hypot(x - before[i][0], (y - before[i][1]) * aspect) <= this.tolerance * diag,
    );
    if (!near) return undefined;
    const r = (v: number) => Math.round(v * 1e4) / 1e4;
    return { corners: corners.map(([x, y], i) => [r((x + before[i][0]) / 2), r((y + before[i][1]) / 2)]) };
  }

  /** A new watch starts from nothing. */
  reset(): void {
    this.last = undefined;
  }
}
