import * as m0001 from "./0001-initial-schema.js";
import * as m0002 from "./0002-transcript-language-and-progress.js";
import * as m0003 from "./0003-scheduled-jobs.js";
import * as m0004 from "./0004-rate-limits.js";
import * as m0005 from "./0005-ringing-and-history.js";

export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Applied in order; never edit one that has shipped, add the next number. */
export const migrations: readonly PostgresMigration[] = [
  { version: 1, name: "initial-schema", sql: m0001.sql },
  { version: 2, name: "transcript-language-and-progress", sql: m0002.sql },
  { version: 3, name: "scheduled-jobs", sql: m0003.sql },
  { version: 4, name: "rate-limits", sql: m0004.sql },
  { version: 5, name: "ringing-and-history", sql: m0005.sql },
];
