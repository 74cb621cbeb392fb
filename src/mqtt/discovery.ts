/**
 * Home Assistant MQTT discovery for one camera: one *device* with a shutter button, the last photo (image), sensors,
 * a problem binary sensor, a live-faces switch and a look select. Payloads follow HA's MQTT docs
 * (home-assistant.io source/_integrations/{button,image,sensor,binary_sensor,switch,select}.mqtt.markdown and
 * mqtt.markdown "Discovery"): topic `<prefix>/<component>/<node_id>/<object_id>/config`, retained; every entity
 * carries `unique_id` (with the device id, so cameras never collide) and the same `device.identifiers`.
 */

export interface DeviceInfo {
  deviceId: string;
  baseTopic: string;
  discoveryPrefix: string;
  version: string;
  looks: string[];
}

export interface Topics {
  availability: string;
  state: string;
  lastPhoto: string;
  shutter: string;
  faces: string;
  look: string;
}

export function topicsFor(base: string): Topics {
  return {
    availability: `${base}/availability`,
    state: `${base}/state`,
    lastPhoto: `${base}/last_photo`,
    shutter: `${base}/shutter/press`,
    faces: `${base}/faces/set`,
    look: `${base}/look/set`,
  };
}

export type Component = 'button' | 'image' | 'sensor' | 'binary_sensor' | 'switch' | 'select';

export interface DiscoveryMessage {
  topic: string;
  component: Component;
  payload: Record<string, unknown>;
}

export const NO_LOOK = 'none';

/** State JSON published on `<base>/state` (retained); entities read it with value templates. */
export interface DeviceState {
  photos: number;
  free_mb: number | null;
  cpu_temp: number | null;
  last_capture: string | null;
  sync_queue: number;
  problem: 'ON' | 'OFF';
  faces: 'ON' | 'OFF';
  look: string;
}

export function discoveryMessages(d: DeviceInfo): DiscoveryMessage[] {
  const t = topicsFor(d.baseTopic);
  const device = {
    identifiers: [d.deviceId],
    name: `Pinhole ${d.deviceId.replace(/^pinhole-/, '')}`,
    manufacturer: 'Pinhole',
    model: 'Pinhole camera',
    sw_version: d.version,
  };
  const common = (objectId: string, name: string) => ({
    name,
    unique_id: `${d.deviceId}_${objectId}`,
    object_id: `${d.deviceId}_${objectId}`,
    availability: [{ topic: t.availability, payload_available: 'online', payload_not_available: 'offline' }],
    device,
    origin: { name: 'Pinhole', sw_version: d.version },
  });
  const value = (key: keyof DeviceState) => `{{ value_json.${key} }}`;
  const msg = (component: Component, objectId: string, payload: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${d.discoveryPrefix}/${component}/${d.deviceId}/${objectId}/config`,
    component,
    payload,
  });
  return [
    msg('button', 'shutter', {
      ...common('shutter', 'Shutter'),
      command_topic: t.shutter,
      payload_press: 'PRESS',
      icon: 'mdi:camera-iris',
    }),
    msg('image', 'last_photo', {
      ...common('last_photo', 'Last photo'),
      image_topic: t.lastPhoto,
      content_type: 'image/jpeg',
    }),
    msg('sensor', 'photos', {
      ...common('photos', 'Photos'),
      state_topic: t.state,
      value_template: value('photos'),
      state_class: 'measurement',
      icon: 'mdi:image-multiple',
    }),
    msg('sensor', 'free_storage', {
      ...common('free_storage', 'Free storage'),
      state_topic: t.state,
      value_template: value('free_mb'),
      device_class: 'data_size',
      unit_of_measurement: 'MB',
      state_class: 'measurement',
      entity_category: 'diagnostic',
    }),
    msg('sensor', 'cpu_temperature', {
      ...common('cpu_temperature', 'CPU temperature'),
      state_topic: t.state,
      value_template: value('cpu_temp'),
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
      entity_category: 'diagnostic',
    }),
    msg('sensor', 'last_capture', {
      ...common('last_capture', 'Last capture'),
      state_topic: t.state,
      value_template: value('last_capture'),
      device_class: 'timestamp',
    }),
    msg('sensor', 'sync_queue', {
      ...common('sync_queue', 'Sync queue'),
      state_topic: t.state,
      value_template: value('sync_queue'),
      unit_of_measurement: 'files',
      state_class: 'measurement',
      icon: 'mdi:cloud-upload',
    }),
    msg('binary_sensor', 'camera_problem', {
      ...common('camera_problem', 'Camera problem'),
      state_topic: t.state,
      value_template: value('problem'),
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'problem',
      entity_category: 'diagnostic',
    }),
    msg('switch', 'live_faces', {
      ...common('live_faces', 'Live faces'),
      command_topic: t.faces,
      state_topic: t.state,
      value_template: value('faces'),
      payload_on: 'ON',
      payload_off: 'OFF',
      icon: 'mdi:face-recognition',
    }),
    msg('select', 'look', {
      ...common('look', 'Look'),
      command_topic: t.look,
      state_topic: t.state,
      value_template: value('look'),
      options: [NO_LOOK, ...d.looks],
      icon: 'mdi:palette',
    }),
  ];
}

export type Command =
  | { kind: 'shutter' }
  | { kind: 'faces'; on: boolean }
  | { kind: 'look'; look: string | null }
  | { kind: 'ha-status'; online: boolean }
  | { kind: 'invalid'; reason: string };

export const MAX_COMMAND_BYTES = 256;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Validates one incoming message. Anything unexpected is `invalid` with a reason: logged and ignored, never thrown. */
export function parseCommand(
  topic: string,
  payload: Uint8Array,
  t: Topics,
  looks: string[],
  haStatusTopic: string,
): Command {
  if (payload.length > MAX_COMMAND_BYTES)
    return { kind: 'invalid', reason: `payload of ${payload.length} bytes (limit ${MAX_COMMAND_BYTES})` };
  let text: string;
  try {
    text = utf8.decode(payload).trim();
  } catch {
    return { kind: 'invalid', reason: 'payload is not UTF-8 text' };
  }
  // Some tools send JSON strings ("PRESS"); accept those, refuse any other JSON.
  if (text.startsWith('"') || text.startsWith('{') || text.startsWith('[')) {
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v !== 'string') return { kind: 'invalid', reason: 'JSON payload is not a string' };
      text = v.trim();
    } catch {
      return { kind: 'invalid', reason: 'malformed JSON payload' };
    }
  }
  const show = JSON.stringify(text.slice(0, 40));
  switch (topic) {
    case t.shutter:
      return text === 'PRESS' ? { kind: 'shutter' } : { kind: 'invalid', reason: `shutter expects PRESS, got ${show}` };
    case t.faces:
      if (text === 'ON' || text === 'OFF') return { kind: 'faces', on: text === 'ON' };
      return { kind: 'invalid', reason: `live faces expects ON or OFF, got ${show}` };
    case t.look:
      if (text === NO_LOOK) return { kind: 'look', look: null };
      if (looks.includes(text)) return { kind: 'look', look: text };
      return { kind: 'invalid', reason: `unknown look ${show}` };
    case haStatusTopic:
      if (text === 'online' || text === 'offline') return { kind: 'ha-status', online: text === 'online' };
      return { kind: 'invalid', reason: `Home Assistant status ${show}` };
    default:
      return { kind: 'invalid', reason: 'unknown topic' };
  }
}
