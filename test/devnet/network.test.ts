/**
 * The devnet as the network behaves (shared spec, "The real network in 2026"): the paymaster simulates on the
 * pre-confirmed state, as AVNU's paymaster estimates at `pre_confirmed` (avnu-labs/paymaster, `paymaster-execution`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Devnet } from "starknet-session-keys"
import { call, layer, sessionKey, start, status, submit, transfer, USDC, wallet } from "../helpers/chain.js"

const BOB = "0xb0b"

describe("the paymaster simulates at pre_confirmed", () => {
  it.effect("an execute right after a registration that is only pre-confirmed goes through in the same block", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const session = sessionKey(0x5e55n)
      const now = BigInt(yield* devnet.blockTimestamp)
      const reg = yield* submit(w.address, [call(w.address, "add_or_update_session_key", [session.publicKey, now + 3600n, 5n, 0n])], w.owner)
      expect(reg.ok).toBe(true)
      // The guide's wait: until SUCCEEDED, which RPC 0.9 answers while the registration is in the block being built.
      expect(yield* status(reg.txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      const block = yield* devnet.blockNumber
      const exec = yield* submit(w.address, [transfer(BOB, 7n)], { key: session.key, session: { validUntil: now + 3600n } })
      expect(exec).toMatchObject({ ok: true })
      expect(yield* status(exec.txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      expect(yield* devnet.blockNumber).toBe(block)
      yield* TestClock.adjust("10 seconds")
      expect(yield* status(exec.txHash!)).toMatchObject({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(7n)
    }).pipe(Effect.provide(layer({ blockTime: "10 seconds" }))))
})
