/**
 * Compiled selectors as one flat NFA, shared by every scan that uses the same selectors array.
 *
 * A state is (selector, position): the first `position` segments have matched the path so far. The JSON scanner
 * keeps the set of live states per open container and derives a child's set from its key or index, so matching
 * costs O(live states) per value and nothing at all inside subtrees no selector can reach.
 */
import type { CompiledSelector } from './selector.js';

/** State kinds: what the next segment wants. S_FINAL means the selector has matched the current value. */
export const S_FINAL = 0;
export const S_KEY = 1;
export const S_INDEX = 2;
export const S_WILDCARD = 3;
/** Recursive descent `..key`: stays live in every descendant, advances on a member called `key`. */
export const S_DESC = 4;

export interface Automaton {
  readonly count: number;
  readonly selectorCount: number;
  readonly kind: Uint8Array;
  /** State reached when the segment matches (-1 for final states). */
  readonly next: Int32Array;
  /** Array index for S_INDEX states. */
  readonly index: Int32Array;
  /** Key for S_KEY / S_DESC states, as UTF-8 bytes (compared with unescaped keys) and as a string. */
  readonly keyBytes: readonly (Buffer | undefined)[];
  readonly keyStr: readonly (string | undefined)[];
  readonly selector: Int32Array;
  /** The start state of each selector, in selector order. */
  readonly initial: Int32Array;
}

const cache = new WeakMap<readonly CompiledSelector[], Automaton>();

/** Builds (or returns the cached) automaton for a selectors array. Arrays are cached by identity. */
export function compileAutomaton(selectors: readonly CompiledSelector[]): Automaton {
  const hit = cache.get(selectors);
  if (hit !== undefined) return hit;
  let count = 0;
  for (const s of selectors) count += s.segments.length + 1;
  const kind = new Uint8Array(count);
  const next = new Int32Array(count).fill(-1);
  const index = new Int32Array(count).fill(-1);
  const keyBytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(count).fill(undefined);
  const keyStr: (string | undefined)[] = new Array<string | undefined>(count).fill(undefined);
  const selector = new Int32Array(count);
  const initial = new Int32Array(selectors.length);
  let id = 0;
  selectors.forEach((sel, si) => {
    initial[si] = id;
    for (const seg of sel.segments) {
      selector[id] = si;
      next[id] = id + 1;
      switch (seg.kind) {
        case 'key':
          kind[id] = S_KEY;
          keyStr[id] = seg.key;
          keyBytes[id] = Buffer.from(seg.key, 'utf8');
          break;
        case 'descendant':
          kind[id] = S_DESC;
          keyStr[id] = seg.key;
          keyBytes[id] = Buffer.from(seg.key, 'utf8');
          break;
        case 'index':
          kind[id] = S_INDEX;
          index[id] = seg.index;
          break;
        case 'wildcard':
          kind[id] = S_WILDCARD;
          break;
      }
      id++;
    }
    selector[id] = si;
    kind[id] = S_FINAL;
    id++;
  });
  const automaton: Automaton = {
    count, selectorCount: selectors.length, kind, next, index, keyBytes, keyStr, selector, initial,
  };
  cache.set(selectors, automaton);
  return automaton;
}
