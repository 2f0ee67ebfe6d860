/**
 * Writes docs/configuration.md from the variables declared in src/config.ts,
 * so the docs cannot drift from what the service reads. `npm run docs` (and
 * `npm run generate`) write it; `--check` (in `npm test`) fails when the
 * committed file is stale.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { VARIABLES, type Variable } from "../src/config.js";

export const CONFIGURATION_DOC = "docs/configuration.md";

/** A Markdown table cell: a `|` would end it. */
const cell = (text: string) => text.replaceAll("|", "\\|");

function defaultOf(variable: Variable<unknown>): string {
  if (variable.required !== undefined) return "**required**";
  if (variable.default === undefined) return "unset";
  if (typeof variable.default === "string") return `\`${variable.default}\``;
  return variable.default.derived;
}

function row(name: string, variable: Variable<unknown>): string {
  const accepts = variable.secret ? `${variable.parse.accepts}; a secret, never printed` : variable.parse.accepts;
  return `| \`${name}\` | ${cell(defaultOf(variable))} | ${cell(accepts)} | ${cell(variable.description)} |`;
}

/** The whole of docs/configuration.md. */
export function configurationDoc(): string {
  const rows = Object.entries(VARIABLES).map(([name, variable]: [string, Variable<unknown>]) => row(name, variable));
  return `<!-- Generated from src/config.ts by scripts/config-docs.ts (npm run docs): change the variables there, not here. -->
# Configuration

The service and the transcription worker (\`npm run worker\`) read these environment variables; nothing else in
the environment is read, and a blank variable counts as unset. They are validated at start-up: every bad one is
reported at once, on its own line naming the variable, and the process exits with status 2:

\`\`\`
config error: PORT: must be an integer from 0 to 65535 (got "eighty")
config error: LIVEKIT_API_KEY: required (the API key LiveKit knows this service by)
\`\`\`

The values of secrets are never printed. \`dev.env\` holds the values \`npm run dev\`, \`npm run dev:worker\` and
\`npm run token\` use. To add a variable, declare it in \`VARIABLES\` in \`src/config.ts\` (name, parser, default,
description), read it in \`loadConfig\`'s typed view, and run \`npm run docs\`.

| variable | default | accepts | meaning |
|---|---|---|---|
${rows.join("\n")}
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const doc = configurationDoc();
  if (process.argv.includes("--check")) {
    if (!existsSync(CONFIGURATION_DOC) || readFileSync(CONFIGURATION_DOC, "utf8") !== doc) {
      process.stderr.write(`${CONFIGURATION_DOC} is stale: run 'npm run docs' and commit the result\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(CONFIGURATION_DOC, doc);
  }
}
