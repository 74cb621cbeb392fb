import { describe, expect, it } from 'vitest';
import {
  monitorArgs,
  parseGpiodetect,
  parseGpiodVersion,
  parseMonitorLine,
  setArgs,
} from '../../../src/hw/gpio/gpiod-format.js';

describe('libgpiod version', () => {
  it('tells v1 from v2 by `--version` output', () => {
    expect(parseGpiodVersion('gpiomon (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski')).toBe(1);
    expect(parseGpiodVersion('gpiomon (libgpiod) v2.1.1\nCopyright')).toBe(2);
    expect(parseGpiodVersion('gpiomon (libgpiod) v2.0-rc3')).toBe(2);
    expect(parseGpiodVersion('command not found')).toBeNull();
  });
});

describe('gpiomon arguments', () => {
  it('v1: chip and offset as positionals, -B bias, line-buffered, no debounce option', () => {
    expect(monitorArgs(1, 'gpiochip0', 17, 'up', 2000)).toEqual([
      '-b',
      '-B',
      'pull-up',
      '-F',
      '%e %o %s %n',
      'gpiochip0',
      '17',
    ]);
    expect(monitorArgs(1, 'gpiochip0', 5, 'off', 0)).toContain('disable');
  });
  it('v2: -c chip, -b bias, both edges, debounce period from the glitch filter', () => {
    expect(monitorArgs(2, 'gpiochip4', 26, 'down', 1500)).toEqual([
      '-c',
      'gpiochip4',
      '-b',
      'pull-down',
      '-e',
      'both',
      '-F',
      '%E %o %S',
      '-p',
      '1500us',
      '26',
    ]);
    expect(monitorArgs(2, 'gpiochip0', 26, 'off', 0)).toEqual([
      '-c',
      'gpiochip0',
      '-b',
      'disabled',
      '-e',
      'both',
      '-F',
      '%E %o %S',
      '26',
    ]);
  });
  it('gpioset holds the line: v1 --mode=signal, v2 by default', () => {
    expect(setArgs(1, 'gpiochip0', 16, 1)).toEqual(['--mode=signal', 'gpiochip0', '16=1']);
    expect(setArgs(2, 'gpiochip4', 16, 0)).toEqual(['-c', 'gpiochip4', '16=0']);
  });
});

describe('gpiomon event lines', () => {
  it('v1 explicit format (unpadded nanoseconds)', () => {
    expect(parseMonitorLine('1 17 1700000000 5000000')).toEqual({ level: 1, offset: 17, ts: 1700000000005 });
    expect(parseMonitorLine('0 17 12 999000000')).toEqual({ level: 0, offset: 17, ts: 12999 });
  });
  it('v2 explicit format', () => {
    expect(parseMonitorLine('falling 26 1234.000500000')).toEqual({ level: 0, offset: 26, ts: 1234000.5 });
    expect(parseMonitorLine('rising 26 1234.001000000')).toEqual({ level: 1, offset: 26, ts: 1234001 });
  });
  it('v2 numeric %e (2 = falling)', () => {
    expect(parseMonitorLine('2 26 1 0')?.level).toBe(0);
  });
  it('v1 default format', () => {
    expect(parseMonitorLine('event: FALLING EDGE offset: 17 timestamp: [    1234.500000000]')).toEqual({
      level: 0,
      offset: 17,
      ts: 1234500,
    });
    expect(parseMonitorLine('event:  RISING EDGE offset: 17 timestamp: [1700000000.000000001]')?.level).toBe(1);
  });
  it('v2 default format with chip/offset or a quoted name as line id', () => {
    expect(parseMonitorLine('10002.907638045\tfalling\tgpiochip0 17')).toMatchObject({ level: 0, offset: 17 });
    const named = parseMonitorLine('10002.907638045\trising\t"GPIO17"');
    expect(named?.level).toBe(1);
    expect(named?.offset).toBeUndefined();
    expect(named?.ts).toBeCloseTo(10002907.638045, 3);
  });
  it('ignores banners and blank lines', () => {
    expect(parseMonitorLine('')).toBeNull();
    expect(parseMonitorLine('Monitoring line 17 on gpiochip0')).toBeNull();
  });
});

describe('gpiodetect', () => {
  it('lists chips with labels', () => {
    expect(
      parseGpiodetect('gpiochip0 [gpio-brcmstb@107d508500] (32 lines)\ngpiochip4 [pinctrl-rp1] (54 lines)\n'),
    ).toEqual([
      { chip: 'gpiochip0', label: 'gpio-brcmstb@107d508500' },
      { chip: 'gpiochip4', label: 'pinctrl-rp1' },
    ]);
  });
});
