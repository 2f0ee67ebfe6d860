import { pino, type Logger as PinoLogger } from "pino";
import type { Config } from "./config.js";

/**
 * JSON logs. Authorization headers and anything named like a secret or token
 * are redacted wherever they appear, as a second line of defence: code should
 * not log them in the first place.
 */
export function createLogger(level: Config["logLevel"], destination?: pino.DestinationStream): PinoLogger {
  return pino(
    {
      level,
      base: { service: "scaiwave-calls" },
      redact: {
        paths: [
          "*.authorization",
          "*.headers.authorization",
          "*.livekitToken",
          "*.livekit_token",
          "*.token",
          "*.secret",
          "*.apiSecret",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
