import { type Static, Type as T } from '@sinclair/typebox';
import { meta } from './core.js';

/** `vision.analysis`: face analysis beyond detection (src/analysis/). */
export const AnalysisSchema = T.Object(
  {
    maxSessions: T.Integer({
      minimum: 1,
      maximum: 4,
      default: 4,
      ...meta({
        title: 'Resident analysis models',
        description:
          'How many of the analysis models (expression, descriptor, person mask, pose) may be loaded at once; the least recently used is released first. 2 on 512 MB boards.',
        requiresRestart: true,
      }),
    }),
    idleReleaseSeconds: T.Integer({
      minimum: 0,
      maximum: 3600,
      default: 30,
      ...meta({
        title: 'Release analysis models after (s)',
        description:
          'An analysis model unused for this long is unloaded; 0 keeps it until the cap evicts it. The live face detector (its thread and session) is unloaded after the same time without a frame or photo to detect, and loaded again by the next one.',
        requiresRestart: true,
      }),
    }),
    maxSide: T.Integer({
      minimum: 256,
      maximum: 8192,
      default: 2048,
      ...meta({
        title: 'Analysis size',
        description:
          'Photos are decoded at most this large (longest side) for expressions and descriptors; faces smaller than the models need are skipped.',
      }),
    }),
    maskModel: T.Union([T.Literal('selfie_seg'), T.Literal('selfie_seg_landscape')], {
      default: 'selfie_seg',
      ...meta({
        title: 'Person mask model',
        description:
          '`selfie_seg` (256×256) or `selfie_seg_landscape` (256×144, about 40 % less work: the small-board choice). Used by the portrait filter.',
        requiresRestart: true,
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({
      title: 'Face analysis',
      description: 'Expressions, face descriptors, person mask and pose (models loaded on demand).',
    }),
  },
);

export type AnalysisConfig = Static<typeof AnalysisSchema>;
