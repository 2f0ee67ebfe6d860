import { describe, expect, it } from "vitest";
import { withoutCredentials } from "../../src/adapters/nats/jetstream-publisher.js";

describe("NATS server URLs in logs", () => {
  it("hide a user:password or token, in every URL of a list, and keep the rest", () => {
    expect(withoutCredentials("nats://calls:s3cret@nats-1:4222,nats://tok3n@nats-2:4222,nats://nats-3:4222")).toBe(
      "nats://[credentials]@nats-1:4222,nats://[credentials]@nats-2:4222,nats://nats-3:4222",
    );
  });

  it("leave a URL without credentials as it is", () => {
    expect(withoutCredentials("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});
