import { type Static, Type as T } from '@sinclair/typebox';
import { meta } from './core.js';

/** A recipe step: a filter name, or `{ filterName: { param: value } }`. */
export const RecipeStepSchema = T.Union([
  T.String({ pattern: '^[a-z][a-z0-9-]*$' }),
  T.Record(
    T.String({ pattern: '^[a-z][a-z0-9-]*$' }),
    T.Record(T.String(), T.Union([T.String(), T.Number(), T.Boolean()])),
    { minProperties: 1, maxProperties: 1 },
  ),
]);

export const FiltersSchema = T.Object(
  {
    recipes: T.Record(
      T.String({ pattern: '^[a-z][a-z0-9-]*$' }),
      T.Array(RecipeStepSchema, { minItems: 1, maxItems: 16 }),
      {
        default: {},
        ...meta({
          title: 'Recipes',
          description: 'Named filter chains, e.g. `night: [{ denoise: { strength: strong } }, lowlight]`.',
        }),
      },
    ),
    onCapture: T.Union([T.String(), T.Null()], {
      default: null,
      ...meta({
        title: 'Recipe on capture',
        description: 'Filter or recipe applied to every new photo (the original is kept).',
      }),
    }),
    workers: T.Integer({
      minimum: 1,
      maximum: 4,
      default: 1,
      ...meta({ title: 'Filter workers', description: 'Filter jobs run at once.', requiresRestart: true }),
    }),
    nice: T.Integer({
      minimum: 0,
      maximum: 19,
      default: 19,
      ...meta({
        title: 'Filter worker CPU niceness',
        description:
          'Scheduling priority of the filter worker process (filters, night merges, scans): 19 = behind the shutter, the preview and live faces, which it then never slows down, but a CPU kept busy by anything else starves it. Lower it only on a camera with CPU to spare.',
      }),
    }),
    queueLimit: T.Integer({
      minimum: 1,
      maximum: 200,
      default: 20,
      ...meta({ title: 'Job queue limit', description: 'Pending filter jobs; more are refused (429).' }),
    }),
    maxInputMegapixels: T.Number({
      minimum: 0.1,
      maximum: 200,
      default: 50,
      ...meta({ title: 'Input limit (MP)', description: 'Larger images are refused.' }),
    }),
    maxOutputMegapixels: T.Number({
      minimum: 0.1,
      maximum: 400,
      default: 48,
      ...meta({ title: 'Upscale output limit (MP)', description: 'Cap on super-resolution output size.' }),
    }),
    tileSize: T.Integer({
      minimum: 64,
      maximum: 1024,
      default: 256,
      ...meta({ title: 'Tile size', description: 'Model filters work in tiles of this size (bounded memory).' }),
    }),
    idleReleaseSeconds: T.Integer({
      minimum: 0,
      maximum: 3600,
      default: 60,
      ...meta({
        title: 'Release models after (s)',
        description: 'Unused filter model sessions are released after this idle time.',
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'Filters', description: 'Restoration filters and looks.' }),
  },
);

export type FiltersConfig = Static<typeof FiltersSchema>;
