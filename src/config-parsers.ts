/**
 * Parsers for environment variables: each turns a variable's text into a
 * typed value or says, in one phrase, what the variable must be. The same
 * phrase documents the variable (`accepts`) and explains a bad value, so the
 * docs and the error can never disagree.
 */

/** Turns one environment variable's text into a value. */
export interface Parser<T> {
  /** The values accepted, as a phrase: "an integer from 0 to 65535". */
  readonly accepts: string;
  /** The value of `raw` (trimmed, never empty); throws {@link InvalidValue} when `raw` is not acceptable. */
  parse(raw: string): T;
}

/** What is wrong with a value: `rule` ("must be …"), and the part of the value to quote when that is not all of it. */
export class InvalidValue extends Error {
  override readonly name = "InvalidValue";
  constructor(
    readonly rule: string,
    readonly got?: string,
  ) {
    super(rule);
  }
}

/** Any text; with `check`, only text that passes it. */
export function text(check?: { readonly accepts: string; readonly test: (value: string) => boolean }): Parser<string> {
  return {
    accepts: check?.accepts ?? "text",
    parse(raw) {
      if (check && !check.test(raw)) throw new InvalidValue(`must be ${check.accepts}`);
      return raw;
    },
  };
}

/** A whole number from `min` to `max`, written in decimal digits (no `1e3`, no `0x50`). */
export function int(min: number, max: number): Parser<number> {
  const accepts = `an integer from ${min} to ${max}`;
  return {
    accepts,
    parse(raw) {
      const value = Number(raw);
      if (!/^-?\d+$/.test(raw) || value < min || value > max) throw new InvalidValue(`must be ${accepts}`);
      return value;
    },
  };
}

/** A duration in minutes, decimals allowed, above 0 and at most `max`; the value is in milliseconds. */
export function minutes(max: number): Parser<number> {
  const accepts = `a number of minutes above 0, at most ${max}`;
  return {
    accepts,
    parse(raw) {
      const value = Number(raw);
      if (!/^\d+(\.\d+)?$/.test(raw) || value <= 0 || value > max) throw new InvalidValue(`must be ${accepts}`);
      return Math.round(value * 60_000);
    },
  };
}

/** One of a closed set of words. */
export function oneOf<const T extends readonly string[]>(values: T): Parser<T[number]> {
  const accepts = `one of ${values.join(", ")}`;
  return {
    accepts,
    parse(raw) {
      if (!(values as readonly string[]).includes(raw)) throw new InvalidValue(`must be ${accepts}`);
      return raw as T[number];
    },
  };
}

/**
 * An absolute URL with one of `protocols` ("https:"), normalised: lower-case
 * scheme and host, no trailing slash. `hostOnly`: nothing after the host and
 * port (for clients that take a host and port and would drop a path).
 */
export function url(protocols: readonly string[], options: { readonly hostOnly?: boolean } = {}): Parser<string> {
  const kind = `a ${protocols.map((p) => `${p}//`).join(" or ")} URL`;
  return {
    accepts: options.hostOnly ? `${kind} of a scheme, host and port only` : kind,
    parse(raw) {
      // A refused URL is quoted in the error: never with the password or token it may carry.
      const shown = withoutCredentials(raw);
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        throw new InvalidValue("not a URL", shown);
      }
      if (!protocols.includes(parsed.protocol)) throw new InvalidValue(`must be ${kind}`, shown);
      const normalised = parsed.href.replace(/\/+$/, "");
      if (options.hostOnly && normalised !== parsed.origin) throw new InvalidValue("must be a scheme, host and port only, no path", shown);
      return normalised;
    },
  };
}

/**
 * Comma-separated entries, each read by `item` (blank entries skipped); a bad
 * entry is quoted on its own (as `item` shows it). `items` names the entries
 * in the plural ("nats:// URLs"; default: `item`'s phrase); `atLeastOne`
 * refuses a list of blanks.
 */
export function list<T>(item: Parser<T>, options: { readonly items?: string; readonly atLeastOne?: boolean } = {}): Parser<T[]> {
  const accepts = `a comma-separated list of ${options.items ?? item.accepts}`;
  return {
    accepts,
    parse(raw) {
      const entries = raw
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean);
      if (options.atLeastOne && entries.length === 0) throw new InvalidValue(`must be ${accepts}, at least one`);
      return entries.map((entry) => {
        try {
          return item.parse(entry);
        } catch (err) {
          if (err instanceof InvalidValue) throw new InvalidValue(`must be ${accepts}`, err.got ?? entry);
          throw err;
        }
      });
    },
  };
}

/**
 * `text` (a URL, or a comma-separated list of them) with every `user:password@`
 * or `token@` replaced: what logs and errors may show. Errs on the safe side:
 * a password may hold a `/`, so anything between `//` and an `@` goes.
 */
export function withoutCredentials(text: string): string {
  return text.replace(/\/\/[^@,\s]*@/g, "//[credentials]@");
}
