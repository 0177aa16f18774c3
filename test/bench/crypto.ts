/** Sign, verify and key encryption. */
import { Effect, Redacted } from "effect"
import { ec } from "starknet"
import { Crypto } from "starknet-session-keys"
import * as keystore from "../../src/internal/crypto/keystore.js"
import * as stark from "../../src/internal/crypto/stark.js"
import { fmt, msPerOp, msPerOpAsync } from "./_measure.js"

export async function run(): Promise<void> {
  const key = Uint8Array.from(Buffer.from("0".repeat(40) + "1234567890abcdef12345678", "hex"))
  const publicKey = stark.publicKeyOf(key)
  const hash = 0x5d4e4d026b6df81a9f032344b042a91fc45a40efda8739817856a1f2951837bn
  const { r, s } = stark.sign(hash, key)
  console.log(`sign: ${fmt(msPerOp(() => stark.sign(hash, key)))} ms/op`)
  const ours = msPerOp(() => stark.verify(hash, r, s, publicKey))
  const full = ec.starkCurve.getPublicKey(key)
  const sig = new ec.starkCurve.Signature(r, s)
  const theirs = msPerOp(() => ec.starkCurve.verify(sig, "0x" + hash.toString(16), full))
  console.log(`verify: ours ${fmt(ours)} ms/op (precomputed point per key, both parities), starknet.js ${fmt(theirs)} ms/op`)

  const pin = "839201"
  const v1 = keystore.encryptV1Sync(key, "0x" + publicKey.toString(16), pin)
  const encryptV1 = msPerOp(() => keystore.encryptV1Sync(key, "0x" + publicKey.toString(16), pin), { warmup: 2, minMillis: 1000 })
  const decryptV1 = await msPerOpAsync(() => Effect.runPromise(keystore.decryptV1(v1, pin, "0x" + publicKey.toString(16))), { warmup: 2, minMillis: 1000 })
  console.log(`new format (scrypt N=2^15 r=8 p=1, AES-256-GCM): encrypt ${fmt(encryptV1)} ms, decrypt ${fmt(decryptV1)} ms`)
  const legacy = keystore.encryptLegacy("0x" + Buffer.from(key).toString("hex"), pin)
  console.log(
    `legacy CryptoJS format: encrypt ${fmt(msPerOp(() => keystore.encryptLegacy("0xabc", pin)))} ms, ` +
      `decrypt ${fmt(msPerOp(() => keystore.decryptLegacy(legacy, pin)))} ms (one MD5 round: why new keys use scrypt)`
  )
  const decryptScoped = await msPerOpAsync(() =>
    Effect.runPromise(
      Effect.scoped(Effect.flatMap(Crypto.Crypto, (c) => c.decryptPrivateKey(v1, Redacted.make(pin), ("0x" + publicKey.toString(16)) as never)))
        .pipe(Effect.provide(Crypto.layer))
    ), { warmup: 2, minMillis: 1000 })
  console.log(`Crypto.decryptPrivateKey (new format, checked against the public key, wiped after): ${fmt(decryptScoped)} ms`)
  await eventLoopDelay()
}

/**
 * The event loop's delay (p99, `perf_hooks.monitorEventLoopDelay`) while 100 decryptions run through
 * `Crypto.decryptPrivateKey`, against the same 100 with scrypt on the loop (`scryptSync`, as key creation did).
 */
export async function eventLoopDelay(): Promise<void> {
  const { monitorEventLoopDelay } = await import("node:perf_hooks")
  const nodeCrypto = await import("node:crypto")
  const key = Uint8Array.from(Buffer.from("0".repeat(40) + "1234567890abcdef12345678", "hex"))
  const publicKey = ("0x" + stark.publicKeyOf(key).toString(16)) as never
  const pin = "839201"
  const blob = keystore.encryptV1Sync(key, publicKey, pin)
  const measure = async (work: () => Promise<unknown>) => {
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    // Something on the loop to be delayed: a timer every millisecond, as a server's sockets would be.
    const ticker = setInterval(() => undefined, 1)
    histogram.enable()
    const start = performance.now()
    await work()
    const ms = performance.now() - start
    histogram.disable()
    clearInterval(ticker)
    return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, ms }
  }
  const decryptions = await measure(() =>
    Effect.runPromise(
      Effect.flatMap(Crypto.Crypto, (c) =>
        Effect.forEach(
          Array.from({ length: 100 }),
          () => Effect.scoped(c.decryptPrivateKey(blob, Redacted.make(pin), publicKey)),
          { concurrency: "unbounded" }
        )).pipe(Effect.provide(Crypto.layerWith({ keyCache: false })))
    )
  )
  const onLoop = await measure(async () => {
    for (let i = 0; i < 100; i++) {
      // One derivation per macrotask: the loop gets a turn between them, never during one.
      await new Promise((resolve) => setImmediate(resolve))
      nodeCrypto.scryptSync(pin, "salt", 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 80 * 1024 * 1024 })
    }
  })
  console.log(
    `event-loop delay while 100 decryptions run (concurrently, async scrypt): p99 ${fmt(decryptions.p99)} ms, ` +
      `max ${fmt(decryptions.max)} ms, ${fmt(decryptions.ms)} ms in all (goal p99 <= 20 ms); with scrypt on the loop ` +
      `(scryptSync, as key creation did): p99 ${fmt(onLoop.p99)} ms, ${fmt(onLoop.ms)} ms in all`
  )
}
