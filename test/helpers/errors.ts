/** The GatewayError a promise rejects with; throws when it resolves or rejects with anything else. */
import { isGatewayError, type GatewayError } from '../../src/errors.js';

export async function rejectionOf(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGatewayError(err)) throw new Error(`expected a GatewayError, got ${String(err)}`);
  return err;
}
