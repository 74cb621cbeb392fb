import { Document, isMap, isScalar, YAMLMap } from 'yaml';
import { ConfigSchema } from './schema.js';

interface SchemaNode {
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  anyOf?: SchemaNode[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  requiresRestart?: boolean;
}

function allowed(node: SchemaNode): string {
  if (node.anyOf?.every((n) => n.const !== undefined))
    return ` One of: ${node.anyOf.map((n) => String(n.const)).join(', ')}.`;
  if (node.minimum !== undefined || node.maximum !== undefined)
    return ` Range: ${node.minimum ?? '…'}–${node.maximum ?? '…'}.`;
  return '';
}

/**
 * A commented example config with every key at its default, generated from the schema so it can never drift:
 * `pinhole config init` writes it, the README reference is made from the same walk.
 */
export function exampleConfigText(overrides: Record<string, unknown> = {}): string {
  const doc = new Document({});
  const build = (schema: SchemaNode, map: YAMLMap, over: Record<string, unknown>) => {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      let node: unknown;
      if (child.type === 'object' && child.properties) {
        const sub = new YAMLMap();
        build(child, sub, (over[key] as Record<string, unknown>) ?? {});
        node = sub;
      } else {
        node = doc.createNode(key in over ? over[key] : child.default);
      }
      const keyNode = doc.createNode(key);
      const text = `${child.title ?? key}: ${child.description ?? ''}${allowed(child)}${child.requiresRestart ? ' (restarts its component)' : ''}`;
      if (isScalar(keyNode)) keyNode.commentBefore = ` ${text}`;
      map.add(doc.createPair(keyNode, node));
    }
  };
  const root = doc.contents;
  if (!isMap(root)) throw new Error('unreachable');
  build(ConfigSchema as unknown as SchemaNode, root, overrides);
  doc.commentBefore =
    ' Pinhole configuration. Edit, then `pinhole config check`; the daemon reloads on save.\n Every key is optional: delete a key to get its default.';
  return doc.toString({ lineWidth: 0 });
}

export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  description: string;
}

/** Flat list of every key for the README's config reference. */
export function configReference(): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const walk = (schema: SchemaNode, prefix: string) => {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      const dotted = prefix ? `${prefix}.${key}` : key;
      if (child.type === 'object' && child.properties) {
        walk(child, dotted);
        continue;
      }
      const type = child.anyOf?.every((n) => n.const !== undefined)
        ? child.anyOf.map((n) => String(n.const)).join(' \\| ')
        : (child.type ?? (child.anyOf ?? []).map((n) => n.type).join(' \\| '));
      rows.push({
        key: dotted,
        type,
        default: JSON.stringify(child.default),
        description:
          `${child.title ?? ''}. ${child.description ?? ''}${allowed(child)}${child.requiresRestart ? ' Restarts its component.' : ''}`.trim(),
      });
    }
  };
  walk(ConfigSchema as unknown as SchemaNode, '');
  return rows;
}
