/**
 * Private keys at rest, with `node:crypto` only.
 *
 * - The current format is a versioned envelope `ssk1.<base64url(JSON)>` carrying its KDF parameters: scrypt, then
 *   AES-256-GCM with the public key as associated data. Parameters can be raised later; old blobs still read.
 * - The legacy format is the CryptoJS/OpenSSL passphrase format `U2FsdGVkX1…` (read; written only by the devnet,
 *   which creates wallets the way existing ones are stored).
 */
import * as crypto from "node:crypto"
import { Effect } from "effect"

export const V1_PREFIX = "ssk1."

/** scrypt cost: N = 2^15, r = 8, p = 1 costs about 60-90 ms on a 2-core machine. */
export const DEFAULT_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const

/**
 * The most a stored envelope may ask of the KDF: what this library writes. An envelope names its own cost, so
 * trusting a larger one would let a hostile blob spend seconds of CPU and gigabytes per decryption. Raising the
 * written cost raises this bound with it, and older blobs (at or below it) still read.
 */
export const MAX_SCRYPT = DEFAULT_SCRYPT

export interface ScryptParams {
  readonly N: number
  readonly r: number
  readonly p: number
}

interface EnvelopeV1 {
  readonly v: 1
  readonly kdf: "scrypt"
  readonly N: number
  readonly r: number
  readonly p: number
  readonly salt: string
  readonly iv: string
  readonly ct: string
  readonly tag: string
}

interface Parsed {
  readonly params: ScryptParams
  readonly salt: Buffer
  readonly iv: Buffer
  readonly ct: Buffer
  readonly tag: Buffer
}

const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const SALT_BYTES = 16
/** Far above any envelope we write (about 200 characters): a larger blob is refused before it is decoded. */
const MAX_BLOB_CHARS = 4096

const maxmem = (N: number, r: number) => 256 * N * r + 1024 * 1024

const normalise = (publicKeyHex: string) => "0x" + BigInt(publicKeyHex).toString(16)

export class KeystoreFormatError extends Error {}
export class KeystoreAuthError extends Error {}

export const detectFormat = (blob: string): "v1" | "legacy" | undefined =>
  blob.startsWith(V1_PREFIX) ? "v1" : blob.startsWith("U2FsdGVkX1") ? "legacy" : undefined

const seal = (key: Buffer, privateKey: Uint8Array, publicKeyHex: string, params: ScryptParams, salt: Buffer) => {
  const iv = crypto.randomBytes(IV_BYTES)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(Buffer.from(normalise(publicKeyHex), "utf8"))
  const ct = Buffer.concat([cipher.update(privateKey), cipher.final()])
  key.fill(0)
  const envelope: EnvelopeV1 = {
    v: 1,
    kdf: "scrypt",
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString("base64url"),
    iv: iv.toString("base64url"),
    ct: ct.toString("base64url"),
    tag: cipher.getAuthTag().toString("base64url")
  }
  return V1_PREFIX + Buffer.from(JSON.stringify(envelope), "utf8").toString("base64url")
}

/**
 * scrypt off the event loop (libuv's thread pool), as an Effect. An interrupted derivation still completes in the
 * pool; its key is then wiped instead of delivered.
 */
const scrypt = (pin: string, salt: Buffer, params: ScryptParams): Effect.Effect<Buffer, KeystoreFormatError> =>
  Effect.async<Buffer, KeystoreFormatError>((resume) => {
    let interrupted = false
    crypto.scrypt(pin, salt, KEY_BYTES, { ...params, maxmem: maxmem(params.N, params.r) }, (error, key) => {
      if (interrupted) {
        key?.fill(0)
        return
      }
      resume(error ? Effect.fail(new KeystoreFormatError("the envelope's KDF parameters are invalid")) : Effect.succeed(key))
    })
    return Effect.sync(() => {
      interrupted = true
    })
  })

/**
 * Encrypts a 32-byte private key under a PIN with scrypt on the event loop. Only for callers that must return
 * synchronously (the guide's `createSessionKey`); everything else uses `encryptV1`.
 */
export const encryptV1Sync = (
  privateKey: Uint8Array,
  publicKeyHex: string,
  pin: string,
  params: ScryptParams = DEFAULT_SCRYPT
): string => {
  const salt = crypto.randomBytes(SALT_BYTES)
  const key = crypto.scryptSync(pin, salt, KEY_BYTES, { ...params, maxmem: maxmem(params.N, params.r) })
  return seal(key, privateKey, publicKeyHex, params, salt)
}

/** Encrypts a 32-byte private key under a PIN, with scrypt off the event loop. */
export const encryptV1 = (
  privateKey: Uint8Array,
  publicKeyHex: string,
  pin: string,
  params: ScryptParams = DEFAULT_SCRYPT
): Effect.Effect<string> =>
  Effect.suspend(() => {
    const salt = crypto.randomBytes(SALT_BYTES)
    return scrypt(pin, salt, params).pipe(
      Effect.map((key) => seal(key, privateKey, publicKeyHex, params, salt)),
      // Our own parameters are valid: a failure here is a bug.
      Effect.orDie
    )
  })

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** A base64url field of exactly (or, with `min`/`max`, between) the given number of bytes. */
const bytesField = (value: unknown, name: string, min: number, max = min): Buffer => {
  if (typeof value !== "string" || !BASE64URL.test(value)) {
    throw new KeystoreFormatError(`the encrypted key envelope's ${name} is not base64url`)
  }
  const bytes = Buffer.from(value, "base64url")
  if (bytes.length < min || bytes.length > max || bytes.toString("base64url") !== value) {
    throw new KeystoreFormatError(
      `the encrypted key envelope's ${name} must be ${min === max ? `${min}` : `${min} to ${max}`} bytes`
    )
  }
  return bytes
}

const isPowerOfTwo = (n: number) => n >= 2 && (n & (n - 1)) === 0

/** Parses and bounds an envelope; anything malformed or beyond what we write is a format error, never an auth one. */
const parseEnvelope = (blob: string): Parsed => {
  if (blob.length > MAX_BLOB_CHARS) throw new KeystoreFormatError("the encrypted key is far longer than an envelope")
  const body = blob.slice(V1_PREFIX.length)
  if (!BASE64URL.test(body)) throw new KeystoreFormatError("the encrypted key is not a readable envelope")
  let envelope: Partial<EnvelopeV1> | null
  try {
    envelope = JSON.parse(Buffer.from(body, "base64url").toString("utf8"))
  } catch {
    throw new KeystoreFormatError("the encrypted key is not a readable envelope")
  }
  if (typeof envelope !== "object" || envelope === null || envelope.v !== 1 || envelope.kdf !== "scrypt") {
    throw new KeystoreFormatError("the encrypted key envelope is of an unknown version or KDF")
  }
  const { N, r, p } = envelope
  if (
    !Number.isSafeInteger(N) || !Number.isSafeInteger(r) || !Number.isSafeInteger(p) ||
    !isPowerOfTwo(N!) || r! < 1 || p! < 1
  ) {
    throw new KeystoreFormatError("the encrypted key envelope's KDF parameters are malformed")
  }
  if (N! > MAX_SCRYPT.N || r! > MAX_SCRYPT.r || p! > MAX_SCRYPT.p) {
    throw new KeystoreFormatError(
      `the encrypted key envelope asks for a KDF cost above the supported N=${MAX_SCRYPT.N}, r=${MAX_SCRYPT.r}, p=${MAX_SCRYPT.p}`
    )
  }
  return {
    params: { N: N!, r: r!, p: p! },
    salt: bytesField(envelope.salt, "salt", 8, 64),
    iv: bytesField(envelope.iv, "iv", IV_BYTES),
    ct: bytesField(envelope.ct, "ciphertext", KEY_BYTES),
    tag: bytesField(envelope.tag, "tag", TAG_BYTES)
  }
}

const open = (key: Buffer, envelope: Parsed, publicKeyHex: string): Uint8Array => {
  const out = new Uint8Array(KEY_BYTES)
  let plain: Buffer | undefined
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, envelope.iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(Buffer.from(normalise(publicKeyHex), "utf8"))
    decipher.setAuthTag(envelope.tag)
    plain = decipher.update(envelope.ct)
    decipher.final()
    out.set(plain)
    return out
  } catch {
    out.fill(0)
    throw new KeystoreAuthError("authentication failed")
  } finally {
    plain?.fill(0)
    key.fill(0)
  }
}

/**
 * Decrypts the current format, with scrypt off the event loop. A malformed envelope, or one asking for more KDF
 * cost than we write, fails with `KeystoreFormatError` before any derivation; a wrong PIN with `KeystoreAuthError`.
 */
export const decryptV1 = (
  blob: string,
  pin: string,
  publicKeyHex: string
): Effect.Effect<Uint8Array, KeystoreFormatError | KeystoreAuthError> =>
  Effect.try({
    try: () => parseEnvelope(blob),
    catch: (error) => error instanceof KeystoreFormatError ? error : new KeystoreFormatError("the encrypted key envelope is malformed")
  }).pipe(
    Effect.flatMap((envelope) =>
      Effect.flatMap(scrypt(pin, envelope.salt, envelope.params), (key) =>
        Effect.try({
          try: () => open(key, envelope, publicKeyHex),
          catch: () => new KeystoreAuthError("authentication failed")
        }))
    )
  )

/** OpenSSL EVP_BytesToKey with MD5 and one iteration: 32 bytes of key, 16 of IV. */
const evpBytesToKey = (password: Buffer, salt: Buffer) => {
  const blocks: Array<Buffer> = []
  let previous = Buffer.alloc(0)
  while (Buffer.concat(blocks).length < 48) {
    previous = crypto.createHash("md5").update(Buffer.concat([previous, password, salt])).digest()
    blocks.push(previous)
  }
  const all = Buffer.concat(blocks)
  const out = { key: Buffer.from(all.subarray(0, 32)), iv: Buffer.from(all.subarray(32, 48)) }
  all.fill(0)
  for (const block of blocks) block.fill(0)
  return out
}

/** Writes the legacy CryptoJS passphrase format (the devnet's wallets are stored as existing ones are). */
export const encryptLegacy = (privateKeyHex: string, pin: string): string => {
  const salt = crypto.randomBytes(8)
  const { key, iv } = evpBytesToKey(Buffer.from(pin, "utf8"), salt)
  const cipher = crypto.createCipheriv("aes-256-cbc", key, iv)
  const ct = Buffer.concat([cipher.update(privateKeyHex, "utf8"), cipher.final()])
  key.fill(0)
  return Buffer.concat([Buffer.from("Salted__", "latin1"), salt, ct]).toString("base64")
}

const hexDigit = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : code >= 65 && code <= 70 ? code - 55 : -1

/**
 * The key bytes of the legacy plaintext (`0x`-prefixed or bare hex, 1 to 64 digits), read byte by byte: the key
 * never becomes a string, which could not be wiped. Undefined when the plaintext is not such a key.
 */
const keyFromHexText = (text: Uint8Array): Uint8Array | undefined => {
  const start = text.length >= 2 && text[0] === 48 && (text[1] === 120 || text[1] === 88) ? 2 : 0
  const digits = text.length - start
  if (digits < 1 || digits > 64) return undefined
  const out = new Uint8Array(32)
  // Right-aligned: digit i (from the end) is nibble i of the big-endian key.
  for (let i = 0; i < digits; i++) {
    const nibble = hexDigit(text[text.length - 1 - i]!)
    if (nibble < 0) {
      out.fill(0)
      return undefined
    }
    out[31 - (i >> 1)]! |= (i & 1) === 0 ? nibble : nibble << 4
  }
  return out
}

/**
 * Reads the legacy format into 32 key bytes. That format has no MAC: a wrong PIN may "decrypt" to garbage, so the
 * caller must check the key against its public key.
 */
export const decryptLegacy = (blob: string, pin: string): Uint8Array => {
  if (blob.length > MAX_BLOB_CHARS) throw new KeystoreFormatError("the encrypted key is far longer than a CryptoJS blob")
  const raw = Buffer.from(blob, "base64")
  if (raw.length < 32 || raw.subarray(0, 8).toString("latin1") !== "Salted__" || (raw.length - 16) % 16 !== 0) {
    throw new KeystoreFormatError("the encrypted key is not a CryptoJS/OpenSSL blob")
  }
  const { key, iv } = evpBytesToKey(Buffer.from(pin, "utf8"), raw.subarray(8, 16))
  let first: Buffer | undefined
  let last: Buffer | undefined
  let plain: Buffer | undefined
  try {
    const decipher = crypto.createDecipheriv("aes-256-cbc", key, iv)
    first = decipher.update(raw.subarray(16))
    last = decipher.final()
    plain = Buffer.concat([first, last])
  } catch {
    throw new KeystoreAuthError("authentication failed")
  } finally {
    key.fill(0)
    iv.fill(0)
    first?.fill(0)
    last?.fill(0)
  }
  const out = keyFromHexText(plain)
  plain.fill(0)
  if (out === undefined) throw new KeystoreAuthError("authentication failed")
  return out
}
