/**
 * Keys and signatures on the Stark curve, and private keys at rest.
 *
 * @since 0.1.0
 */
import * as nodeCrypto from "node:crypto"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import { InvalidInput, InvalidPin } from "./Errors.js"
import * as keystore from "./internal/keystore.js"
import * as stark from "./internal/stark.js"
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
    /** Encrypts a private key under a PIN in the current envelope format. */
    readonly encryptPrivateKey: (
      privateKey: Redacted.Redacted<Uint8Array>,
      pin: Redacted.Redacted<string>
    ) => Effect.Effect<string>
    /**
     * Decrypts a private key (current or legacy format) into the scope, wiped on release. The key is checked
     * against `expectedPublicKey`: a wrong PIN is always `InvalidPin`.
     */
    readonly decryptPrivateKey: (
      encrypted: string,
      pin: Redacted.Redacted<string>,
      expectedPublicKey: Felt
    ) => Effect.Effect<Redacted.Redacted<Uint8Array>, InvalidPin | InvalidInput, Scope.Scope>
  }
>() {}

// ---------------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------------

const toBytes = (value: bigint): Uint8Array => Uint8Array.from(Buffer.from(value.toString(16).padStart(64, "0"), "hex"))
const fromBytes = (bytes: Uint8Array): bigint => BigInt("0x" + (Buffer.from(bytes).toString("hex") || "0"))
const hex = (value: bigint) => ("0x" + value.toString(16)) as Felt

/** A scoped private key: zero-filled when the scope closes. */
const scopedKey = (bytes: Uint8Array) =>
  Effect.acquireRelease(Effect.sync(() => Redacted.make(bytes)), (key) => Effect.sync(() => Redacted.value(key).fill(0)))

/** Uniform in [1, n-1] by rejection sampling over 252-bit draws from the CSPRNG. */
const randomScalar = (): Uint8Array => {
  for (;;) {
    const bytes = nodeCrypto.randomBytes(32)
    bytes[0] = bytes[0]! & 0x0f
    const value = fromBytes(bytes)
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

const makeWith = (nextKey: () => Uint8Array): Crypto["Type"] => ({
  generateKeyPair: Effect.gen(function*() {
    const privateKey = yield* scopedKey(nextKey())
    return { publicKey: hex(stark.publicKeyOf(Redacted.value(privateKey))), privateKey }
  }),
  publicKeyOf: (privateKey) => Effect.sync(() => hex(stark.publicKeyOf(Redacted.value(privateKey)))),
  sign: (hash, privateKey) =>
    Effect.sync(() => {
      const { r, s } = stark.sign(BigInt(hash), Redacted.value(privateKey))
      return { r: hex(r), s: hex(s) }
    }),
  verify: (hash, signature, publicKey) =>
    Effect.sync(() => stark.verify(BigInt(hash), BigInt(signature.r), BigInt(signature.s), BigInt(publicKey))),
  encryptPrivateKey: (privateKey, pin) =>
    Effect.sync(() => {
      const bytes = Redacted.value(privateKey)
      return keystore.encryptV1Sync(bytes, hex(stark.publicKeyOf(bytes)), Redacted.value(pin))
    }),
  decryptPrivateKey: (encrypted, pin, expectedPublicKey) =>
    Effect.gen(function*() {
      const format = keystore.detectFormat(encrypted)
      if (format === undefined) return yield* invalidInput("not an encrypted key in a known format")
      const bytes = yield* Effect.tryPromise({
        try: () =>
          format === "v1"
            ? keystore.decryptV1(encrypted, Redacted.value(pin), expectedPublicKey)
            : Promise.resolve().then(() => keystore.decryptLegacy(encrypted, Redacted.value(pin))),
        catch: (error) =>
          error instanceof keystore.KeystoreFormatError
            ? invalidInput(error.message)
            : new InvalidPin({ expectedPublicKey })
      })
      const key = yield* scopedKey(bytes)
      // The legacy format has no MAC: only the public key tells a right PIN from a wrong one.
      const value = fromBytes(bytes)
      if (value < 1n || value >= stark.CURVE_ORDER || stark.publicKeyOf(bytes) !== BigInt(expectedPublicKey)) {
        return yield* new InvalidPin({ expectedPublicKey })
      }
      return key
    })
})

/**
 * The Crypto service with keys from the CSPRNG.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Crypto["Type"]> = Effect.sync(() => makeWith(randomScalar))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Crypto> = Layer.effect(Crypto, make)

/**
 * Reproducible key pairs for tests: the i-th key is derived from the seed; everything else is real.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeterministic = (seed: string): Layer.Layer<Crypto> =>
  Layer.sync(Crypto, () => {
    let counter = 0
    return makeWith(() => {
      const digest = nodeCrypto.createHash("sha256").update(`${seed}:${counter++}`).digest()
      const value = (fromBytes(digest) % (stark.CURVE_ORDER - 1n)) + 1n
      digest.fill(0)
      return toBytes(value)
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
    const publicKey = hex(stark.publicKeyOf(bytes))
    return { publicKey, encryptedPrivateKey: keystore.encryptV1Sync(bytes, publicKey, Redacted.value(pin)) }
  } finally {
    bytes.fill(0)
  }
}
