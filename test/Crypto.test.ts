import { describe, expect, it } from "@effect/vitest"
import CryptoJS from "crypto-js"
import { Effect, Exit, FastCheck as fc, Layer, Redacted } from "effect"
import { ec } from "starknet"
import { Crypto, Errors, type Schemas } from "starknet-session-keys"
import * as keystore from "../src/internal/keystore.js"

const N = ec.starkCurve.CURVE.n
const hex = (n: bigint) => "0x" + n.toString(16)
const keyBytes = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, "0"), "hex"))
const withCrypto = <A, E>(f: (c: Crypto.Crypto["Type"]) => Effect.Effect<A, E, any>, layer: Layer.Layer<Crypto.Crypto> = Crypto.layer) =>
  Effect.flatMap(Crypto.Crypto, f).pipe(Effect.scoped, Effect.provide(layer)) as Effect.Effect<A, E>

describe("keys and signatures", () => {
  it.effect("generated keys are in [1, n-1], distinct, and their public key is the Stark key", () =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const seen = new Set<string>()
        for (let i = 0; i < 20; i++) {
          const pair = yield* crypto.generateKeyPair
          const value = BigInt("0x" + Buffer.from(Redacted.value(pair.privateKey)).toString("hex"))
          expect(value >= 1n && value < N).toBe(true)
          expect(pair.publicKey).toBe(hex(BigInt(ec.starkCurve.getStarkKey(Redacted.value(pair.privateKey)))))
          seen.add(pair.publicKey)
        }
        expect(seen.size).toBe(20)
      })
    ))

  it.effect("a generated private key is zero-filled when its scope closes, and never prints", () =>
    Effect.gen(function*() {
      let bytes: Uint8Array | undefined
      let printed = ""
      yield* withCrypto((crypto) =>
        Effect.map(crypto.generateKeyPair, (pair) => {
          bytes = Redacted.value(pair.privateKey)
          printed = `${String(pair.privateKey)} ${JSON.stringify(pair)}`
          expect(bytes.some((b) => b !== 0)).toBe(true)
        })
      )
      expect(bytes!.every((b) => b === 0)).toBe(true)
      expect(printed).toContain("<redacted>")
    }))

  it.effect.prop("sign/verify agrees with starknet.js on random keys and hashes", [
    fc.bigInt({ min: 1n, max: N - 1n }),
    fc.bigInt({ min: 0n, max: 2n ** 251n - 1n })
  ], ([key, h]) =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const privateKey = Redacted.make(keyBytes(key))
        const publicKey = yield* crypto.publicKeyOf(privateKey)
        const signature = yield* crypto.sign(hex(h) as Schemas.Felt, privateKey)
        expect(yield* crypto.verify(hex(h) as Schemas.Felt, signature, publicKey)).toBe(true)
        const sig = new ec.starkCurve.Signature(BigInt(signature.r), BigInt(signature.s))
        expect(ec.starkCurve.verify(sig, hex(h), ec.starkCurve.getPublicKey(keyBytes(key)))).toBe(true)
        expect(yield* crypto.verify(hex(h ^ 1n) as Schemas.Felt, signature, publicKey)).toBe(false)
        const other = hex(BigInt(ec.starkCurve.getStarkKey(keyBytes(key === 1n ? 2n : key - 1n)))) as Schemas.Felt
        expect(yield* crypto.verify(hex(h) as Schemas.Felt, signature, other)).toBe(false)
      })
    ), { fastCheck: { numRuns: 15 } })

  it.effect("layerDeterministic gives the same keys for a seed, other keys for another", () =>
    Effect.gen(function*() {
      const keys = (seed: string) =>
        withCrypto((c) => Effect.all([c.generateKeyPair, c.generateKeyPair]).pipe(Effect.map((ps) => ps.map((p) => p.publicKey))), Crypto.layerDeterministic(seed))
      const a = yield* keys("a")
      expect(yield* keys("a")).toEqual(a)
      expect(yield* keys("b")).not.toEqual(a)
      expect(a[0]).not.toBe(a[1])
    }))
})

describe("keys at rest", () => {
  it.effect.prop("the current format round-trips, and a wrong PIN is always InvalidPin", [
    fc.bigInt({ min: 1n, max: N - 1n }),
    fc.string({ minLength: 1, maxLength: 12 }),
    fc.string({ minLength: 1, maxLength: 12 })
  ], ([key, pin, other]) =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const privateKey = Redacted.make(keyBytes(key))
        const publicKey = yield* crypto.publicKeyOf(privateKey)
        const blob = yield* crypto.encryptPrivateKey(privateKey, Redacted.make(pin))
        expect(blob.startsWith("ssk1.")).toBe(true)
        expect(Buffer.from(blob.slice(5), "base64url").toString()).not.toContain(key.toString(16).padStart(64, "0"))
        const back = yield* crypto.decryptPrivateKey(blob, Redacted.make(pin), publicKey)
        expect(Buffer.from(Redacted.value(back)).equals(Buffer.from(keyBytes(key)))).toBe(true)
        if (other !== pin) {
          const wrong = yield* Effect.flip(crypto.decryptPrivateKey(blob, Redacted.make(other), publicKey))
          expect(wrong).toBeInstanceOf(Errors.InvalidPin)
        }
      })
    ), { fastCheck: { numRuns: 4 } })

  it.effect.prop("legacy CryptoJS blobs decrypt with the right PIN; a wrong PIN is always InvalidPin", [
    fc.bigInt({ min: 1n, max: N - 1n }),
    fc.string({ minLength: 1, maxLength: 12 }),
    fc.string({ minLength: 1, maxLength: 12 })
  ], ([key, pin, other]) =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const publicKey = hex(BigInt(ec.starkCurve.getStarkKey(keyBytes(key)))) as Schemas.Felt
        const blob = CryptoJS.AES.encrypt(hex(key), pin).toString()
        expect(blob.startsWith("U2FsdGVkX1")).toBe(true)
        const back = yield* crypto.decryptPrivateKey(blob, Redacted.make(pin), publicKey)
        expect(Buffer.from(Redacted.value(back)).equals(Buffer.from(keyBytes(key)))).toBe(true)
        if (other !== pin) {
          const wrong = yield* Effect.flip(crypto.decryptPrivateKey(blob, Redacted.make(other), publicKey))
          expect(wrong).toBeInstanceOf(Errors.InvalidPin)
        }
      })
    ), { fastCheck: { numRuns: 40 } })

  it.prop("our legacy writer is read by crypto-js", [fc.bigInt({ min: 1n, max: N - 1n }), fc.string({ minLength: 1 })], ([key, pin]) => {
    const blob = keystore.encryptLegacy(hex(key), pin)
    expect(CryptoJS.AES.decrypt(blob, pin).toString(CryptoJS.enc.Utf8)).toBe(hex(key))
  })

  it.effect("a right PIN for another key is InvalidPin; tampering is InvalidPin; garbage is InvalidInput", () =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const privateKey = Redacted.make(keyBytes(12345n))
        const publicKey = yield* crypto.publicKeyOf(privateKey)
        const pin = Redacted.make("1111")
        const blob = yield* crypto.encryptPrivateKey(privateKey, pin)
        const otherKey = yield* crypto.publicKeyOf(Redacted.make(keyBytes(777n)))
        expect(yield* Effect.flip(crypto.decryptPrivateKey(blob, pin, otherKey))).toBeInstanceOf(Errors.InvalidPin)
        const envelope = JSON.parse(Buffer.from(blob.slice(5), "base64url").toString())
        envelope.ct = Buffer.from(Buffer.from(envelope.ct, "base64url").map((b: number, i: number) => (i === 0 ? b ^ 1 : b))).toString("base64url")
        const tampered = "ssk1." + Buffer.from(JSON.stringify(envelope)).toString("base64url")
        expect(yield* Effect.flip(crypto.decryptPrivateKey(tampered, pin, publicKey))).toBeInstanceOf(Errors.InvalidPin)
        for (const garbage of ["hello", "ssk1.%%%", "U2FsdGVkX1short"]) {
          const error = yield* Effect.flip(crypto.decryptPrivateKey(garbage, pin, publicKey))
          expect(error).toBeInstanceOf(Errors.InvalidInput)
          expect((error as Errors.InvalidInput).path).toBe("encryptedPrivateKey")
        }
      })
    ))

  it.effect("a decrypted key is zero-filled when its scope closes; errors carry no PIN", () =>
    Effect.gen(function*() {
      let bytes: Uint8Array | undefined
      const pin = Redacted.make("secret-pin-42")
      const result = yield* Effect.exit(withCrypto((crypto) =>
        Effect.gen(function*() {
          const privateKey = Redacted.make(keyBytes(99n))
          const publicKey = yield* crypto.publicKeyOf(privateKey)
          const blob = yield* crypto.encryptPrivateKey(privateKey, pin)
          bytes = Redacted.value(yield* crypto.decryptPrivateKey(blob, pin, publicKey))
          expect(bytes.some((b) => b !== 0)).toBe(true)
          return yield* crypto.decryptPrivateKey(blob, Redacted.make("wrong-pin-77"), publicKey)
        })
      ))
      expect(bytes!.every((b) => b === 0)).toBe(true)
      expect(Exit.isFailure(result)).toBe(true)
      const text = JSON.stringify(result) + String(result)
      expect(text).not.toContain("secret-pin-42")
      expect(text).not.toContain("wrong-pin-77")
    }))
})
