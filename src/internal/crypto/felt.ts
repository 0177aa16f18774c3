/** Field arithmetic facts shared by the schemas, the hashing and the devnet. */

/** The Stark field prime: 2^251 + 17 * 2^192 + 1. */
export const P = 2n ** 251n + 17n * 2n ** 192n + 1n
/** Addresses are felts below 2^251. */
export const ADDRESS_BOUND = 2n ** 251n
export const U32_MAX = 2n ** 32n - 1n
export const U64_MAX = 2n ** 64n - 1n
export const U128_MAX = 2n ** 128n - 1n

const HEX = /^0x[0-9a-fA-F]+$/
const DEC = /^[0-9]+$/

/** Parses 0x-hex or decimal text as an integer; `undefined` when it is neither. */
export const parseNumeric = (text: string): bigint | undefined => {
  const trimmed = text.trim()
  if (HEX.test(trimmed) || DEC.test(trimmed)) return BigInt(trimmed)
  return undefined
}

/** A bigint, a safe integer, or a hex or decimal string, as a bigint; `undefined` for anything else. */
export const integerOf = (input: bigint | number | string): bigint | undefined =>
  typeof input === "bigint" ? input : typeof input === "number" ? (Number.isSafeInteger(input) ? BigInt(input) : undefined) : parseNumeric(input)

export const toHex = (value: bigint): string => "0x" + value.toString(16)

/** A Cairo short string (at most 31 ASCII bytes) as a felt. */
export const encodeShortString = (text: string): bigint => {
  if (text.length > 31) throw new RangeError(`short string longer than 31 characters: ${text}`)
  let acc = 0n
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code > 0x7f) throw new RangeError(`short string is not ASCII: ${text}`)
    acc = (acc << 8n) | BigInt(code)
  }
  return acc
}

export const decodeShortString = (value: bigint): string => {
  let out = ""
  let v = value
  while (v > 0n) {
    out = String.fromCharCode(Number(v & 0xffn)) + out
    v >>= 8n
  }
  return out
}

/** A character outside every string `BigInt` reads as an integer (digits, `x`/`o`/`b` prefixes, a sign, spaces). */
const NOT_AN_INTEGER_LITERAL = /[^0-9a-fA-FxXoO+\-\s]/

/** The field's prime: a felt is below it. */
const FELT_LIMIT = 2n ** 251n + 17n * 2n ** 192n + 1n

/**
 * Reads a typed-data scalar the way starknet.js (`typedData.encodeValue`, `getHex`) does: a string JavaScript reads
 * as an integer (hex, decimal, `0b…`, `0o…`, surrounding spaces) is that integer; any other string is a Cairo short
 * string. A value outside the field is refused (`RangeError`), as starknet.js refuses it for revision 1.
 */
export const typedDataScalar = (value: string | number | bigint): bigint => {
  let parsed: bigint | undefined
  if (typeof value === "string") {
    // A character no integer literal has: a short string, without paying for the exception `BigInt` would throw.
    if (NOT_AN_INTEGER_LITERAL.test(value)) return encodeShortString(value)
    try {
      parsed = BigInt(value)
    } catch {
      return encodeShortString(value)
    }
  } else parsed = BigInt(value)
  if (parsed < 0n || parsed >= FELT_LIMIT) throw new RangeError(`typed-data value out of the field: ${String(value).slice(0, 80)}`)
  return parsed
}

