/**
 * Token formats (src/tokens): normalize + derive (what the vault does for a new value) and isToken (the
 * keyed recognition the detokenize path runs before asking the vault), for every token type.
 *   node --import tsx bench/micro/tokens.bench.ts
 */
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import type { TokenType } from '../../src/tokens/types.js';
import { runMicro, type MicroTask } from './lib.js';

const keyring = ephemeralKeyring();
const samples: Record<TokenType, string> = {
  email: 'Jack.Montana@Gmail.com',
  phone: '+1 (415) 555-1234',
  opaque: 'Jack Montana',
  digits: '4111111111111111',
};
const tasks: MicroTask[] = [];
for (const type of Object.keys(samples) as TokenType[]) {
  const { format } = createTokenSpec({ type, namespace: 'bench' }, keyring);
  const normalized = format.normalize(samples[type]);
  const token = format.derive(normalized, 'bench', 0);
  if (!format.isToken(token)) throw new Error(`${type}: derived token not recognized`);
  tasks.push(
    { name: `${type}: normalize + derive`, fn: () => format.derive(format.normalize(samples[type]), 'bench', 0) },
    { name: `${type}: isToken (a token)`, fn: () => format.isToken(token) },
    { name: `${type}: isToken (a raw value)`, fn: () => format.isToken(samples[type]) },
  );
}
// The CleverTap identity rule tries email, then phone, on every identity; a customer id such as
// '6264372124' is neither, so both normalize() calls throw a GatewayError (stack trace and all).
const email = createTokenSpec({ type: 'email', namespace: 'bench' }, keyring).format;
const phone = createTokenSpec({ type: 'phone', namespace: 'bench' }, keyring).format;
const refuses = (f: typeof email, v: string): boolean => {
  try {
    f.normalize(v);
    return false;
  } catch {
    return true;
  }
};
tasks.push(
  { name: "email.normalize('6264372124') throws (identity that is a customer id)", fn: () => refuses(email, '6264372124') },
  { name: "phone.normalize('6264372124') throws", fn: () => refuses(phone, '6264372124') },
);
await runMicro('token formats', tasks);
