import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Either, FastCheck as fc, Schema } from "effect"
import { hash } from "starknet"
import { Errors, Schemas } from "starknet-session-keys"

const P = 2n ** 251n + 17n * 2n ** 192n + 1n
const decodeFelt = Schemas.decode(Schemas.Felt, "felt")

describe("Felt", () => {
  it.effect("normalises hex, decimal, bigint and number to lowercase 0x-hex", () =>
    Effect.gen(function*() {
      expect(yield* decodeFelt("0x00ABC")).toBe("0xabc")
      expect(yield* decodeFelt("2748")).toBe("0xabc")
      expect(yield* decodeFelt(2748n)).toBe("0xabc")
      expect(yield* decodeFelt(2748)).toBe("0xabc")
      expect(yield* decodeFelt(0)).toBe("0x0")
      expect(yield* decodeFelt(P - 1n)).toBe("0x" + (P - 1n).toString(16))
    }))

  it.effect("rejects the prime, negatives, non-integers and text with a typed InvalidInput", () =>
    Effect.gen(function*() {
      for (const bad of [P, P + 5n, -1n, -1, 1.5, "0xg1", "abc", "", "-3"]) {
        const error = yield* Effect.flip(decodeFelt(bad))
        expect(error).toBeInstanceOf(Errors.InvalidInput)
        expect(error.path).toBe("felt")
        expect(error.rule.length).toBeGreaterThan(0)
      }
    }))

  it.prop("every integer in [0, P) round-trips to its own value", [fc.bigInt({ min: 0n, max: P - 1n })], ([n]) => {
    const felt = Schemas.decodeSync(Schemas.Felt)(n)
    expect(BigInt(felt)).toBe(n)
    expect(felt).toMatch(/^0x(0|[1-9a-f][0-9a-f]*)$/)
    expect(Schemas.decodeSync(Schemas.Felt)(felt)).toBe(felt)
    expect(Schemas.decodeSync(Schemas.Felt)(n.toString())).toBe(felt)
  })

  it.prop("every integer at or above P, or below 0, is refused", [
    fc.oneof(fc.bigInt({ min: P, max: 2n ** 256n }), fc.bigInt({ min: -(2n ** 256n), max: -1n }))
  ], ([n]) => {
    const result = Effect.runSync(Effect.either(decodeFelt(n)))
    expect(Either.isLeft(result)).toBe(true)
  })

  it.prop("the Felt arbitrary only yields valid felts", [Arbitrary.make(Schemas.FeltString)], ([felt]) => {
    expect(BigInt(felt) < P).toBe(true)
  })
})

describe("Address, Selector, Call", () => {
  it.effect("addresses must be below 2^251", () =>
    Effect.gen(function*() {
      const decode = Schemas.decode(Schemas.Address)
      expect(yield* decode("0x1")).toBe("0x1")
      const error = yield* Effect.flip(decode(2n ** 251n))
      expect(error.rule).toContain("2^251")
    }))

  it.effect("selectors accept names (starknet_keccak) and felts", () =>
    Effect.gen(function*() {
      const decode = Schemas.decode(Schemas.Selector)
      expect(yield* decode("transfer")).toBe("0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e")
      expect(yield* decode("increaseAllowance")).toBe(
        "0x" + BigInt(hash.getSelectorFromName("increaseAllowance")).toString(16)
      )
      expect(yield* decode("0x083afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e")).toBe(
        "0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e"
      )
      const error = yield* Effect.flip(decode("not a name!"))
      expect(error.rule).toContain("neither an entrypoint name nor a selector")
      // A call's entrypoint given as a selector must be a felt too.
      const call = Schemas.decode(Schemas.Call)
      const tooBig = yield* Effect.flip(call({ contractAddress: "0x1", entrypoint: "0x" + "f".repeat(64), calldata: [] }))
      expect(tooBig.path).toBe("entrypoint")
      expect(yield* call({ contractAddress: "0x1", entrypoint: "0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e", calldata: [] }))
        .toMatchObject({ entrypoint: "0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e" })
    }))

  it.effect("a bad call names the field path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Schemas.decode(Schema.Array(Schemas.Call), "calls")([
          { contractAddress: "0x1", entrypoint: "transfer", calldata: ["0x1"] },
          { contractAddress: "0x1", entrypoint: "transfer", calldata: ["0x1", "oops"] }
        ])
      )
      expect(error.path).toBe("calls.1.calldata.1")
      expect(error.message).toContain("calls.1.calldata.1")
    }))

  it.effect("calldata defaults to empty and felts are normalised", () =>
    Effect.gen(function*() {
      const call = yield* Schemas.decode(Schemas.Call)({ contractAddress: "0xABC", entrypoint: "get_x" })
      expect(call).toEqual({ contractAddress: "0xabc", entrypoint: "get_x", calldata: [] })
    }))
})

describe("SessionConfig", () => {
  const decode = Schemas.decode(Schemas.SessionConfig, "sessionConfig")
  const good = { sessionPublicKey: "0x123", validUntil: 1_900_000_000, maxCalls: 5, allowedEntrypoints: ["transfer"] }

  it.effect("decodes the guide's shape, entrypoint names become selectors", () =>
    Effect.gen(function*() {
      const config = yield* decode(good)
      expect(config.allowedEntrypoints).toEqual(["0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e"])
      expect((yield* decode({ ...good, allowedEntrypoints: undefined })).allowedEntrypoints).toEqual([])
    }))

  it.effect("maxCalls is a u32 of at least 1; validUntil a non-negative integer", () =>
    Effect.gen(function*() {
      for (
        const [patch, path] of [
          [{ maxCalls: 0 }, "sessionConfig.maxCalls"],
          [{ maxCalls: 2 ** 32 }, "sessionConfig.maxCalls"],
          [{ maxCalls: 1.5 }, "sessionConfig.maxCalls"],
          [{ validUntil: -1 }, "sessionConfig.validUntil"],
          [{ sessionPublicKey: "zz" }, "sessionConfig.sessionPublicKey"],
          [{ allowedEntrypoints: ["ok", "1bad"] }, "sessionConfig.allowedEntrypoints.1"]
        ] as const
      ) {
        const error = yield* Effect.flip(decode({ ...good, ...patch }))
        expect(error._tag).toBe("InvalidInput")
        expect(error.path).toBe(path)
      }
    }))
})

describe("SessionData", () => {
  it("reads get_session_data in the contract's order and derives isActive and remainingCalls", () => {
    // The spec's example: valid_until 0x6a5c5b00, max 5, used 1 (which a widely used SDK misreads).
    const data = Schemas.sessionDataFromFelts(["0x6a5c5b00", "0x5", "0x1", "0x0"], 1_700_000_000)
    expect(data).toEqual({
      isActive: true,
      validUntil: 0x6a5c5b00,
      maxCalls: 5,
      callsUsed: 1,
      remainingCalls: 4,
      allowedEntrypointsLen: 0,
      // An empty allow-list is known from its length alone; a longer one is read with its own views.
      allowedEntrypoints: []
    })
    expect(Schemas.sessionDataFromFelts(["0x6a5c5b00", "0x5", "0x1", "0x2"], 1_700_000_000).allowedEntrypoints).toBeUndefined()
    expect(Schemas.sessionDataFromFelts(["0x6a5c5b00", "0x5", "0x1", "0x0"], 0x6a5c5b01).isActive).toBe(false)
    expect(Schemas.sessionDataFromFelts(["0x6a5c5b00", "0x5", "0x5", "0x0"], 0).isActive).toBe(false)
    expect(Schemas.sessionDataFromFelts(["0x0", "0x0", "0x0", "0x0"], 0).isActive).toBe(false)
  })

  it.prop("isActive holds exactly when registered, not expired and with calls left", [
    fc.integer({ min: 0, max: 100 }),
    fc.integer({ min: 0, max: 10 }),
    fc.integer({ min: 0, max: 10 }),
    fc.integer({ min: 0, max: 100 })
  ], ([validUntil, maxCalls, callsUsed, now]) => {
    const data = Schemas.sessionDataFromFelts([BigInt(validUntil), BigInt(maxCalls), BigInt(callsUsed), 0n], now)
    expect(data.isActive).toBe(validUntil !== 0 && now <= validUntil && callsUsed < maxCalls)
    expect(data.remainingCalls).toBe(Math.max(0, maxCalls - callsUsed))
  })
})
