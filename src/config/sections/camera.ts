import { type Static, Type as T } from '@sinclair/typebox';
import { BestShotSchema, GestureSchema, SmileSchema } from './capture-modes.js';
import { meta } from './core.js';
import { NightSchema } from './night.js';

const lit = <V extends string>(...values: V[]) => values.map((v) => T.Literal(v));

export const CameraSchema = T.Object(
  {
    backend: T.Union(lit('rpicam', 'sim', 'none'), {
      default: 'rpicam',
      ...meta({
        title: 'Camera backend',
        description:
          '`rpicam`: rpicam-apps on a Pi. `sim`: the bundled fake rpicam executables (development). `none`: no camera.',
        requiresRestart: true,
      }),
    }),
    preview: T.Object(
      {
        width: T.Integer({
          minimum: 64,
          maximum: 1920,
          default: 640,
          ...meta({ title: 'Preview width', description: 'Live preview width in pixels.' }),
        }),
        height: T.Integer({
          minimum: 48,
          maximum: 1080,
          default: 480,
          ...meta({ title: 'Preview height', description: 'Live preview height in pixels.' }),
        }),
        fps: T.Number({
          minimum: 1,
          maximum: 60,
          default: 15,
          ...meta({ title: 'Preview frame rate', description: 'Frames per second of the live preview.' }),
        }),
        quality: T.Integer({
          minimum: 1,
          maximum: 100,
          default: 50,
          ...meta({ title: 'Preview JPEG quality', description: 'MJPEG quality (rpicam-vid -q).' }),
        }),
      },
      {
        additionalProperties: false,
        default: {},
        ...meta({ title: 'Preview', description: 'The MJPEG live preview stream.' }),
      },
    ),
    still: T.Object(
      {
        width: T.Integer({
          minimum: 0,
          maximum: 16384,
          default: 0,
          ...meta({ title: 'Still width', description: "Photo width in pixels; 0 = the sensor's full resolution." }),
        }),
        height: T.Integer({
          minimum: 0,
          maximum: 16384,
          default: 0,
          ...meta({ title: 'Still height', description: "Photo height in pixels; 0 = the sensor's full resolution." }),
        }),
        quality: T.Integer({
          minimum: 1,
          maximum: 100,
          default: 93,
          ...meta({ title: 'Still JPEG quality', description: 'rpicam-still -q.' }),
        }),
      },
      {
        additionalProperties: false,
        default: {},
        ...meta({ title: 'Stills', description: 'Full-resolution photos.' }),
      },
    ),
    capture: T.Object(
      {
        strategy: T.Union(lit('switch', 'signal'), {
          default: 'signal',
          ...meta({
            title: 'Capture strategy',
            description:
              '`switch`: stop the preview, run rpicam-still --immediate, resume. `signal` (default): while nobody watches the preview, an rpicam-still kept open with --signal --zsl takes the photo on SIGUSR1 (about a quarter of the shutter lag); while the preview is watched it works like `switch`.',
            requiresRestart: true,
          }),
        }),
        busyPolicy: T.Union(lit('queue', 'refuse'), {
          default: 'queue',
          ...meta({
            title: 'When busy',
            description:
              'A capture requested during a capture is queued (up to queueLimit) or refused with a busy error.',
          }),
        }),
        queueLimit: T.Integer({
          minimum: 1,
          maximum: 20,
          default: 3,
          ...meta({ title: 'Capture queue limit', description: 'Pending captures kept while one runs.' }),
        }),
        timeoutMs: T.Integer({
          minimum: 1000,
          maximum: 900000,
          default: 20000,
          ...meta({
            title: 'Capture timeout (ms)',
            description:
              'A capture not done in this time kills the camera process. When not set, derived from a fixed shutter: 20000 + twice the shutter time (a capture waits for up to two frames, and each lasts at least the shutter time).',
          }),
        }),
        zsl: T.Union(lit('auto', 'on', 'off'), {
          default: 'auto',
          ...meta({
            title: 'Zero shutter lag',
            description:
              "Strategy `signal`: keep the armed rpicam-still in still mode (--zsl). `auto`: the board profile decides, from the board's camera memory (the reason is shown in status). A failed buffer allocation falls back to the viewfinder mode once, then to one-shot captures.",
          }),
        }),
        bufferCount: T.Integer({
          minimum: 0,
          maximum: 16,
          default: 0,
          ...meta({
            title: 'Armed buffer count',
            description:
              "Buffers per stream of the armed rpicam-still (--buffer-count). 0 = the board profile's choice (the app's default of 4 where memory allows).",
          }),
        }),
        smile: SmileSchema,
        bestShot: BestShotSchema,
        gesture: GestureSchema,
        night: NightSchema,
      },
      { additionalProperties: false, default: {}, ...meta({ title: 'Capture', description: 'How photos are taken.' }) },
    ),
    controls: T.Object(
      {
        rotation: T.Union([T.Literal(0), T.Literal(180)], {
          default: 0,
          ...meta({ title: 'Rotation', description: 'Image rotation (0 or 180).' }),
        }),
        hflip: T.Boolean({ default: false, ...meta({ title: 'Horizontal flip', description: 'Mirror left-right.' }) }),
        vflip: T.Boolean({ default: false, ...meta({ title: 'Vertical flip', description: 'Mirror top-bottom.' }) }),
        ev: T.Number({
          minimum: -10,
          maximum: 10,
          default: 0,
          ...meta({ title: 'Exposure compensation', description: 'EV compensation (--ev).' }),
        }),
        awb: T.Union(lit('auto', 'incandescent', 'tungsten', 'fluorescent', 'indoor', 'daylight', 'cloudy', 'custom'), {
          default: 'auto',
          ...meta({ title: 'White balance', description: 'AWB mode (--awb).' }),
        }),
        denoise: T.Union(lit('auto', 'off', 'cdn_off', 'cdn_fast', 'cdn_hq'), {
          default: 'auto',
          ...meta({ title: 'Sensor denoise', description: 'ISP denoise (--denoise).' }),
        }),
        shutterUs: T.Integer({
          minimum: 0,
          maximum: 200_000_000,
          default: 0,
          ...meta({ title: 'Shutter (µs)', description: 'Fixed exposure time; 0 = automatic.' }),
        }),
        gain: T.Number({
          minimum: 0,
          maximum: 64,
          default: 0,
          ...meta({ title: 'Analogue gain', description: 'Fixed gain; 0 = automatic.' }),
        }),
        metering: T.Union(lit('centre', 'spot', 'average', 'custom'), {
          default: 'centre',
          ...meta({ title: 'Metering', description: 'Metering mode (--metering).' }),
        }),
      },
      {
        additionalProperties: false,
        default: {},
        ...meta({ title: 'Camera controls', description: 'Mapped to rpicam flags.' }),
      },
    ),
    extraArgs: T.Array(T.String(), {
      default: [],
      maxItems: 64,
      ...meta({
        title: 'Extra arguments',
        description: 'Appended to every rpicam command line, for flags Pinhole does not model.',
      }),
    }),
    startTimeoutMs: T.Integer({
      minimum: 1000,
      maximum: 120000,
      default: 15000,
      ...meta({
        title: 'Start timeout (ms)',
        description: 'A camera process that has not delivered its first frame after this long is killed and restarted.',
      }),
    }),
    frameTimeoutMs: T.Integer({
      minimum: 500,
      maximum: 600000,
      default: 5000,
      ...meta({
        title: 'Frame timeout (ms)',
        description:
          'No frame from the camera for this long: the camera process is killed and restarted. When not set, derived from a fixed shutter: 5000 + the shutter time (with a still stream every frame lasts at least the shutter time).',
      }),
    }),
    backoff: T.Object(
      {
        initialMs: T.Integer({
          minimum: 10,
          maximum: 60000,
          default: 500,
          ...meta({ title: 'Initial retry delay (ms)', description: 'First delay after a camera failure.' }),
        }),
        maxMs: T.Integer({
          minimum: 10,
          maximum: 600000,
          default: 30000,
          ...meta({ title: 'Maximum retry delay (ms)', description: 'Cap of the exponential backoff.' }),
        }),
      },
      {
        additionalProperties: false,
        default: {},
        ...meta({ title: 'Restart backoff', description: 'Retry timing for a busy, absent or crashed camera.' }),
      },
    ),
    sim: T.Object(
      {
        images: T.Union([T.String(), T.Null()], {
          default: null,
          ...meta({
            title: 'Simulator images',
            description: 'Folder of photos the simulated camera shows; null = a generated scene with a clock.',
          }),
        }),
      },
      {
        additionalProperties: false,
        default: {},
        ...meta({ title: 'Simulator', description: 'Settings of the simulated camera.' }),
      },
    ),
  },
  {
    additionalProperties: false,
    default: {},
    ...meta({ title: 'Camera', description: 'libcamera capture through rpicam-apps.' }),
  },
);

export type CameraConfig = Static<typeof CameraSchema>;
