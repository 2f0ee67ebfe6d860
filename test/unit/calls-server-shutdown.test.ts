import { once } from "node:events";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { createCallsServer } from "../../src/transport/server.js";

/**
 * Shutdown and keep-alive: a request that reaches a connection the server
 * has just closed as idle is not processed, since its answer cannot be sent:
 * the client sees the connection close and may send it to another instance
 * without it having happened twice (or, for an end, half).
 */
describe("the service's listener at shutdown", () => {
  it("does not process a request that arrives on an idle connection it closed", async () => {
    const handled: string[] = [];
    const server = createCallsServer((req, res) => {
      handled.push(req.url ?? "");
      res.end("ok");
    });
    const { port } = await server.listen(0, "127.0.0.1");
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.write("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    while (!received.includes("ok")) await once(socket, "data");

    // Shutdown closes the idle connection at once; the client's next request crosses that close.
    const closing = server.close();
    socket.write("POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    await once(socket, "close");
    await closing;

    expect(handled).toEqual(["/first"]);
    expect(received.match(/HTTP\/1\.1 200/g)).toHaveLength(1);
  });
});
