import { mulberry32 } from '../../src/util/prng.js';

/**
 * Synthetic 128-D descriptors with dlib-like geometry: each person is a centre, each face of that person the centre
 * plus noise. Centres are ~1.0 apart and faces ~0.25 from their centre (same person ~0.35 apart), like dlib's
 * ResNet on real photos (MANIFEST: same person 0.20–0.52, different ≥ 0.65).
 */
export function descriptorFactory(seed = 1) {
  const rnd = mulberry32(seed);
  const gauss = () => {
    const u = Math.max(1e-12, rnd());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  };
  const centres = new Map<string, Float32Array>();
  const centre = (person: string) => {
    let c = centres.get(person);
    if (!c) {
      c = Float32Array.from({ length: 128 }, () => gauss() * (1 / Math.sqrt(2 * 128)));
      centres.set(person, c);
    }
    return c;
  };
  return (person: string, noise = 0.25): number[] => {
    const c = centre(person);
    return Array.from(c, (v) => v + gauss() * (noise / Math.sqrt(128)));
  };
}

export const box = (x = 10): [number, number, number, number] => [x, 20, 100, 120];
