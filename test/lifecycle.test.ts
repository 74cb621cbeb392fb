import { describe, expect, it } from 'vitest';
import type { Component } from '../src/component.js';
import { defaultConfig } from '../src/config/load.js';
import type { PinholeConfig } from '../src/config/schema.js';
import { EventBus } from '../src/events.js';
import { Lifecycle } from '../src/lifecycle.js';

/** A hand-written fake component that records what happens to it. */
class FakeComponent implements Component {
  static log: string[] = [];
  constructor(
    readonly name: string,
    readonly configSections: readonly (keyof PinholeConfig)[],
    private readonly opts: { failStart?: boolean; hangStop?: boolean; reconfigure?: 'applied' | 'restart' } = {},
    readonly generation = 0,
  ) {
    if (opts.reconfigure) this.reconfigure = async () => opts.reconfigure ?? 'applied';
  }
  async start() {
    FakeComponent.log.push(`start ${this.name}#${this.generation}`);
    if (this.opts.failStart) throw new Error(`${this.name} cannot start`);
  }
  async stop() {
    FakeComponent.log.push(`stop ${this.name}#${this.generation}`);
    if (this.opts.hangStop) await new Promise(() => {});
  }
  reconfigure?: Component['reconfigure'];
}

function factory(
  name: string,
  sections: (keyof PinholeConfig)[],
  opts: ConstructorParameters<typeof FakeComponent>[2] = {},
  optional = true,
) {
  let gen = 0;
  return { name, optional, create: () => new FakeComponent(name, sections, opts, gen++) };
}

describe('Lifecycle', () => {
  it('starts in order, stops in reverse, and bounds a hanging stop', async () => {
    FakeComponent.log = [];
    const lc = new Lifecycle(
      [factory('a', []), factory('b', [], { hangStop: true }), factory('c', [])],
      defaultConfig(),
      new EventBus(),
      50,
    );
    await lc.start();
    await lc.stop();
    expect(FakeComponent.log).toEqual(['start a#0', 'start b#0', 'start c#0', 'stop c#0', 'stop b#0', 'stop a#0']);
  });

  it('runs without an optional component that fails to start, and refuses a required one', async () => {
    FakeComponent.log = [];
    const lc = new Lifecycle(
      [factory('a', []), factory('gpio', [], { failStart: true })],
      defaultConfig(),
      new EventBus(),
    );
    await lc.start();
    expect(lc.states()).toEqual([
      { name: 'a', running: true, error: undefined, status: undefined },
      { name: 'gpio', running: false, error: 'gpio cannot start', status: undefined },
    ]);
    await lc.stop();
    const required = new Lifecycle(
      [factory('camera', [], { failStart: true }, false)],
      defaultConfig(),
      new EventBus(),
    );
    await expect(required.start()).rejects.toThrow(/cannot start/);
  });

  it('reconfigures live, restarts when asked or when it cannot reconfigure, and leaves others alone', async () => {
    FakeComponent.log = [];
    const bus = new EventBus();
    const prev = defaultConfig();
    const lc = new Lifecycle(
      [
        factory('live', ['camera'], { reconfigure: 'applied' }),
        factory('restarts', ['camera'], { reconfigure: 'restart' }),
        factory('plain', ['web']),
        factory('other', ['gpio']),
      ],
      prev,
      bus,
    );
    await lc.start();
    FakeComponent.log = [];
    const next = structuredClone(prev);
    next.camera.preview.fps = 5;
    next.web.port = 9000;
    bus.emit('config.changed', { config: next, previous: prev, sections: ['camera', 'web'] });
    await lc.settled();
    expect(FakeComponent.log).toEqual(['stop restarts#0', 'start restarts#1', 'stop plain#0', 'start plain#1']);
    await lc.stop();
  });
});
