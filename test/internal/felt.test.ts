import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { encodeShortString, typedDataScalar } from "../../src/internal/crypto/felt.js"

/** The reading the fast path must agree with: whatever `BigInt` reads is that integer, any other string a short string. */
const reference = (value: string): bigint | "refused" => {
  let parsed: bigint
  try {
    parsed = BigInt(value)
  } catch {
    try {
      return encodeShortString(value)
    } catch {
      return "refused"
    }
  }
  return parsed < 0n || parsed >= 2n ** 251n + 17n * 2n ** 192n + 1n ? "refused" : parsed
}
const ours = (value: string): bigint | "refused" => {
  try {
    return typedDataScalar(value)
  } catch {
    return "refused"
  }
}

describe("typedDataScalar", () => {
  it("reads every string as BigInt-or-short-string does, integer literals and names alike", () => {
    const literal = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 252n }).map((n) => "0x" + n.toString(16)),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
      fc.bigInt({ min: 0n, max: 2n ** 64n }).map((n) => "0b" + n.toString(2)),
      fc.bigInt({ min: 0n, max: 2n ** 64n }).map((n) => "0o" + n.toString(8))
    )
    const text = fc.oneof(
      literal,
      literal.map((s) => ` ${s}\n`),
      fc.string({ maxLength: 31 }),
      fc.stringMatching(/^[0-9a-fA-FxXoObB+\- ]{0,12}$/),
      fc.constantFrom("Account.execute_from_outside", "SN_SEPOLIA", "SN_MAIN", "", " ", "0x", "1e3", "0xg", "+0x1", "-0")
    )
    fc.assert(fc.property(text, (value) => {
      expect(ours(value)).toEqual(reference(value))
    }), { numRuns: 5000 })
  })
})
