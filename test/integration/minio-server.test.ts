import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { minioClient, startMinioServer } from "../support/minio-server.js";
import { sharedMinio } from "../support/shared-servers.js";

// Proves the MinIO the run shares (the fixture's, started by the global setup) is a
// real S3 server: buckets, objects, presigned URLs that a plain HTTP client can use,
// and signatures checked against the random root secret.

const minio = sharedMinio();
const client = (overrides: Parameters<typeof minioClient>[1] = {}) => minioClient(minio, overrides);

describe("minio fixture", () => {
  it("keeps its data and log in the temp dirs it names, and stop() removes them", async () => {
    const own = await startMinioServer();
    try {
      expect(existsSync(own.dataDir)).toBe(true);
      expect(existsSync(own.logPath)).toBe(true);
      expect(await minioClient(own).bucketExists(await own.createBucket())).toBe(true);
    } finally {
      await Promise.all([own.stop(), own.stop()]);
    }
    expect(existsSync(own.dataDir)).toBe(false);
    expect(existsSync(own.logPath)).toBe(false);
  });

  it("creates buckets: a fresh name each time, or the one given", async () => {
    const s3 = client();
    const [a, b] = [await minio.createBucket(), await minio.createBucket()];
    expect(a).not.toBe(b);
    const named = await minio.createBucket(`recordings-${randomBytes(4).toString("hex")}`);
    expect(named).toMatch(/^recordings-/);
    for (const bucket of [a, b, named]) expect(await s3.bucketExists(bucket)).toBe(true);
    expect(await s3.bucketExists("no-such-bucket")).toBe(false);
  });

  it("stores an object: statObject gives its size, and a presigned GET URL serves its exact bytes to fetch", async () => {
    const s3 = client();
    const bucket = await minio.createBucket();
    const body = randomBytes(256 * 1024 + 7); // binary, and not a round size
    await s3.putObject(bucket, "calls/abc/recording.ogg", body, body.length, { "Content-Type": "audio/ogg" });

    const stat = await s3.statObject(bucket, "calls/abc/recording.ogg");
    expect(stat.size).toBe(body.length);
    expect(stat.metaData["content-type"]).toBe("audio/ogg");

    const url = await s3.presignedGetObject(bucket, "calls/abc/recording.ogg", 60);
    expect(url.startsWith(`${minio.endpoint}/${bucket}/calls/abc/recording.ogg?`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/ogg");
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);

    // The signature covers the path: the same query string does not open another object.
    const tampered = url.replace("recording.ogg", "other.ogg");
    const refused = await fetch(tampered);
    await refused.arrayBuffer();
    expect(refused.status).toBe(403);
  });

  it("refuses a wrong secret, and an unsigned request", async () => {
    const bucket = await minio.createBucket();
    const wrong = client({ secretKey: `${minio.secretKey}x` });
    await expect(wrong.listBuckets()).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
    await expect(wrong.putObject(bucket, "x", Buffer.from("x"))).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
    await expect(client({ accessKey: "nobody" }).listBuckets()).rejects.toMatchObject({ code: "InvalidAccessKeyId" });

    const anonymous = await fetch(`${minio.endpoint}/${bucket}/`);
    await anonymous.arrayBuffer();
    expect(anonymous.status).toBe(403);
  });
});
