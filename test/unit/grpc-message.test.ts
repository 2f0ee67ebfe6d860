import { describe, expect, it } from "vitest";
import { encodeGrpcMessage } from "../../src/transport/grpc-message.js";

describe("grpc-message encoding (gRPC's percent-encoding)", () => {
  it("keeps printable ASCII, reserved URI characters included, so decodeURI-based clients (grpc-js) read it whole", () => {
    const message = "room_id: does not match regex pattern `^[A-Za-z0-9_=@:+-]+$`; a/b?c#d,e&f";
    expect(encodeGrpcMessage(message)).toBe(message);
    expect(decodeURI(encodeGrpcMessage(message))).toBe(message);
  });

  it("encodes %, control characters and non-ASCII as UTF-8 bytes", () => {
    expect(encodeGrpcMessage("100% é\n")).toBe("100%25 %C3%A9%0A");
    expect(decodeURIComponent(encodeGrpcMessage("100% é\n"))).toBe("100% é\n");
  });
});
