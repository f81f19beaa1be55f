// aws-sdk-js v3 against CloudVault, run by tests/e2e/test_js_sdk.py.
// CommonJS on purpose: NODE_PATH (the cached node_modules) is honoured by require(), not by import.
//
// Environment: CV_ENDPOINT, CV_ACCESS_KEY, CV_SECRET_KEY, CV_BUCKET, CV_KEY, CV_MODE and
//   mode "upload-stream": CV_SIZE (bytes), CV_BASE_BLOCK (path of a 1 MiB file). The stream yields
//     1 MiB blocks: the 8-byte big-endian block index followed by bytes 8.. of the base block
//     (the same content as the Python suite's GeneratedBody), never holding the whole object.
//   mode "small": a small PutObject + GetObject.
// Prints one JSON line: {"etag", "size", "sentMd5", "gotMd5", "checksums": {...}}.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const { Readable } = require("stream");
const { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand } = require("@aws-sdk/client-s3");
const { Upload } = require("@aws-sdk/lib-storage");

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`missing env ${name}`);
  return v;
};

const client = new S3Client({
  endpoint: env("CV_ENDPOINT"),
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: env("CV_ACCESS_KEY"), secretAccessKey: env("CV_SECRET_KEY") },
  maxAttempts: 1,
  // Default checksum behaviour on purpose (requestChecksumCalculation: WHEN_SUPPORTED, CRC32).
});

function generated(size, base) {
  const BLOCK = 1024 * 1024;
  const md5 = crypto.createHash("md5");
  let pos = 0;
  const stream = new Readable({
    read() {
      if (pos >= size) {
        this.push(null);
        return;
      }
      const index = Math.floor(pos / BLOCK);
      const block = Buffer.from(base);
      block.writeBigUInt64BE(BigInt(index), 0);
      const n = Math.min(BLOCK, size - pos);
      const chunk = block.subarray(0, n);
      md5.update(chunk);
      pos += n;
      this.push(chunk);
    },
  });
  return { stream, md5 };
}

async function download(bucket, key) {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
  const md5 = crypto.createHash("md5");
  let size = 0;
  for await (const chunk of got.Body) {
    md5.update(chunk);
    size += chunk.length;
  }
  const checksums = {};
  for (const k of ["ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256", "ChecksumType"]) {
    if (got[k] !== undefined) checksums[k] = got[k];
  }
  return { etag: got.ETag, size, gotMd5: md5.digest("hex"), checksums };
}

async function main() {
  const bucket = env("CV_BUCKET");
  const key = env("CV_KEY");
  const mode = env("CV_MODE");
  let sentMd5;
  let putResult = {};
  if (mode === "upload-stream") {
    const size = Number(env("CV_SIZE"));
    const base = fs.readFileSync(env("CV_BASE_BLOCK"));
    if (base.length !== 1024 * 1024) throw new Error("base block must be 1 MiB");
    const { stream, md5 } = generated(size, base);
    const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: stream } });
    putResult = await upload.done();
    sentMd5 = md5.digest("hex");
  } else if (mode === "small") {
    const body = Buffer.from("hello from aws-sdk-js v3\n".repeat(100));
    sentMd5 = crypto.createHash("md5").update(body).digest("hex");
    putResult = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  const got = await download(bucket, key);
  const putChecksums = {};
  for (const k of ["ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumType"]) {
    if (putResult[k] !== undefined) putChecksums[k] = putResult[k];
  }
  process.stdout.write(JSON.stringify({ putEtag: putResult.ETag, putChecksums, sentMd5, ...got }) + "\n");
}

main().catch((err) => {
  process.stderr.write(`FAILED: ${err && err.name}: ${err && err.message}\n${err && err.stack}\n`);
  if (err && err.$metadata) process.stderr.write(`metadata: ${JSON.stringify(err.$metadata)}\n`);
  process.exit(1);
});
