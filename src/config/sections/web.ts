import { type Static, Type as T } from '@sinclair/typebox';
import { meta } from './core.js';

export const WebSchema = T.Object(
  {
    host: T.String({
      minLength: 1,
      default: '0.0.0.0',
      ...meta({ title: 'Listen address', description: 'Address the web UI listens on.', requiresRestart: true }),
    }),
    port: T.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      ...meta({ title: 'Port', description: 'HTTP(S) port of the web UI; 0 = any free port.', requiresRestart: true }),
    }),
    auth: T.Object(
      {
        apiTokens: T.Array(T.String({ minLength: 16, maxLength: 256 }), {
          default: [],
          maxItems: 32,
          ...meta({
            title: 'API tokens',
            description: 'Accepted as `Authorization: Bearer <token>` (at least 16 characters).',
          }),
        }),
        sessionHours: T.Integer({
          minimum: 1,
          maximum: 8760,
          default: 720,
          ...meta({ title: 'Session lifetime (h)', description: 'How long a login lasts.' }),
        }),
      },
      {
        additionalProperties: false,
        default: {},
        ...meta({
          title: 'Authentication',
          description: 'Password is set with `pinhole passwd`; there is no default.',
        }),
      },
    ),
    tls: T.Object(
      {
        enabled: T.Boolean({
          default: false,
          ...meta({
            title: 'HTTPS',
            description: 'Serve over TLS with a self-signed certificate made on first start (needed for Web Share).',
            requiresRestart: true,
          }),
        }),
      },
      { additionalProperties: false, default: {}, ...meta({ title: 'TLS', description: 'HTTPS.' }) },
    ),
    maxViewers: T.Integer({
      minimum: 1,
      maximum: 100,
      default: 20,
      ...meta({ title: 'Preview viewers', description: 'Simultaneous live preview clients.' }),
    }),
  },
  { additionalProperties: false, default: {}, ...meta({ title: 'Web UI', description: 'The phone web interface.' }) },
);

export type WebConfig = Static<typeof WebSchema>;
