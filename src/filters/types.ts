import type { LazySession } from '../vision/onnx.js';
import type { Face } from './faces.js';

export type FilterKind = 'model' | 'classical' | 'composite';
/** Rough cost, for the UI and for progress weighting: light ≈ a sharp pass, heavy ≈ a neural net over the photo. */
export type CostClass = 'light' | 'medium' | 'heavy';

export type ParamValue = string | number | boolean;
export type ParamValues = Record<string, ParamValue>;

export type ParamSpec =
  | { type: 'enum'; values: readonly string[]; default: string; description: string }
  | { type: 'number'; min: number; max: number; default: number; description: string }
  | { type: 'integer'; min: number; max: number; default: number; description: string }
  | { type: 'boolean'; default: boolean; description: string };

/** Filter models by manifest name: sessions loaded on demand, and why a model cannot be used. */
export interface ModelProvider {
  /** undefined when usable, else a reason (missing, wrong hash). */
  problem(name: string): Promise<string | undefined>;
  /** Throws UnavailableError when the model cannot be used. */
  session(name: string): Promise<LazySession>;
  releaseAll?(): Promise<void>;
}

/** Finds faces in an image file, in that image's pixel coordinates. */
export interface FaceFinder {
  find(imagePath: string): Promise<Face[]>;
  /** undefined when usable, else why not (detector model missing). */
  problem?(): Promise<string | undefined>;
  release?(): Promise<void>;
}

export interface FilterContext {
  signal?: AbortSignal;
  onProgress: (fraction: number) => void;
  models: ModelProvider;
  faces?: FaceFinder;
  tileSize: number;
  maxOutputMegapixels: number;
  /** A fresh path in the work directory for an intermediate file. */
  tempFile: (suffix: string) => string;
  /** Sum of model run() times, for the bench. */
  onRunMs?: (ms: number) => void;
  /** Manifest name of the person segmentation model (vision.analysis.maskModel); default selfie_seg. */
  personMaskModel?: string;
}

export interface FilterDef {
  name: string;
  title: string;
  description: string;
  kind: FilterKind;
  cost: CostClass;
  params: Record<string, ParamSpec>;
  /** Model names needed with these params. */
  models?: (params: ParamValues) => string[];
  needsFaces?: boolean;
  /** Output size for an input size (default: unchanged). Throws ValidationError when it is not allowed. */
  outputSize?: (
    size: { width: number; height: number },
    params: ParamValues,
    ctx: Pick<FilterContext, 'maxOutputMegapixels'>,
  ) => { width: number; height: number };
  /** Reads `input` (.v), writes `output` (.v). */
  apply(input: string, output: string, params: ParamValues, ctx: FilterContext): Promise<void>;
}
