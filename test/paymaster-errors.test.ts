/**
 * SNIP-29 refusals as AVNU's paymaster sends them (fixtures from its published source, `avnu-labs/paymaster`; see
 * test/fixtures/avnu-paymaster-errors.ts) give the same typed errors as the SNIP's nested shapes.
 */
import { describe, expect, it } from "vitest"
import { Paymaster } from "starknet-session-keys"
import { AVNU_ERRORS } from "./fixtures/avnu-paymaster-errors.js"

const KINDS: Record<string, { readonly kind?: string; readonly transient: boolean }> = {
  "invalid time bounds (156, not 157)": { kind: "invalid-time-bounds", transient: false },
  "duplicate filter: the same (user, nonce) within 30 s": { kind: "already-sent", transient: false },
  "invalid API key": { kind: "unauthorized", transient: false },
  "blacklisted calls": { kind: "blacklisted", transient: false },
  "service unavailable": { kind: "unavailable", transient: true }
}

describe("AVNU's refusals, typed", () => {
  for (const fixture of AVNU_ERRORS) {
    it(fixture.name, () => {
      const error = Paymaster.paymasterErrorOf({ ...fixture.error, transient: false })
      expect(error._tag).toBe("PaymasterError")
      expect(error.code).toBe(fixture.error.code)
      expect(error.revertReason).toBe(fixture.reason)
      const expected = KINDS[fixture.name]
      expect(error.kind).toBe(expected?.kind)
      expect(error.transient).toBe(expected?.transient ?? false)
      if (fixture.reason !== undefined) expect(error.message).toContain(fixture.reason)
    })
  }

  it("the SNIP's own codes for a bad signature and bad time bounds (153, 157) carry the same kinds", () => {
    expect(Paymaster.paymasterErrorOf({ code: 153, message: "An error occurred (INVALID_SIGNATURE)", transient: false }).kind).toBe("invalid-signature")
    expect(Paymaster.paymasterErrorOf({ code: 157, message: "An error occurred (INVALID_TIME_BOUNDS)", transient: false }).kind).toBe("invalid-time-bounds")
  })
})
