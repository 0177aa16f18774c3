/**
 * Keys and signatures on the Stark curve, and private keys at rest.
 *
 * @since 0.1.0
 */
import * as nodeCrypto from "node:crypto"
import * as scure from "@scure/starknet"
import { Context, type Duration, Effect, Layer, Redacted, type Scope } from "effect"
import { InvalidInput, InvalidPin } from "./Errors.js"
import * as keycache from "./internal/crypto/keycache.js"
import * as keystore from "./internal/crypto/keystore.js"
import * as stark from "./internal/crypto/stark.js"
import type { Felt } from "./Schemas.js"

/**
 * A Stark ECDSA signature.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signature {
  readonly r: Felt
  readonly s: Felt
}

/**
 * A key pair. The private key is bytes, `Redacted`, and zero-filled when the scope that made it closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyPair {
  readonly publicKey: Felt
  readonly privateKey: Redacted.Redacted<Uint8Array>
}

/**
 * Stark-curve keys, signatures and key encryption.
 *
 * @since 0.1.0
 * @category tags
 */
export class Crypto extends Context.Tag("starknet-session-keys/Crypto")<
  Crypto,
  {
    /** A fresh key pair, uniform in [1, n-1] from a CSPRNG; the private key is wiped when the scope closes. */
    readonly generateKeyPair: Effect.Effect<KeyPair, never, Scope.Scope>
    /** The Starknet public key (the point's x-coordinate) of a private key. */
    readonly publicKeyOf: (privateKey: Redacted.Redacted<Uint8Array>) => Effect.Effect<Felt>
    /** Signs a message hash (a felt below 2^251). */
    readonly sign: (hash: Felt, privateKey: Redacted.Redacted<Uint8Array>) => Effect.Effect<Signature>
    /** Verifies a signature against a public key given as its x-coordinate (either y parity). */
    readonly verify: (hash: Felt, signature: Signature, publicKey: Felt) => Effect.Effect<boolean>
    /** Encrypts a private key under a PIN in the current envelope format (scrypt off the event loop). */
    readonly encryptPrivateKey: (
      privateKey: Redacted.Redacted<Uint8Array>,
      pin: Redacted.Redacted<string>
    ) => Effect.Effect<string>
    /**
     * Decrypts a private key (current or legacy format) into the scope, wiped on release. The key is checked
     * against `expectedPublicKey`: a wrong PIN is always `InvalidPin`; a malformed envelope, or one asking for more
     * KDF cost than this library writes, is `InvalidInput`. With `{ cache: true }` the service's key cache is used
     * (see `KeyCacheOptions`): the derivation is paid once per key and PIN while the entry lives.
     */
    readonly decryptPrivateKey: (
      encrypted: string,
      pin: Redacted.Redacted<string>,
      expectedPublicKey: Felt,
      options?: { readonly cache?: boolean }
    ) => Effect.Effect<Redacted.Redacted<Uint8Array>, InvalidPin | InvalidInput, Scope.Scope>
  }
>() {}

// ---------------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------------

const hex = (value: bigint) => ("0x" + value.toString(16)) as Felt

/**
 * The scalar of 32 key bytes, read byte by byte: a hex string of the key would outlive its wipe (strings cannot be
 * zeroed). The bigint itself cannot be zeroed either; it is made only where the curve arithmetic needs it and
 * dropped at once.
 */
const scalarOf = (bytes: Uint8Array): bigint => {
  let value = 0n
  for (let i = 0; i < bytes.length; i++) value = (value << 8n) | BigInt(bytes[i]!)
  return value
}

/** The big-endian bytes of a scalar below 2^256, written without a string. */
const bytesOf = (value: bigint): Uint8Array => {
  const out = new Uint8Array(32)
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(value & 0xffn)
    value >>= 8n
  }
  return out
}

/** The Starknet public key (x-coordinate) of a private key, from its scalar (no string of the key on the way). */
const publicKeyOfBytes = (bytes: Uint8Array): bigint => scure.ProjectivePoint.BASE.multiply(scalarOf(bytes)).toAffine().x

/** The message hash as @scure/starknet's `sign` reads it: minimal big-endian bytes (the hash is public). */
const messageBytes = (hash: bigint): Uint8Array => {
  const digits = hash.toString(16)
  return Uint8Array.from(Buffer.from(digits.length % 2 === 0 ? digits : "0" + digits, "hex"))
}

/**
 * Stark ECDSA with the key given to the curve as a scalar, never as hex: @scure/starknet's `sign` would first turn
 * the key bytes into a hex string. The curve's RFC 6979 nonce derivation still writes the scalar out as bytes
 * internally (through a string, in @noble/curves), which no caller can wipe.
 */
const signBytes = (hash: bigint, bytes: Uint8Array): { readonly r: bigint; readonly s: bigint } => {
  const signature = scure._starkCurve.sign(messageBytes(hash), scalarOf(bytes))
  // @scure/starknet's own bounds on a Stark signature: r and s^-1 below 2^251.
  if (signature.r >= scure.MAX_VALUE || invertN(signature.s) >= scure.MAX_VALUE) {
    throw new Error("the curve produced a signature outside Stark ECDSA's bounds")
  }
  return { r: signature.r, s: signature.s }
}

const invertN = (a: bigint): bigint => {
  const N = stark.CURVE_ORDER
  let [t, newT, r, newR] = [0n, 1n, N, ((a % N) + N) % N]
  while (newR !== 0n) {
    const q = r / newR
    ;[t, newT] = [newT, t - q * newT]
    ;[r, newR] = [newR, r - q * newR]
  }
  return ((t % N) + N) % N
}

/** A scoped private key: zero-filled when the scope closes. */
const scopedKey = (bytes: Uint8Array) =>
  Effect.acquireRelease(Effect.sync(() => Redacted.make(bytes)), (key) => Effect.sync(() => Redacted.value(key).fill(0)))

/** Uniform in [1, n-1] by rejection sampling over 252-bit draws from the CSPRNG. */
const randomScalar = (): Uint8Array => {
  for (;;) {
    const bytes = nodeCrypto.randomBytes(32)
    bytes[0] = bytes[0]! & 0x0f
    const value = scalarOf(bytes)
    if (value >= 1n && value < stark.CURVE_ORDER) {
      const out = Uint8Array.from(bytes)
      bytes.fill(0)
      return out
    }
    bytes.fill(0)
  }
}

const invalidInput = (rule: string) =>
  new InvalidInput({ path: "encryptedPrivateKey", rule, issues: [{ path: "encryptedPrivateKey", rule }] })

/** Decrypts and checks a key against its public key; the bytes are the caller's to wipe. */
const decryptChecked = (
  encrypted: string,
  pin: Redacted.Redacted<string>,
  expectedPublicKey: Felt
): Effect.Effect<Uint8Array, InvalidPin | InvalidInput> =>
  Effect.gen(function*() {
    const format = keystore.detectFormat(encrypted)
    if (format === undefined) return yield* invalidInput("not an encrypted key in a known format")
    const expected = yield* Effect.try({
      try: () => BigInt(expectedPublicKey),
      catch: () =>
        new InvalidInput({
          path: "expectedPublicKey",
          rule: "must be a felt",
          issues: [{ path: "expectedPublicKey", rule: "must be a felt" }]
        })
    })
    const decrypted = format === "v1"
      ? keystore.decryptV1(encrypted, Redacted.value(pin), expectedPublicKey)
      : Effect.try({ try: () => keystore.decryptLegacy(encrypted, Redacted.value(pin)), catch: (error) => error })
    const bytes = yield* Effect.mapError(decrypted, (error) =>
      error instanceof keystore.KeystoreFormatError ? invalidInput(error.message) : new InvalidPin({ expectedPublicKey }))
    // The legacy format has no MAC: only the public key tells a right PIN from a wrong one.
    const value = scalarOf(bytes)
    if (value < 1n || value >= stark.CURVE_ORDER || publicKeyOfBytes(bytes) !== expected) {
      bytes.fill(0)
      return yield* new InvalidPin({ expectedPublicKey })
    }
    return bytes
  })

/**
 * How long decrypted session keys stay cached, and how many. `false` turns the cache off.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyCacheOptions {
  /** From the decryption, not the last use. Default 60 seconds. */
  readonly ttl?: Duration.DurationInput
  /** Least recently used keys are evicted (and wiped) beyond this. Default 1,000. */
  readonly maxEntries?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The cache of decrypted session keys (default on: 60 s, 1,000 keys); `false` turns it off. */
  readonly keyCache?: KeyCacheOptions | false
}

const makeWith = (nextKey: () => Uint8Array, options: Options) =>
  Effect.gen(function*() {
    const cache = options.keyCache === false
      ? undefined
      : yield* keycache.make({ ttl: options.keyCache?.ttl ?? "60 seconds", maxEntries: options.keyCache?.maxEntries ?? 1000 })
    const service: Crypto["Type"] = {
      generateKeyPair: Effect.gen(function*() {
        const privateKey = yield* scopedKey(nextKey())
        return { publicKey: hex(publicKeyOfBytes(Redacted.value(privateKey))), privateKey }
      }),
      publicKeyOf: (privateKey) => Effect.sync(() => hex(publicKeyOfBytes(Redacted.value(privateKey)))),
      sign: (hash, privateKey) =>
        Effect.sync(() => {
          const { r, s } = signBytes(BigInt(hash), Redacted.value(privateKey))
          return { r: hex(r), s: hex(s) }
        }),
      verify: (hash, signature, publicKey) =>
        Effect.sync(() => stark.verify(BigInt(hash), BigInt(signature.r), BigInt(signature.s), BigInt(publicKey))),
      encryptPrivateKey: (privateKey, pin) =>
        Effect.suspend(() => {
          const bytes = Redacted.value(privateKey)
          return keystore.encryptV1(bytes, hex(publicKeyOfBytes(bytes)), Redacted.value(pin))
        }),
      decryptPrivateKey: (encrypted, pin, expectedPublicKey, decryptOptions) =>
        Effect.flatMap(
          cache !== undefined && decryptOptions?.cache === true
            ? cache.get([encrypted, Redacted.value(pin), expectedPublicKey], decryptChecked(encrypted, pin, expectedPublicKey))
            : decryptChecked(encrypted, pin, expectedPublicKey),
          scopedKey
        )
    }
    return service
  })

/**
 * The Crypto service with keys from the CSPRNG. Its cache of decrypted session keys lives in the scope: every
 * cached key is wiped when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Crypto["Type"], never, Scope.Scope> => makeWith(randomScalar, options)

/**
 * The Crypto service with keys from the CSPRNG and the default key cache (60 s, 1,000 keys).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Crypto> = Layer.scoped(Crypto, make())

/**
 * The Crypto service with its key cache configured, or turned off with `{ keyCache: false }`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<Crypto> => Layer.scoped(Crypto, make(options))

/**
 * Reproducible key pairs for tests: the i-th key is derived from the seed; everything else is real.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeterministic = (seed: string, options: Options = {}): Layer.Layer<Crypto> =>
  Layer.scoped(
    Crypto,
    Effect.suspend(() => {
      let counter = 0
      return makeWith(() => {
        const digest = nodeCrypto.createHash("sha256").update(`${seed}:${counter++}`).digest()
        const value = (scalarOf(digest) % (stark.CURVE_ORDER - 1n)) + 1n
        digest.fill(0)
        return bytesOf(value)
      }, options)
    })
  )

/**
 * The same service with `encryptPrivateKey` run synchronously (scrypt on the calling thread), for APIs that must
 * return at once, as the guide's `createSessionKey` does. Everything else is unchanged.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withSynchronousEncryption = (crypto: Crypto["Type"]): Crypto["Type"] => ({
  ...crypto,
  encryptPrivateKey: (privateKey, pin) =>
    Effect.sync(() => {
      const bytes = Redacted.value(privateKey)
      return keystore.encryptV1Sync(bytes, hex(publicKeyOfBytes(bytes)), Redacted.value(pin))
    })
})

/**
 * A fresh session key, synchronously: generated, encrypted under the PIN, and the key bytes wiped.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateEncryptedSync = (pin: Redacted.Redacted<string>): { readonly publicKey: Felt; readonly encryptedPrivateKey: string } => {
  const bytes = randomScalar()
  try {
    const publicKey = hex(publicKeyOfBytes(bytes))
    return { publicKey, encryptedPrivateKey: keystore.encryptV1Sync(bytes, publicKey, Redacted.value(pin)) }
  } finally {
    bytes.fill(0)
  }
}

/**
 * A fresh session key, with scrypt off the event loop: generated, encrypted under the PIN, and the key bytes wiped.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateEncrypted = (
  pin: Redacted.Redacted<string>
): Effect.Effect<{ readonly publicKey: Felt; readonly encryptedPrivateKey: string }> =>
  Effect.suspend(() => {
    const bytes = randomScalar()
    const publicKey = hex(publicKeyOfBytes(bytes))
    return keystore.encryptV1(bytes, publicKey, Redacted.value(pin)).pipe(
      Effect.map((encryptedPrivateKey) => ({ publicKey, encryptedPrivateKey })),
      Effect.ensuring(Effect.sync(() => bytes.fill(0)))
    )
  })
