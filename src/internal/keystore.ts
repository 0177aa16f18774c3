/**
 * Private keys at rest, with `node:crypto` only.
 *
 * - The current format is a versioned envelope `ssk1.<base64url(JSON)>` carrying its KDF parameters: scrypt, then
 *   AES-256-GCM with the public key as associated data. Parameters can be raised later; old blobs still read.
 * - The legacy format is the CryptoJS/OpenSSL passphrase format `U2FsdGVkX1…` (read; written only by the devnet,
 *   which creates wallets the way existing ones are stored).
 */
import * as crypto from "node:crypto"

export const V1_PREFIX = "ssk1."

/** scrypt cost: N = 2^15, r = 8, p = 1 costs about 60-90 ms on a 2-core machine. */
export const DEFAULT_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const

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

const maxmem = (N: number, r: number) => 256 * N * r + 1024 * 1024

const normalise = (publicKeyHex: string) => "0x" + BigInt(publicKeyHex).toString(16)

export class KeystoreFormatError extends Error {}
export class KeystoreAuthError extends Error {}

export const detectFormat = (blob: string): "v1" | "legacy" | undefined =>
  blob.startsWith(V1_PREFIX) ? "v1" : blob.startsWith("U2FsdGVkX1") ? "legacy" : undefined

const seal = (key: Buffer, privateKey: Uint8Array, publicKeyHex: string, params: { N: number; r: number; p: number }, salt: Buffer) => {
  const iv = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv)
  cipher.setAAD(Buffer.from(normalise(publicKeyHex), "utf8"))
  const ct = Buffer.concat([cipher.update(privateKey), cipher.final()])
  key.fill(0)
  const envelope: EnvelopeV1 = {
    v: 1,
    kdf: "scrypt",
    ...params,
    salt: salt.toString("base64url"),
    iv: iv.toString("base64url"),
    ct: ct.toString("base64url"),
    tag: cipher.getAuthTag().toString("base64url")
  }
  return V1_PREFIX + Buffer.from(JSON.stringify(envelope), "utf8").toString("base64url")
}

/** Encrypts a 32-byte private key under a PIN (synchronous: the guide's `createSessionKey` is). */
export const encryptV1Sync = (
  privateKey: Uint8Array,
  publicKeyHex: string,
  pin: string,
  params: { N: number; r: number; p: number } = DEFAULT_SCRYPT
): string => {
  const salt = crypto.randomBytes(16)
  const key = crypto.scryptSync(pin, salt, 32, { ...params, maxmem: maxmem(params.N, params.r) })
  return seal(key, privateKey, publicKeyHex, params, salt)
}

const parseEnvelope = (blob: string): EnvelopeV1 => {
  let envelope: EnvelopeV1
  try {
    envelope = JSON.parse(Buffer.from(blob.slice(V1_PREFIX.length), "base64url").toString("utf8"))
  } catch {
    throw new KeystoreFormatError("the encrypted key is not a readable envelope")
  }
  if (
    envelope?.v !== 1 || envelope.kdf !== "scrypt" || ![envelope.N, envelope.r, envelope.p].every(Number.isSafeInteger) ||
    typeof envelope.salt !== "string" || typeof envelope.iv !== "string" || typeof envelope.ct !== "string" ||
    typeof envelope.tag !== "string" || envelope.N > 2 ** 22 || envelope.r > 64 || envelope.p > 16
  ) {
    throw new KeystoreFormatError("the encrypted key envelope is malformed or of an unknown version")
  }
  return envelope
}

const open = (key: Buffer, envelope: EnvelopeV1, publicKeyHex: string): Uint8Array => {
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64url"))
    decipher.setAAD(Buffer.from(normalise(publicKeyHex), "utf8"))
    decipher.setAuthTag(Buffer.from(envelope.tag, "base64url"))
    const first = decipher.update(Buffer.from(envelope.ct, "base64url"))
    const last = decipher.final()
    const out = new Uint8Array(first.length + last.length)
    out.set(first)
    out.set(last, first.length)
    first.fill(0)
    return out
  } catch {
    throw new KeystoreAuthError("authentication failed")
  } finally {
    key.fill(0)
  }
}

/** Decrypts the current format, with async scrypt (a server's event loop is not blocked). */
export const decryptV1 = (blob: string, pin: string, publicKeyHex: string): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    let envelope: EnvelopeV1
    try {
      envelope = parseEnvelope(blob)
    } catch (error) {
      return reject(error)
    }
    crypto.scrypt(pin, Buffer.from(envelope.salt, "base64url"), 32, {
      N: envelope.N,
      r: envelope.r,
      p: envelope.p,
      maxmem: maxmem(envelope.N, envelope.r)
    }, (error, key) => {
      if (error) return reject(new KeystoreFormatError("the envelope's KDF parameters are invalid"))
      try {
        resolve(open(key, envelope, publicKeyHex))
      } catch (e) {
        reject(e)
      }
    })
  })

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

const HEX_KEY = /^(0x)?[0-9a-fA-F]{1,64}$/

/**
 * Reads the legacy format into 32 key bytes. That format has no MAC: a wrong PIN may "decrypt" to garbage, so the
 * caller must check the key against its public key.
 */
export const decryptLegacy = (blob: string, pin: string): Uint8Array => {
  const raw = Buffer.from(blob, "base64")
  if (raw.length < 32 || raw.subarray(0, 8).toString("latin1") !== "Salted__" || (raw.length - 16) % 16 !== 0) {
    throw new KeystoreFormatError("the encrypted key is not a CryptoJS/OpenSSL blob")
  }
  const { key, iv } = evpBytesToKey(Buffer.from(pin, "utf8"), raw.subarray(8, 16))
  let plain: Buffer
  try {
    const decipher = crypto.createDecipheriv("aes-256-cbc", key, iv)
    plain = Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()])
  } catch {
    throw new KeystoreAuthError("authentication failed")
  } finally {
    key.fill(0)
  }
  const text = plain.toString("latin1")
  plain.fill(0)
  if (!HEX_KEY.test(text)) throw new KeystoreAuthError("authentication failed")
  const hex = text.replace(/^0x/, "").padStart(64, "0")
  return Uint8Array.from(Buffer.from(hex, "hex"))
}
