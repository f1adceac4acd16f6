/** The reference store runs the conformance suite (its data does not survive a restart). */
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { LocalVault } from '../../src/vault/local.js';
import { MemoryStore } from '../../src/vault/memory.js';
import { vaultConformance } from './conformance.js';

const keyring = ephemeralKeyring();

vaultConformance(
  'memory',
  async () => {
    const vault = new LocalVault(new MemoryStore(), keyring);
    return { vault, stop: () => vault.close() };
  },
  { persistent: false },
);
