/**
 * Keys and signatures on the Stark curve, and private keys at rest.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Redacted, type Scope } from "effect"
import type { InvalidInput, InvalidPin } from "./Errors.js"
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
export class Crypto extends Context.Tag("starknet-sessions/Crypto")<
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
