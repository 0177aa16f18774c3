/**
 * `Calls`: a Cairo u256 as `[low, high]` (two u128 felts, low first: Cairo's `Serde` of `u256`, as starknet.js's
 * `uint256.bnToUint256` gives it) and an ERC-20 `transfer` call; checked against starknet.js 10.8 and on the devnet.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { Calls, Crypto, Devnet, InvalidInput, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"
import * as PromiseClient from "starknet-session-keys/promise"
import { CallData, uint256 } from "starknet"

const USDC = STARKNET_CONTRACTS.USDC.contractAddress

describe("Calls.uint256", () => {
  it.effect("splits an amount into [low, high] as starknet.js does, from a bigint, a decimal or 0x string, a safe integer", () =>
    Effect.gen(function*() {
      for (const amount of [0n, 1n, 1_000n, 2n ** 128n - 1n, 2n ** 128n, 2n ** 200n + 12345n, 2n ** 256n - 1n]) {
        const oracle = uint256.bnToUint256(amount)
        const expected = [BigInt(oracle.low), BigInt(oracle.high)]
        for (const given of [amount, amount.toString(10), "0x" + amount.toString(16)]) {
          expect((yield* Calls.uint256(given)).map(BigInt)).toEqual(expected)
        }
      }
      expect(yield* Calls.uint256(1_000)).toEqual(["0x3e8", "0x0"])
    }))

  it.effect("refuses what is not a u256 with InvalidInput naming the field, never a TypeError", () =>
    Effect.gen(function*() {
      for (const bad of [-1n, 2n ** 256n, "1.5", "-3", "abc", "", 1.5, Number.MAX_SAFE_INTEGER + 2, Number.NaN, null, undefined, {}]) {
        const result = yield* Effect.either(Calls.uint256(bad as any))
        expect(Either.isLeft(result) && result.left).toBeInstanceOf(InvalidInput)
        expect(Either.isLeft(result) && result.left.path).toBe("amount")
      }
    }))

  it.effect("with decimals, a decimal amount in whole units: \"1.5\" of a 6-decimal token is 1_500_000 raw units", () =>
    Effect.gen(function*() {
      expect(yield* Calls.uint256("1.5", { decimals: 6 })).toEqual(["0x16e360", "0x0"])
      expect(yield* Calls.uint256("2", { decimals: 6 })).toEqual(["0x1e8480", "0x0"])
      expect(yield* Calls.uint256("0.000001", { decimals: 6 })).toEqual(["0x1", "0x0"])
      const tooFine = yield* Effect.flip(Calls.uint256("0.0000001", { decimals: 6 }))
      expect(tooFine.rule).toMatch(/more than 6 decimal places/)
    }))
})

describe("Calls.transfer", () => {
  it.effect("is the ERC-20 transfer call: calldata [to, low, high], as starknet.js compiles transfer(recipient, amount: u256)", () =>
    Effect.gen(function*() {
      const call = yield* Calls.transfer({ token: USDC, to: "0x7ec1", amount: 2n ** 130n + 5n })
      expect(call.contractAddress).toBe(USDC)
      expect(call.entrypoint).toBe("transfer")
      const oracle = CallData.compile({ recipient: "0x7ec1", amount: uint256.bnToUint256(2n ** 130n + 5n) })
      expect(call.calldata.map(BigInt)).toEqual(oracle.map(BigInt))
      const badTo = yield* Effect.flip(Calls.transfer({ token: USDC, to: "not an address", amount: 1n }))
      expect(badTo.path).toBe("to")
      const badToken = yield* Effect.flip(Calls.transfer({ token: "0x" + "f".repeat(64), to: "0x1", amount: 1n }))
      expect(badToken.path).toBe("token")
    }))

  it.live("moves the amount on the devnet through a session", () =>
    Effect.gen(function*() {
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: "1234", fund: { USDC: 5_000_000n } })
      const session = yield* Sessions.createSessionKey({ encryptKey: "1234", durationSeconds: 600 })
      yield* Sessions.registerAndWait({
        encryptKey: "1234",
        wallet,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1 }
      })
      const call = yield* Calls.transfer({ token: USDC, to: "0x7ec1", amount: "1.25", decimals: 6 })
      yield* Sessions.executeAndWait({ encryptKey: "1234", wallet, session, calls: [call] })
      expect(yield* devnet.balanceOf(USDC, "0x7ec1")).toBe(1_250_000n)
    }).pipe(Effect.provide(Layer.mergeAll(Devnet.layer({ blockTime: "20 millis" }), Crypto.layer, Sessions.layer))))

  it("the Promise entry's Calls.transferSync gives the same call, and throws InvalidInput (never a TypeError) for a bad amount", () => {
    expect(PromiseClient.Calls.transferSync({ token: USDC, to: "0x7ec1", amount: 1_000n }))
      .toEqual({ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x7ec1", "0x3e8", "0x0"] })
    expect(() => PromiseClient.Calls.transferSync({ token: USDC, to: "0x7ec1", amount: "ten" as any })).toThrow(PromiseClient.InvalidInput)
  })
})
