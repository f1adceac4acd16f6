/**
 * A small seeded PRNG for tests (mulberry32): one fast-check integer or a fixed seed drives every random-looking
 * choice, so a failing case replays exactly. Not for anything but tests.
 */

/**
 * A uniform generator in [0, 1) seeded with `seed` (the same sequence for the same seed on every run).
 *
 * @example
 *   const r = prng(21);
 *   const digit = Math.floor(r() * 10);
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
