import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import { validateConfigText } from '../../src/config/validate.js';

describe('validateConfigText', () => {
  it('fills every default for an empty file', () => {
    const r = validateConfigText('');
    expect(r.errors).toEqual([]);
    expect(r.config?.web.port).toBe(8080);
    expect(r.config?.camera.preview).toEqual({ width: 640, height: 480, fps: 15, quality: 50 });
    expect(r.config?.control.socket).toBe('/run/pinhole/control.sock');
    expect(r.config?.gpio.backend).toBe('auto');
  });

  it('reports every error with its dotted path and line, in file order', () => {
    const text = [
      'web:',
      '  port: 99999',
      '  hots: 0.0.0.0',
      'camera:',
      '  nonsenseKey: 1',
      '  preview:',
      '    fps: fast',
      'log:',
      '  level: loud',
    ].join('\n');
    const r = validateConfigText(text);
    expect(r.config).toBeUndefined();
    expect(r.errors).toEqual([
      'web.port: must be <= 65535 (out of range) (line 2)',
      'web.hots: unknown key (did you mean "host"?) (line 3)',
      'camera.nonsenseKey: unknown key (line 5)',
      'camera.preview.fps: must be number (line 7)',
      'log.level: must be one of: "debug", "info", "warn", "error", "silent" (line 9)',
    ]);
  });

  it('reports an unknown key at its own path and line, not at its parent', () => {
    const r = validateConfigText('camera:\n  backend: sim\n\n\n  nonsenseKey: 1\n');
    expect(r.errors).toEqual(['camera.nonsenseKey: unknown key (line 5)']);
  });

  it('reports a YAML syntax error with its line', () => {
    const r = validateConfigText('web:\n  port: 8080\ncamera:\n\t- tab\n');
    expect(r.errors).toEqual(['camera: YAML syntax error: Tabs are not allowed as indentation (line 4)']);
  });

  it('rejects a root that is not a mapping', () => {
    expect(validateConfigText('- a\n- b\n').errors).toEqual([
      '(file): the config must be a mapping of keys to values (line 1)',
    ]);
  });

  it('reports wrong types and ranges inside list items', () => {
    const r = validateConfigText(
      'gpio:\n  buttons:\n    - name: shutter\n      pin: 40\n    - { name: Bad Name, pin: "x" }\n',
    );
    expect(r.errors).toContain('gpio.buttons.0.pin: must be <= 27 (out of range) (line 4)');
    expect(r.errors.some((e) => e.startsWith('gpio.buttons.1.name:') && e.endsWith('(line 5)'))).toBe(true);
    expect(r.errors).toContain('gpio.buttons.1.pin: must be integer (line 5)');
  });

  it('rejects duplicate keys', () => {
    expect(validateConfigText('web:\n  port: 1\n  port: 2\n').errors[0]).toMatch(/Map keys must be unique/);
  });

  it('does not mutate defaults between calls', () => {
    const a = defaultConfig();
    a.web.port = 1;
    expect(defaultConfig().web.port).toBe(8080);
  });
});
