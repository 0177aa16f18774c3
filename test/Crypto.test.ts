import { describe, expect, it } from "@effect/vitest"
import CryptoJS from "crypto-js"
import { Effect, Exit, FastCheck as fc, Layer, Redacted } from "effect"
import { ec } from "starknet"
import { Crypto, Errors, type Schemas, Sessions } from "starknet-session-keys"
import * as keystore from "../src/internal/crypto/keystore.js"
import * as lifecycle from "./helpers/lifecycle.js"

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

const envelopeOf = (blob: string) => JSON.parse(Buffer.from(blob.slice(5), "base64url").toString())
const blobOf = (envelope: unknown) => "ssk1." + Buffer.from(JSON.stringify(envelope)).toString("base64url")

describe("the key envelope's bounds", () => {
  const key = keyBytes(0xc0ffeen)
  const publicKey = hex(BigInt(ec.starkCurve.getStarkKey(key))) as Schemas.Felt
  const pin = Redacted.make("2468")
  const decrypt = (blob: string) =>
    withCrypto((crypto) => Effect.flip(crypto.decryptPrivateKey(blob, pin, publicKey)))

  it.effect("a KDF cost above what the library writes is InvalidInput, refused before any derivation", () =>
    Effect.gen(function*() {
      // Written by our own writer with the right PIN: only the cost is wrong.
      for (const params of [{ N: 2 ** 16, r: 8, p: 1 }, { N: 2 ** 15, r: 16, p: 1 }, { N: 2 ** 14, r: 8, p: 2 }]) {
        const blob = keystore.encryptV1Sync(key, publicKey, Redacted.value(pin), params)
        const error = yield* decrypt(blob)
        expect(error).toBeInstanceOf(Errors.InvalidInput)
        expect((error as Errors.InvalidInput).rule).toMatch(/KDF cost above/)
      }
      // N = 2^22 was trusted before: 4 GiB and seconds per attempt.
      const hostile = envelopeOf(keystore.encryptV1Sync(key, publicKey, Redacted.value(pin), { N: 2 ** 10, r: 8, p: 1 }))
      expect(yield* decrypt(blobOf({ ...hostile, N: 2 ** 22 }))).toBeInstanceOf(Errors.InvalidInput)
      // A lower cost than ours (an older writer) still reads.
      const cheap = keystore.encryptV1Sync(key, publicKey, Redacted.value(pin), { N: 2 ** 10, r: 8, p: 1 })
      const back = yield* withCrypto((crypto) => crypto.decryptPrivateKey(cheap, pin, publicKey).pipe(Effect.map((k) => Uint8Array.from(Redacted.value(k)))))
      expect(Buffer.from(back).equals(Buffer.from(key))).toBe(true)
    }))

  it.effect("only 16-byte GCM tags: a truncated tag that would authenticate is InvalidInput", () =>
    Effect.gen(function*() {
      const envelope = envelopeOf(keystore.encryptV1Sync(key, publicKey, Redacted.value(pin), { N: 2 ** 10, r: 8, p: 1 }))
      const tag = Buffer.from(envelope.tag, "base64url")
      for (const length of [4, 8, 12, 15]) {
        const error = yield* decrypt(blobOf({ ...envelope, tag: tag.subarray(0, length).toString("base64url") }))
        expect(error).toBeInstanceOf(Errors.InvalidInput)
      }
      const longer = Buffer.concat([tag, Buffer.from([0])]).toString("base64url")
      expect(yield* decrypt(blobOf({ ...envelope, tag: longer }))).toBeInstanceOf(Errors.InvalidInput)
    }))

  it.effect("malformed parameters are InvalidInput, not InvalidPin", () =>
    Effect.gen(function*() {
      const envelope = envelopeOf(keystore.encryptV1Sync(key, publicKey, Redacted.value(pin), { N: 2 ** 10, r: 8, p: 1 }))
      const b64 = (n: number) => Buffer.alloc(n, 7).toString("base64url")
      const malformed: ReadonlyArray<Record<string, unknown>> = [
        { N: 1000 },
        { N: 0 },
        { N: -1024 },
        { N: "1024" },
        { r: 0 },
        { p: 0 },
        { r: 1.5 },
        { iv: b64(8) },
        { iv: b64(16) },
        { iv: "not base64!" },
        { salt: b64(2) },
        { salt: undefined },
        { ct: b64(31) },
        { ct: b64(48) },
        { tag: 42 },
        { v: 2 },
        { kdf: "pbkdf2" }
      ]
      for (const change of malformed) {
        const error = yield* decrypt(blobOf({ ...envelope, ...change }))
        expect(error, JSON.stringify(change)).toBeInstanceOf(Errors.InvalidInput)
      }
      expect(yield* decrypt("ssk1." + "A".repeat(10_000))).toBeInstanceOf(Errors.InvalidInput)
      expect(yield* decrypt(blobOf(null))).toBeInstanceOf(Errors.InvalidInput)
      // The untouched envelope still decrypts; a wrong PIN on it is InvalidPin.
      const wrong = yield* withCrypto((crypto) => Effect.flip(crypto.decryptPrivateKey(blobOf(envelope), Redacted.make("1357"), publicKey)))
      expect(wrong).toBeInstanceOf(Errors.InvalidPin)
    }))
})

describe("no string copies of a decrypted key", () => {
  // A key whose hex is easy to spot in any string.
  const secret = 0x0123456789abcdef0fedcba9876543210123456789abcdef0fedcba98765432n
  const secretHex = secret.toString(16)
  const publicKey = hex(BigInt(ec.starkCurve.getStarkKey(keyBytes(secret)))) as Schemas.Felt

  /** Runs `effect` while recording every string made by the usual byte-to-text routes. */
  const recordingStrings = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const made: Array<string> = []
      const bufferToString = Buffer.prototype.toString
      const bigintToString = BigInt.prototype.toString
      const padStart = String.prototype.padStart
      const record = (value: unknown) => {
        if (typeof value === "string") made.push(value)
        return value
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          Buffer.prototype.toString = function(this: Buffer, ...args: Array<any>) {
            return record(bufferToString.apply(this, args as never)) as string
          } as never
          BigInt.prototype.toString = function(this: bigint, ...args: Array<any>) {
            return record(bigintToString.apply(this, args as never)) as string
          } as never
          String.prototype.padStart = function(this: string, ...args: Array<any>) {
            return record(padStart.apply(this, args as never)) as string
          } as never
        }),
        () =>
          Effect.sync(() => {
            Buffer.prototype.toString = bufferToString
            BigInt.prototype.toString = bigintToString
            String.prototype.padStart = padStart
          })
      )
      yield* effect
      return made
    }).pipe(Effect.scoped)

  it.effect("decrypting (both formats) and deriving the public key make no string of the key", () =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const pin = Redacted.make("9753")
        const v1 = keystore.encryptV1Sync(keyBytes(secret), publicKey, Redacted.value(pin), { N: 2 ** 10, r: 8, p: 1 })
        const legacy = CryptoJS.AES.encrypt(hex(secret), Redacted.value(pin)).toString()
        const made = yield* recordingStrings(Effect.scoped(Effect.gen(function*() {
          for (const blob of [v1, legacy]) {
            const key = yield* crypto.decryptPrivateKey(blob, pin, publicKey)
            expect(yield* crypto.publicKeyOf(key)).toBe(publicKey)
          }
        })))
        expect(made.length).toBeGreaterThan(0)
        expect(made.filter((text) => text.toLowerCase().includes(secretHex.slice(0, 24)))).toEqual([])
      })
    ))
})

describe("scrypt off the event loop", () => {
  /** How many times the event loop turned while `effect` ran. */
  const turnsDuring = async (effect: Effect.Effect<unknown, unknown>) => {
    let turns = 0
    let running = true
    const spin = () => {
      turns++
      if (running) setImmediate(spin)
    }
    setImmediate(spin)
    await Effect.runPromise(Effect.scoped(effect) as Effect.Effect<unknown>)
    running = false
    return turns
  }
  const withLayer = <A, E>(f: (c: Crypto.Crypto["Type"]) => Effect.Effect<A, E, any>) =>
    Effect.flatMap(Crypto.Crypto, f).pipe(Effect.provide(Crypto.layer)) as Effect.Effect<A, E, never>

  it("encrypting, decrypting and creating a session key let the event loop run", async () => {
    const key = Redacted.make(keyBytes(4242n))
    const pin = Redacted.make("8642")
    const publicKey = await Effect.runPromise(withLayer((c) => c.publicKeyOf(key)))
    let blob = ""
    expect(await turnsDuring(withLayer((c) => Effect.map(c.encryptPrivateKey(key, pin), (b) => (blob = b))))).toBeGreaterThan(5)
    expect(await turnsDuring(withLayer((c) => c.decryptPrivateKey(blob, pin, publicKey)))).toBeGreaterThan(5)
    expect(await turnsDuring(Sessions.createSessionKey({ encryptKey: pin }).pipe(Effect.provide(Crypto.layer)))).toBeGreaterThan(5)
    expect(await turnsDuring(Crypto.generateEncrypted(pin))).toBeGreaterThan(5)
    expect(await turnsDuring(keystore.encryptV1(Redacted.value(key), publicKey, Redacted.value(pin)))).toBeGreaterThan(5)
    // The synchronous writers stay for callers that must return at once.
    expect(await turnsDuring(Effect.sync(() => Crypto.generateEncryptedSync(pin)))).toBeLessThanOrEqual(1)
  })
})

describe("the decrypted session-key cache", () => {
  const secret = keyBytes(0x5e55107n)
  const publicKey = hex(BigInt(ec.starkCurve.getStarkKey(secret))) as Schemas.Felt
  const pin = Redacted.make("1357")
  const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const start = performance.now()
      const value = yield* effect
      return { value, ms: performance.now() - start }
    })

  it.live("with { cache: true } the derivation is paid once; a wrong PIN or another blob never hits", () =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const blob = yield* crypto.encryptPrivateKey(Redacted.make(secret), pin)
        const first = yield* timed(Effect.scoped(Effect.map(crypto.decryptPrivateKey(blob, pin, publicKey, { cache: true }), (k) => Uint8Array.from(Redacted.value(k)))))
        let handedOut: Uint8Array | undefined
        const second = yield* timed(Effect.scoped(Effect.map(crypto.decryptPrivateKey(blob, pin, publicKey, { cache: true }), (k) => {
          handedOut = Redacted.value(k)
          return Uint8Array.from(handedOut)
        })))
        expect(Buffer.from(second.value).equals(Buffer.from(secret))).toBe(true)
        expect(Buffer.from(first.value).equals(Buffer.from(secret))).toBe(true)
        // A hit costs no scrypt (tens of milliseconds at least).
        expect(second.ms * 10).toBeLessThan(first.ms)
        // The copy handed out is still wiped when its scope closes.
        expect(handedOut!.every((b) => b === 0)).toBe(true)
        // A wrong PIN is InvalidPin, cached right PIN or not, and pays the full derivation.
        const wrong = yield* timed(Effect.flip(Effect.scoped(crypto.decryptPrivateKey(blob, Redacted.make("1358"), publicKey, { cache: true }))))
        expect(wrong.value).toBeInstanceOf(Errors.InvalidPin)
        expect(wrong.ms * 10).toBeGreaterThan(first.ms)
        // Another blob of the same key under another PIN, and the right blob for another expected key, miss too.
        const other = yield* crypto.encryptPrivateKey(Redacted.make(secret), Redacted.make("2468"))
        expect(yield* Effect.flip(Effect.scoped(crypto.decryptPrivateKey(other, pin, publicKey, { cache: true })))).toBeInstanceOf(Errors.InvalidPin)
        const otherKey = hex(BigInt(ec.starkCurve.getStarkKey(keyBytes(7n)))) as Schemas.Felt
        expect(yield* Effect.flip(Effect.scoped(crypto.decryptPrivateKey(blob, pin, otherKey, { cache: true })))).toBeInstanceOf(Errors.InvalidPin)
        // Without { cache: true } nothing is cached or read from the cache.
        const uncached = yield* timed(Effect.scoped(crypto.decryptPrivateKey(blob, pin, publicKey)))
        expect(uncached.ms * 10).toBeGreaterThan(first.ms)
      })
    ))

  it.live("{ keyCache: false } turns it off", () =>
    withCrypto((crypto) =>
      Effect.gen(function*() {
        const blob = yield* crypto.encryptPrivateKey(Redacted.make(secret), pin)
        const first = yield* timed(Effect.scoped(crypto.decryptPrivateKey(blob, pin, publicKey, { cache: true })))
        const second = yield* timed(Effect.scoped(crypto.decryptPrivateKey(blob, pin, publicKey, { cache: true })))
        expect(second.ms * 10).toBeGreaterThan(first.ms)
      }), Crypto.layerWith({ keyCache: false })))
})

describe("which decryptions use the cache", () => {
  it.effect("Sessions.execute (and withSession) ask for it; owner keys (register, revoke) never do", () =>
    Effect.gen(function*() {
      const asked: Array<{ readonly key: string; readonly cache: boolean }> = []
      const recording = Layer.effect(
        Crypto.Crypto,
        Effect.map(Crypto.Crypto, (inner) =>
          Crypto.Crypto.of({
            ...inner,
            decryptPrivateKey: (blob, pin, expected, options) => {
              asked.push({ key: expected, cache: options?.cache === true })
              return inner.decryptPrivateKey(blob, pin, expected, options)
            }
          }))
      ).pipe(Layer.provide(Crypto.layerDeterministic("cache-wiring")))
      yield* lifecycle.atRealisticTime
      yield* Effect.gen(function*() {
        const { session, wallet } = yield* lifecycle.registeredSession({ maxCalls: 5 })
        const params = { encryptKey: lifecycle.PIN, wallet, session }
        yield* Sessions.execute({ ...params, calls: [lifecycle.transfer(1n)] })
        yield* Sessions.execute({ ...params, calls: [lifecycle.transfer(2n)] })
        yield* Sessions.withSession(params, (handle) => handle.execute([lifecycle.transfer(3n)]))
        yield* lifecycle.withBlocks(Sessions.revokeAndWait({ encryptKey: lifecycle.PIN, wallet, sessionPublicKey: session.publicKey }))
        const sessionKeys = asked.filter((a) => a.key === session.publicKey)
        const ownerKeys = asked.filter((a) => a.key !== session.publicKey)
        expect(sessionKeys.length).toBe(3)
        expect(sessionKeys.every((a) => a.cache)).toBe(true)
        expect(ownerKeys.length).toBeGreaterThanOrEqual(2)
        expect(ownerKeys.some((a) => a.cache)).toBe(false)
      }).pipe(Effect.provide(Layer.mergeAll(lifecycle.TestLayer(), recording)))
    }))
})
