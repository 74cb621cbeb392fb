import path from 'node:path';
import { modelStatus, resolveModel } from '../models/manifest.js';
import { UnavailableError } from '../util/errors.js';
import type { SessionOptions } from './onnx.js';
import { YuNetDetector } from './yunet.js';

export interface FaceModelOptions extends SessionOptions {
  /** Manifest name (`yunet_s_dynamic`) or a path to an .onnx file. */
  model: string;
  modelsDir: string;
  inputSize?: { width: number; height: number };
}

/**
 * Resolves, verifies and loads the YuNet model. A manifest model must match its sha256 (a truncated or replaced file
 * is refused with the reason, so the caller can disable face detection and say why); a model given by a path is
 * checked against the manifest only when its file name is a manifest file name.
 */
export async function loadFaceDetector(opts: FaceModelOptions): Promise<YuNetDetector> {
  const resolved = await resolveModel(opts.model, opts.modelsDir);
  if (resolved.entry) {
    const st = await modelStatus(resolved.entry, path.dirname(resolved.path), { verify: true });
    if (st.state !== 'verified')
      throw new UnavailableError(`face model ${resolved.entry.name} ${st.state}: ${st.reason}`, `model-${st.state}`);
  }
  return YuNetDetector.load(resolved.path, {
    threads: opts.threads,
    optimization: opts.optimization,
    memArena: opts.memArena,
    inputSize: opts.inputSize,
  });
}
