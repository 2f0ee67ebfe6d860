import * as m0001 from "./0001-initial-schema.js";
import * as m0002 from "./0002-transcript-language-and-progress.js";

export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Applied in order; never edit one that has shipped, add the next number. */
export const migrations: readonly PostgresMigration[] = [
  { version: 1, name: "initial-schema", sql: m0001.sql },
  { version: 2, name: "transcript-language-and-progress", sql: m0002.sql },
];
