import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MinioObjectStore, type S3Options } from "../../src/adapters/s3/minio-object-store.js";
import { MINIO_REGION } from "../support/minio-server.js";
import { sharedMinio } from "../support/shared-servers.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

/**
 * Download URLs against a real MinIO that clients reach under another name
 * than the service does: the service uses S3_ENDPOINT (127.0.0.1:<port>),
 * clients S3_PUBLIC_ENDPOINT, here a TCP proxy on another port reached as
 * "localhost", so the Host the URL is signed for really differs.
 */

const minio = sharedMinio();
let publicAddress: TcpProxy;
let publicEndpoint: string;
let options: S3Options;

beforeAll(async () => {
  publicAddress = await startTcpProxy(minio.port);
  publicEndpoint = `http://localhost:${publicAddress.port}`;
  const bucket = await minio.createBucket();
  options = { endpoint: minio.endpoint, accessKey: minio.accessKey, secretKey: minio.secretKey, bucket, region: MINIO_REGION };
});

afterAll(async () => {
  await publicAddress?.close();
});

async function get(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

describe("presigned download URLs", () => {
  it("are signed for S3_PUBLIC_ENDPOINT and download the exact bytes through that address", async () => {
    const store = new MinioObjectStore({ ...options, publicEndpoint });
    const bytes = randomBytes(256 * 1024);
    const key = "recordings/call-1/2026-01-01T00-00-00-000Z.mp4";
    await store.upload(key, bytes, "video/mp4");

    const url = await store.presignGet(key, 60);
    expect(url.startsWith(`${publicEndpoint}/${options.bucket}/recordings/call-1/`)).toBe(true);
    const download = await get(url);
    expect(download.status).toBe(200);
    expect(download.body.equals(bytes)).toBe(true);
    // The signature covers the host: the same URL at the service's own address is refused.
    expect((await get(url.replace(publicEndpoint, minio.endpoint))).status).toBe(403);

    // Signing is offline (the region is given): nothing needs to answer at the public address.
    const unreachable = new MinioObjectStore({ ...options, publicEndpoint: "http://127.0.0.1:1" });
    expect(await unreachable.presignGet(key, 60)).toMatch(/^http:\/\/127\.0\.0\.1:1\//);
  });

  it("without S3_PUBLIC_ENDPOINT are signed for S3_ENDPOINT, and work at that address only", async () => {
    const store = new MinioObjectStore(options);
    const text = "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n";
    const key = "transcripts/rec-1.vtt";
    await store.upload(key, text, "text/vtt");

    const url = await store.presignGet(key, 60);
    expect(url.startsWith(`${minio.endpoint}/${options.bucket}/${key}?`)).toBe(true);
    const download = await get(url);
    expect(download.status).toBe(200);
    expect(download.body.toString("utf8")).toBe(text);
    expect((await get(url.replace(minio.endpoint, publicEndpoint))).status).toBe(403);
  });
});
