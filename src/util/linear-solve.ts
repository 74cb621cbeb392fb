/**
 * Solves the n×n linear system held as the augmented rows of M ([A | b], modified in place) by Gauss–Jordan
 * elimination with partial pivoting; undefined when it is singular. Small systems only: the night aligner's 4×4
 * least-squares step and the scan's 8×8 homography.
 */
export function solveLinear(M: number[][], n: number): number[] | undefined {
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (Math.abs(M[p][c]) < 1e-12) return undefined;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((row, i) => row[n] / row[i]);
}
