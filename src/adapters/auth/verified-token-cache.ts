/**
 * Remembers recently verified bearer tokens, so a client that reuses its
 * token (every client does, until it expires) pays for the signature check
 * once rather than on every request. An entry lives until the token expires
 * or `maxAgeMs` passes, whichever is first: the cap bounds how long a token
 * stays accepted after its signing key is rotated out of a JWKS. Bounded in
 * size; when full, the oldest entry goes. Only successes are remembered.
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly options: { readonly maxEntries: number; readonly maxAgeMs: number; readonly now: () => number },
  ) {}

  get(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.until > this.options.now()) return entry.value;
    this.entries.delete(token);
    return undefined;
  }

  /** `expiresAt`: the token's own `exp`, Unix ms (undefined: none). */
  set(token: string, value: T, expiresAt: number | undefined): void {
    const until = Math.min(expiresAt ?? Infinity, this.options.now() + this.options.maxAgeMs);
    if (until <= this.options.now()) return;
    if (this.entries.size >= this.options.maxEntries && !this.entries.has(token)) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(token, { value, until });
  }

  get size(): number {
    return this.entries.size;
  }
}
