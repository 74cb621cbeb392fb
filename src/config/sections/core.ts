import { type Static, Type as T } from '@sinclair/typebox';

/** Annotations every key carries: shown by `pinhole config init`, the README reference and the settings page. */
export interface KeyMeta {
  title: string;
  description: string;
  /** Changing this key restarts the component that owns it (in-process); otherwise it is applied live. */
  requiresRestart?: boolean;
}

export const meta = (m: KeyMeta) => m;

export const LogLevelSchema = T.Union([
  T.Literal('debug'),
  T.Literal('info'),
  T.Literal('warn'),
  T.Literal('error'),
  T.Literal('silent'),
]);

export const LogSchema = T.Object(
  {
    level: T.Union(LogLevelSchema.anyOf, {
      default: 'info',
      ...meta({ title: 'Log level', description: 'Minimum level written to stdout (journald).' }),
    }),
    namespaces: T.Record(T.String({ pattern: '^[a-z][a-z0-9.-]*$' }), LogLevelSchema, {
      default: {},
      ...meta({
        title: 'Per-namespace levels',
        description: 'Override the level for a namespace and its children, e.g. `camera: debug`.',
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'Logging', description: 'What the daemon writes to the journal.' }),
  },
);

export const ControlSchema = T.Object(
  {
    socket: T.String({
      minLength: 1,
      default: '/run/pinhole/control.sock',
      ...meta({
        title: 'Control socket',
        description: 'Unix socket that `pinhole` commands use to talk to the daemon (mode 0660).',
        requiresRestart: true,
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'Control socket', description: 'Local command interface.' }),
  },
);

export const ModelsSchema = T.Object(
  {
    dir: T.String({
      minLength: 1,
      default: '/var/lib/pinhole/models',
      ...meta({
        title: 'Model folder',
        description: 'Where `pinhole models install` puts the ONNX models and where the daemon loads them.',
        requiresRestart: true,
      }),
    }),
  },
  { additionalProperties: false, default: {}, ...meta({ title: 'Models', description: 'ONNX model files.' }) },
);

export const StorageSchema = T.Object(
  {
    minFreeMB: T.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 200,
      ...meta({
        title: 'Minimum free space (MB)',
        description: 'Below this, captures are refused with a clear error; the preview goes on.',
      }),
    }),
    thumbnailSize: T.Integer({
      minimum: 64,
      maximum: 1024,
      default: 320,
      ...meta({ title: 'Thumbnail size', description: 'Longest side of gallery thumbnails, in pixels.' }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'Storage', description: 'The photo gallery under dataDir.' }),
  },
);

export type LogConfig = Static<typeof LogSchema>;
export type ControlConfig = Static<typeof ControlSchema>;
export type ModelsConfig = Static<typeof ModelsSchema>;
export type StorageConfig = Static<typeof StorageSchema>;
