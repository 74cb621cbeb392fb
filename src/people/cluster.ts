import { descriptorDistance as distance } from '../analysis/descriptor.js';
import { type Descriptor, SAME_PERSON_DISTANCE } from '../analysis/types.js';

/**
 * Incremental clustering of face descriptors (pure). dlib's convention for its ResNet descriptors: two faces are the
 * same person when the Euclidean distance of their 128-D descriptors is below 0.6 (SAME_PERSON_DISTANCE). dlib
 * groups faces with Chinese whispers over the graph of such edges; done incrementally, a new face takes the label
 * its neighbours below the threshold vote for, each vote weighted by how far below the threshold it is. A face with
 * no neighbour starts a new person. Two faces of one photo are never the same person, and a face the owner removed
 * from a person never goes back to it.
 */
export { type Descriptor, SAME_PERSON_DISTANCE };

export interface ClusterFace {
  descriptor: Descriptor;
  person: string;
}

export interface AssignOptions {
  threshold?: number;
  /** People this face may not join (another face of the same photo has them, or the owner removed it from them). */
  exclude?: ReadonlySet<string>;
}

/** The person a new descriptor belongs to, with the votes, or null for a new person. */
export function assignPerson(
  descriptor: Descriptor,
  known: Iterable<ClusterFace>,
  opts: AssignOptions = {},
): { person: string; votes: number; nearest: number } | null {
  const threshold = opts.threshold ?? SAME_PERSON_DISTANCE;
  const votes = new Map<string, { weight: number; nearest: number }>();
  for (const f of known) {
    if (opts.exclude?.has(f.person)) continue;
    const d = distance(descriptor, f.descriptor);
    if (d >= threshold) continue;
    const v = votes.get(f.person) ?? { weight: 0, nearest: Number.POSITIVE_INFINITY };
    v.weight += threshold - d;
    v.nearest = Math.min(v.nearest, d);
    votes.set(f.person, v);
  }
  let best: { person: string; votes: number; nearest: number } | null = null;
  for (const [person, v] of votes) {
    if (!best || v.weight > best.votes || (v.weight === best.votes && v.nearest < best.nearest))
      best = { person, votes: v.weight, nearest: v.nearest };
  }
  return best;
}

/**
 * Assigns the faces of one photo together: the strongest match is settled first, and a person taken by one face of
 * the photo is not available to the others.
 */
export function assignPhoto(
  descriptors: (Descriptor | null)[],
  known: ClusterFace[],
  opts: {
    threshold?: number;
    exclude?: (faceIndex: number) => ReadonlySet<string> | undefined;
    newPerson: () => string;
  },
): (string | null)[] {
  const out: (string | null)[] = descriptors.map(() => null);
  const taken = new Set<string>();
  const open = new Set(descriptors.map((d, i) => (d ? i : -1)).filter((i) => i >= 0));
  while (open.size > 0) {
    let pick: { i: number; person: string | null; votes: number } | undefined;
    for (const i of open) {
      const ex = new Set([...taken, ...(opts.exclude?.(i) ?? [])]);
      const m = assignPerson(descriptors[i] as Descriptor, known, { threshold: opts.threshold, exclude: ex });
      const cand = { i, person: m?.person ?? null, votes: m?.votes ?? 0 };
      if (!pick || cand.votes > pick.votes) pick = cand;
    }
    const p = pick as { i: number; person: string | null };
    const person = p.person ?? opts.newPerson();
    out[p.i] = person;
    taken.add(person);
    open.delete(p.i);
  }
  return out;
}
