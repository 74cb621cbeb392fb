import { type Static, Type as T } from '@sinclair/typebox';
import { meta } from './core.js';

const lit = <V extends string>(...values: V[]) => values.map((v) => T.Literal(v));

export const ButtonActions = [
  'shutter',
  'burst',
  'timer',
  'next-filter',
  'toggle-faces',
  'smile-shutter',
  'gesture-shutter',
  'best-shot',
  'night-burst',
  'scan',
  'shutdown',
  'none',
] as const;
const Action = T.Union(lit(...ButtonActions));

export const ButtonSchema = T.Object(
  {
    name: T.String({
      pattern: '^[a-z][a-z0-9_-]{0,31}$',
      ...meta({ title: 'Name', description: 'Used by `pinhole sim press NAME` and in logs.' }),
    }),
    pin: T.Integer({
      minimum: 0,
      maximum: 27,
      ...meta({ title: 'BCM pin', description: 'BCM GPIO number (not the physical pin).' }),
    }),
    action: T.Union(Action.anyOf, {
      default: 'shutter',
      ...meta({ title: 'Action', description: 'What a short press does.' }),
    }),
    activeLow: T.Boolean({
      default: true,
      ...meta({ title: 'Active low', description: 'Pressed = 0 (button to ground with a pull-up).' }),
    }),
    pull: T.Union(lit('up', 'down', 'off'), {
      default: 'up',
      ...meta({
        title: 'Pull resistor',
        description: 'Internal pull, set by gpiod and pigpio; onoff cannot: add `gpio=PIN=ip,pu` to config.txt.',
      }),
    }),
    debounceMs: T.Integer({
      minimum: 0,
      maximum: 500,
      default: 30,
      ...meta({ title: 'Debounce (ms)', description: 'Contact must be stable this long to count.' }),
    }),
    longPressMs: T.Integer({
      minimum: 200,
      maximum: 10000,
      default: 1000,
      ...meta({ title: 'Long press (ms)', description: 'Held this long = long press.' }),
    }),
    longPressAction: T.Union(Action.anyOf, {
      default: 'none',
      ...meta({ title: 'Long-press action', description: 'What a long press does (`shutdown` is allowed only here).' }),
    }),
    doublePressAction: T.Union(Action.anyOf, {
      default: 'none',
      ...meta({
        title: 'Double-press action',
        description: 'What two quick presses do; `none` makes single presses fire at once.',
      }),
    }),
    doublePressMs: T.Integer({
      minimum: 100,
      maximum: 1000,
      default: 300,
      ...meta({ title: 'Double-press window (ms)', description: 'Max gap between the presses of a double press.' }),
    }),
  },
  { additionalProperties: false },
);

export const LedSchema = T.Object(
  {
    name: T.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$', ...meta({ title: 'Name', description: 'LED name.' }) }),
    pin: T.Integer({ minimum: 0, maximum: 27, ...meta({ title: 'BCM pin', description: 'BCM GPIO number.' }) }),
    role: T.Union(lit('ready', 'capture', 'error'), {
      ...meta({ title: 'Role', description: 'Which state it shows.' }),
    }),
    activeLow: T.Boolean({
      default: false,
      ...meta({ title: 'Active low', description: 'LED lit when the pin is 0.' }),
    }),
  },
  { additionalProperties: false },
);

export const GpioSchema = T.Object(
  {
    backend: T.Union(lit('auto', 'gpiod', 'onoff', 'pigpio', 'sim', 'none'), {
      default: 'auto',
      ...meta({
        title: 'GPIO backend',
        description: '`auto` picks by Pi model; `sim` for development.',
        requiresRestart: true,
      }),
    }),
    buttons: T.Array(ButtonSchema, {
      default: [],
      maxItems: 16,
      ...meta({
        title: 'Buttons',
        description: 'Physical buttons, e.g. `{ name: shutter, pin: 26, action: shutter }`.',
      }),
    }),
    leds: T.Array(LedSchema, { default: [], maxItems: 8, ...meta({ title: 'LEDs', description: 'Status LEDs.' }) }),
    timerSeconds: T.Integer({
      minimum: 1,
      maximum: 60,
      default: 3,
      ...meta({ title: 'Self-timer (s)', description: 'Delay of the `timer` action.' }),
    }),
    burstCount: T.Integer({
      minimum: 2,
      maximum: 20,
      default: 3,
      ...meta({ title: 'Burst count', description: 'Photos taken by the `burst` action.' }),
    }),
    sysfsRoot: T.String({
      default: '/sys/class/gpio',
      ...meta({
        title: 'sysfs GPIO root',
        description: 'Where the onoff backend finds gpiochips (tests point it elsewhere).',
        requiresRestart: true,
      }),
    }),
    glitchFilterUs: T.Integer({
      minimum: 0,
      maximum: 100000,
      default: 2000,
      ...meta({
        title: 'Glitch filter (µs)',
        description:
          'Spike filter for buttons: a level must last this long to count. pigpio `glitchFilter`, libgpiod 2 `--debounce-period`, otherwise in software from the event timestamps (libgpiod 1.6, onoff); `pinhole status` shows which. Adds this much latency; 0 disables it.',
        requiresRestart: true,
      }),
    }),
    modelPath: T.String({
      default: '/proc/device-tree/model',
      ...meta({
        title: 'Pi model file',
        description: 'Where `auto` reads the board model (tests point it elsewhere).',
        requiresRestart: true,
      }),
    }),
  },
  { additionalProperties: false, default: {}, ...meta({ title: 'GPIO', description: 'Buttons and LEDs.' }) },
);

export type ButtonConfig = Static<typeof ButtonSchema>;
export type LedConfig = Static<typeof LedSchema>;
export type GpioConfig = Static<typeof GpioSchema>;
