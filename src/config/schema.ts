import { type Static, Type as T } from '@sinclair/typebox';
import { CameraSchema } from './sections/camera.js';
import { ControlSchema, LogSchema, ModelsSchema, meta, StorageSchema } from './sections/core.js';
import { FiltersSchema } from './sections/filters.js';
import { GpioSchema } from './sections/gpio.js';
import { MqttSchema, SyncSchema } from './sections/sync.js';
import { VisionSchema } from './sections/vision.js';
import { WebSchema } from './sections/web.js';

/**
 * The whole config file. Every key has a title, description and default; unknown keys are errors.
 * Each section lives in its own file under sections/, next to the component that reads it.
 */
export const ConfigSchema = T.Object(
  {
    dataDir: T.String({
      minLength: 1,
      default: '/var/lib/pinhole',
      ...meta({
        title: 'Data folder',
        description: 'Photos, thumbnails and state (password hash, job queue).',
        requiresRestart: true,
      }),
    }),
    web: WebSchema,
    camera: CameraSchema,
    storage: StorageSchema,
    gpio: GpioSchema,
    vision: VisionSchema,
    filters: FiltersSchema,
    sync: SyncSchema,
    mqtt: MqttSchema,
    control: ControlSchema,
    models: ModelsSchema,
    log: LogSchema,
  },
  { additionalProperties: false, default: {} },
);

export type PinholeConfig = Static<typeof ConfigSchema>;
export type ConfigSection = keyof PinholeConfig;
export const configSections = Object.keys(ConfigSchema.properties) as ConfigSection[];
