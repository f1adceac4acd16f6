/**
 * The part of `oidc-provider` 8 (a dev dependency without bundled types; @types/oidc-provider is not
 * installed) that the security tests use: construct, mount its request handler, find a client and issue
 * an ID token with the provider's own keys.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface OidcClient {
    readonly clientId: string;
  }

  interface IdTokenInstance {
    scope: string;
    set(claim: string, value: unknown): void;
    issue(options: { use: 'idtoken' }): Promise<string>;
  }

  class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    readonly Client: { find(id: string): Promise<OidcClient | undefined> };
    readonly IdToken: new (claims: Record<string, unknown>, options: { client: OidcClient | undefined }) => IdTokenInstance;
    static readonly errors: { InvalidTarget: new (description?: string) => Error };
  }

  export default Provider;
}
