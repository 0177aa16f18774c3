/**
 * A session's reserved calls follow what the chain can still run: kept for every payload the ledger cannot call
 * dead (an interrupted execute included), given back once the chain says a payload can no longer run (its window
 * closed with its nonce unused, or its transaction reverted), without a `resolve`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Layer } from "effect"
import { Paymaster, Sessions } from "starknet-session-keys"
import * as keystore from "../src/internal/crypto/keystore.js"
import { ownerCall } from "./helpers/chain.js"
import { atRealisticTime, PIN, RECIPIENT, registeredSession, TestLayer, transfer, USDC, withBlocks } from "./helpers/lifecycle.js"

/** A paymaster that carries the submission out (or not), then never answers. */
const answerLost = (reached: Deferred.Deferred<void>, carriesOut: boolean) =>
  Layer.effect(
    Paymaster.Paymaster,
    Effect.map(Paymaster.Paymaster, (pm) => ({
      ...pm,
      executeTransaction: (request: Parameters<typeof pm.executeTransaction>[0]) =>
        Effect.zipRight(
          carriesOut ? Effect.asVoid(pm.executeTransaction(request)) : Effect.void,
          Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never)
        )
    }))
  )

describe("reservations follow what the chain can still run", () => {
  it.effect("an execute interrupted after the paymaster ran it keeps its call: the next one is refused, nothing reverts", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      const reached = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }).pipe(Effect.provide(answerLost(reached, true)))
      )
      yield* Deferred.await(reached)
      yield* Fiber.interrupt(fiber)
      const next = yield* withBlocks(Effect.either(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] })))
      expect(Either.isLeft(next) && next.left._tag).toBe("MaxCallsExceeded")
      // The interrupted payload executes; nothing we sent reverted.
      yield* withBlocks(Effect.sleep("10 seconds"))
      const statuses = (yield* devnet.transactions).map((t) => t.status.executionStatus)
      expect(statuses.filter((s) => s === "REVERTED")).toHaveLength(0)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("an interrupted execute's call stays reserved while its payload can run, and comes back once its window closes, without a resolve", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      const reached = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }, { validity: "20 seconds" }).pipe(
          Effect.provide(answerLost(reached, false))
        )
      )
      yield* Deferred.await(reached)
      yield* Fiber.interrupt(fiber)
      // The payload was handed over: as far as this process knows, the paymaster may still send it.
      const early = yield* Effect.either(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }))
      expect(Either.isLeft(early) && early.left._tag).toBe("MaxCallsExceeded")
      yield* withBlocks(Effect.sleep("30 seconds"))
      const receipt = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(2n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("an execute answered with a hash whose transaction reverts past its window, with nobody waiting: its call comes back", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      // Held past its 4-second window: it reverts at inclusion (`now >= execute_before`).
      yield* devnet.setFaults({ holdBlocks: 5, faultMethods: ["paymaster_executeTransaction"] })
      const hash = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }, { validity: "4 seconds" })
      yield* devnet.clearFaults
      yield* withBlocks(Effect.sleep("20 seconds"))
      const held = (yield* devnet.transactions).find((t) => t.hash === hash)
      expect(held?.status.executionStatus).toBe("REVERTED")
      const receipt = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(2n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a transaction reverted inside its window, with nobody waiting: its call comes back", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      const owner = { key: keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN) }
      yield* devnet.setFaults({ holdBlocks: 3, faultMethods: ["paymaster_executeTransaction"] })
      const hash = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }, { validity: "5 minutes" })
      yield* devnet.clearFaults
      // The owner revokes the key by its own transaction (this process does not learn it): the held one reverts
      // inside its window; then the owner registers the key again, its count afresh.
      yield* ownerCall(wallet.publicKey, owner, "revoke_session_key", [session.publicKey])
      yield* withBlocks(Effect.sleep("10 seconds"))
      expect((yield* devnet.transactions).find((t) => t.hash === hash)?.status.executionStatus).toBe("REVERTED")
      yield* ownerCall(wallet.publicKey, owner, "add_or_update_session_key", [session.publicKey, BigInt(session.validUntil), 1n, 0n])
      yield* withBlocks(Effect.sleep("10 seconds"))
      const receipt = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(2n)
    }).pipe(Effect.provide(TestLayer())))
})
