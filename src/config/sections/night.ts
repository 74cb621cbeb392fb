import { type Static, Type as T } from '@sinclair/typebox';
import { meta } from './core.js';

/**
 * Night mode (`camera.capture.night`): a burst of identical full-resolution frames merged into one low-noise photo
 * (src/night). camera.ts only lists it.
 */
export const NightSchema = T.Object(
  {
    frames: T.Integer({
      minimum: 4,
      maximum: 8,
      default: 6,
      ...meta({
        title: 'Night frames',
        description:
          'Full-resolution frames merged into the photo. More frames: less noise (about 10·log10(N) dB) but a longer burst to hold still for and a longer merge.',
      }),
    }),
    tone: T.Boolean({
      default: true,
      ...meta({
        title: 'Night tone curve',
        description: "Lift the shadows after the merge (the lowlight filter's adaptive curve).",
      }),
    }),
    denoise: T.Boolean({
      default: false,
      ...meta({
        title: 'Night IRCNN pass',
        description:
          'A light IRCNN denoise after the merge, strongest where the merge averaged least (needs the filter models; minutes per photo on a Zero 2 W).',
      }),
    }),
    keepFrames: T.Boolean({
      default: false,
      ...meta({
        title: 'Keep night frames',
        description: 'Keep the burst frames with the merged photo (as its variants frame-1…frame-N).',
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({
      title: 'Night mode',
      description: 'A burst merged into one low-noise photo (button action night-burst, pinhole mode night-burst).',
    }),
  },
);

export type NightConfig = Static<typeof NightSchema>;
