import { type Static, Type as T } from '@sinclair/typebox';
import { meta } from './core.js';

export const SyncTargetSchema = T.Object(
  {
    name: T.String({
      pattern: '^[a-z0-9][a-z0-9_-]{0,31}$',
      ...meta({
        title: 'Name',
        description: 'Shown in the UI and in `pinhole sync status` (never the remote itself).',
      }),
    }),
    remote: T.String({
      minLength: 1,
      maxLength: 1024,
      // A leading dash would be read by rclone as a flag.
      pattern: '^[^-\\s][^\\n\\r]*$',
      ...meta({
        title: 'Remote',
        description:
          'An rclone remote path (`nas:photos/pinhole`, `sftp-home:pictures`) or a plain local folder (`/mnt/usb/photos`), which needs no rclone config.',
      }),
    }),
    what: T.Union([T.Literal('originals'), T.Literal('variants'), T.Literal('both')], {
      default: 'originals',
      ...meta({ title: 'What', description: 'Originals, filtered variants, or both.' }),
    }),
  },
  { additionalProperties: false },
);

export const SyncSchema = T.Object(
  {
    targets: T.Array(SyncTargetSchema, {
      default: [],
      maxItems: 8,
      ...meta({
        title: 'Targets',
        description: 'Where photos are copied, e.g. `[{ name: nas, remote: "nas:photos/pinhole", what: both }]`.',
      }),
    }),
    rcloneConfig: T.String({
      minLength: 1,
      default: '/etc/pinhole/rclone.conf',
      ...meta({
        title: 'rclone config file',
        description:
          'Remotes and their credentials (mode 0600, owner pinhole). A missing file is fine while every target is a local folder.',
      }),
    }),
    bwlimit: T.Union([T.String({ pattern: '^[0-9A-Za-z.,:| -]{1,200}$' }), T.Null()], {
      default: null,
      ...meta({
        title: 'Bandwidth limit',
        description: "rclone's --bwlimit, e.g. `1M` (1 MiB/s) or `08:00,512k 23:00,off`; null = unlimited.",
      }),
    }),
    transfers: T.Integer({
      minimum: 1,
      maximum: 16,
      default: 4,
      ...meta({ title: 'Parallel transfers', description: "rclone's --transfers for one batch." }),
    }),
    nice: T.Integer({
      minimum: 0,
      maximum: 19,
      default: 19,
      ...meta({
        title: 'rclone CPU niceness',
        description:
          'Scheduling priority of the rclone child (and of its own scheduling group): 19 = background work, behind the shutter, the preview and the filters. Lower it only on a camera with CPU to spare.',
      }),
    }),
    batchSize: T.Integer({
      minimum: 1,
      maximum: 500,
      default: 50,
      ...meta({ title: 'Batch size', description: 'Files handed to one rclone run.' }),
    }),
    retryInitialSeconds: T.Integer({
      minimum: 1,
      maximum: 3600,
      default: 30,
      ...meta({ title: 'First retry after (s)', description: 'Delay after a failed upload; doubles per attempt.' }),
    }),
    retryMaxSeconds: T.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 3600,
      ...meta({ title: 'Longest retry delay (s)', description: 'Cap of the retry backoff.' }),
    }),
    deleteLocalAfterDays: T.Union([T.Integer({ minimum: 1, maximum: 3650 }), T.Null()], {
      default: null,
      ...meta({
        title: 'Delete local copies after (days)',
        description:
          'Delete a photo from the camera this many days after capture, only once every target has a copy verified by size (and hash where the backend has one). null = never delete.',
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'Sync', description: 'Copies photos to your own storage through rclone.' }),
  },
);

export const MqttSchema = T.Object(
  {
    url: T.Union([T.String({ pattern: '^(mqtts?|wss?)://[^\\s]+$' }), T.Null()], {
      default: null,
      ...meta({
        title: 'Broker URL',
        description: '`mqtt://homeassistant.local:1883` or `mqtts://…`; null = MQTT off.',
        requiresRestart: true,
      }),
    }),
    username: T.Union([T.String({ minLength: 1, maxLength: 256 }), T.Null()], {
      default: null,
      ...meta({ title: 'Username', description: 'Broker user; null = anonymous.', requiresRestart: true }),
    }),
    passwordFile: T.Union([T.String({ minLength: 1 }), T.Null()], {
      default: null,
      ...meta({
        title: 'Password file',
        description: 'File holding the broker password (mode 0600); the password itself never goes in config.yaml.',
        requiresRestart: true,
      }),
    }),
    deviceId: T.Union([T.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }), T.Null()], {
      default: null,
      ...meta({
        title: 'Device id',
        description:
          'Unique per camera: part of the topics and of every Home Assistant unique id. null = derived from the machine id.',
        requiresRestart: true,
      }),
    }),
    baseTopic: T.Union([T.String({ pattern: '^[^#+\\s]{1,200}$' }), T.Null()], {
      default: null,
      ...meta({ title: 'Base topic', description: 'null = `pinhole/<deviceId>`.', requiresRestart: true }),
    }),
    discoveryPrefix: T.String({
      pattern: '^[^#+\\s/]{1,64}$',
      default: 'homeassistant',
      ...meta({
        title: 'Discovery prefix',
        description: "Home Assistant's MQTT discovery prefix.",
        requiresRestart: true,
      }),
    }),
    tls: T.Object(
      {
        ca: T.Union([T.String({ minLength: 1 }), T.Null()], {
          default: null,
          ...meta({ title: 'CA file', description: 'PEM file of the CA that signed the broker (mqtts).' }),
        }),
        rejectUnauthorized: T.Boolean({
          default: true,
          ...meta({ title: 'Verify the broker', description: "Refuse a broker whose certificate doesn't verify." }),
        }),
      },
      { additionalProperties: false, default: {}, ...meta({ title: 'TLS', description: 'For mqtts:// brokers.' }) },
    ),
    stateIntervalSeconds: T.Integer({
      minimum: 5,
      maximum: 3600,
      default: 60,
      ...meta({ title: 'State every (s)', description: 'How often storage and temperature are published.' }),
    }),
    machineIdFile: T.String({
      minLength: 1,
      default: '/etc/machine-id',
      ...meta({
        title: 'Machine id file',
        description: 'Where the default device id comes from (tests point it elsewhere).',
        requiresRestart: true,
      }),
    }),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'MQTT', description: 'Home Assistant over MQTT (discovery, shutter, sensors).' }),
  },
);

export type SyncConfig = Static<typeof SyncSchema>;
export type SyncTarget = Static<typeof SyncTargetSchema>;
export type MqttConfig = Static<typeof MqttSchema>;
