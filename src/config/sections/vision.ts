import { type Static, Type as T } from '@sinclair/typebox';
import { AnalysisSchema } from './analysis.js';
import { meta } from './core.js';

const lit = <V extends string>(...values: V[]) => values.map((v) => T.Literal(v));

export const VisionSchema = T.Object(
  {
    threads: T.Integer({
      minimum: 1,
      maximum: 8,
      default: 2,
      ...meta({
        title: 'Inference threads',
        description: 'onnxruntime intra-op threads (2 on a Zero 2 W, 3-4 on a Pi 4/5).',
        requiresRestart: true,
      }),
    }),
    optimization: T.Union(lit('disabled', 'basic', 'extended', 'all'), {
      default: 'all',
      ...meta({
        title: 'Graph optimisation',
        description: 'onnxruntime graph optimisation level.',
        requiresRestart: true,
      }),
    }),
    memArena: T.Boolean({
      default: false,
      ...meta({
        title: 'CPU memory arena',
        description:
          "Keep onnxruntime activations of filter models and `pinhole detect` in a reusable arena (bounded by the largest input). Off gives the smallest RSS on 512 MB boards, but only takes effect when MALLOC_MMAP_THRESHOLD_ is set in the environment (the systemd unit sets it): without it glibc fragmentation grows RSS on every inference, so the arena is used anyway. The daemon's face detector always keeps its buffers (one preview frame at a time): it runs several times a second, and mapping them afresh for every frame cost more CPU than the inference.",
        requiresRestart: true,
      }),
    }),
    faces: T.Object(
      {
        enabled: T.Boolean({
          default: true,
          ...meta({ title: 'Face detection', description: 'Detect faces live and in photos.' }),
        }),
        model: T.String({
          default: 'yunet_s_dynamic',
          ...meta({ title: 'Face model', description: 'Manifest name of the YuNet model.', requiresRestart: true }),
        }),
        fps: T.Number({
          minimum: 0.2,
          maximum: 30,
          default: 4,
          ...meta({ title: 'Live detection rate', description: 'Preview frames per second sent to the detector.' }),
        }),
        threshold: T.Number({
          minimum: 0.05,
          maximum: 1,
          default: 0.6,
          ...meta({ title: 'Score threshold', description: 'Minimum face score.' }),
        }),
        maxSide: T.Integer({
          minimum: 64,
          maximum: 4096,
          default: 640,
          ...meta({
            title: 'Detection size',
            description: 'Photos are downscaled to fit this square before detection.',
          }),
        }),
      },
      { additionalProperties: false, default: {}, ...meta({ title: 'Faces', description: 'YuNet face detection.' }) },
    ),
    analysis: AnalysisSchema,
  },
  { additionalProperties: false, default: {}, ...meta({ title: 'Vision', description: 'onnxruntime inference.' }) },
);

export type VisionConfig = Static<typeof VisionSchema>;
