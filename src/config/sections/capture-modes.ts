import { type Static, Type as T } from '@sinclair/typebox';
import { meta } from './core.js';

/**
 * Settings of the capture modes built on face analysis (smile shutter, best shot, gesture shutter). They live under
 * `camera.capture.*`; camera.ts only lists them, so each mode's keys sit in one place.
 */
export const SmileSchema = T.Object(
  {
    threshold: T.Number({
      minimum: 0.05,
      maximum: 1,
      default: 0.7,
      ...meta({
        title: 'Smile threshold',
        description:
          'A face counts as smiling when its smile score (the expression model’s P(happy)) is at least this.',
      }),
    }),
    frames: T.Integer({
      minimum: 1,
      maximum: 20,
      default: 3,
      ...meta({
        title: 'Smiling frames',
        description:
          'The smile shutter fires after this many analysed preview frames in a row in which every face smiles.',
      }),
    }),
    timeoutMs: T.Integer({
      minimum: 1000,
      maximum: 600_000,
      default: 30_000,
      ...meta({
        title: 'Smile shutter timeout (ms)',
        description: 'An armed smile shutter that has not fired after this long disarms itself, with a message.',
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'Smile shutter', description: 'Takes the photo when everybody smiles.' }),
  },
);

export const BestShotSchema = T.Object(
  {
    frames: T.Integer({
      minimum: 2,
      maximum: 10,
      default: 5,
      ...meta({
        title: 'Best-shot frames',
        description: 'Full-resolution frames of the burst; the best one becomes the photo.',
      }),
    }),
    keepAlternates: T.Boolean({
      default: true,
      ...meta({
        title: 'Keep alternates',
        description: 'Keep the other frames with the photo, so the viewer can show them and promote one.',
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({
      title: 'Best shot',
      description: 'A burst scored by faces, smiles and sharpness; the best frame is kept.',
    }),
  },
);

export const GestureSchema = T.Object(
  {
    holdMs: T.Integer({
      minimum: 100,
      maximum: 5000,
      default: 500,
      ...meta({
        title: 'Raised-hand hold (ms)',
        description: 'A hand held above the shoulder this long starts the self-timer.',
      }),
    }),
    timerSeconds: T.Integer({
      minimum: 0,
      maximum: 60,
      default: 3,
      ...meta({ title: 'Gesture self-timer (s)', description: 'Countdown between the gesture and the photo.' }),
    }),
    fps: T.Number({
      minimum: 0.5,
      maximum: 15,
      default: 4,
      ...meta({
        title: 'Pose rate',
        description: 'Preview frames per second given to the pose model while the gesture shutter is armed.',
      }),
    }),
    timeoutMs: T.Integer({
      minimum: 1000,
      maximum: 600_000,
      default: 60_000,
      ...meta({
        title: 'Gesture shutter timeout (ms)',
        description: 'An armed gesture shutter that has seen no raised hand after this long disarms itself.',
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({
      title: 'Gesture shutter',
      description: 'A raised hand starts the self-timer (MoveNet on the preview).',
    }),
  },
);

export type SmileConfig = Static<typeof SmileSchema>;
export type BestShotConfig = Static<typeof BestShotSchema>;
export type GestureConfig = Static<typeof GestureSchema>;
