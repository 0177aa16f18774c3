/** Sign, verify and key encryption. */
import { Effect, Redacted } from "effect"
import { ec } from "starknet"
import { Crypto } from "starknet-session-keys"
import * as keystore from "../../src/internal/keystore.js"
import * as stark from "../../src/internal/stark.js"
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
}
