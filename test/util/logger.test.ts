import { afterEach, describe, expect, it } from 'vitest';
import { configureLogging, createLogger } from '../../src/util/logger.js';

describe('logger', () => {
  const lines: string[] = [];
  const sink = (l: string) => {
    lines.push(l);
  };
  afterEach(() => {
    lines.length = 0;
    configureLogging({ level: 'info', namespaces: {}, journald: false, sink: (l) => process.stdout.write(`${l}\n`) });
  });

  it('writes one line per event with the namespace and fields, newlines folded', () => {
    configureLogging({ level: 'debug', namespaces: {}, journald: false, sink });
    createLogger('camera').info('frame\nlost', { pid: 42, why: 'no frame for 5 s', ok: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}camera: frame \| lost pid=42 why="no frame for 5 s" ok=true$/,
    );
  });

  it('prefixes the syslog priority under journald', () => {
    configureLogging({ level: 'debug', namespaces: {}, journald: true, sink });
    const log = createLogger('web');
    log.error('boom');
    log.warn('careful');
    log.info('hello');
    log.debug('details');
    expect(lines).toEqual(['<3>web: boom', '<4>web: careful', '<6>web: hello', '<7>web: details']);
  });

  it('applies levels per namespace, the most specific prefix winning', () => {
    configureLogging({
      level: 'warn',
      namespaces: { camera: 'debug', 'camera.supervisor': 'error' },
      journald: true,
      sink,
    });
    createLogger('camera').debug('a');
    createLogger('camera.splitter').debug('b');
    createLogger('camera.supervisor').warn('c');
    createLogger('cameraman').info('d');
    createLogger('web').warn('e');
    expect(lines).toEqual(['<7>camera: a', '<7>camera.splitter: b', '<4>web: e']);
  });

  it('child loggers extend the namespace', () => {
    configureLogging({ level: 'info', namespaces: {}, journald: true, sink });
    createLogger('gpio').child('button').info('pressed');
    expect(lines).toEqual(['<6>gpio.button: pressed']);
  });
});
