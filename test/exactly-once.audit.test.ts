/**
 * Money moves at most once, under faults that make the library's view of the chain stale: a refusal of a payload
 * that may already have executed is not "nothing moved", and a record is forgotten only once the chain decided it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, TestClock } from "effect"
import { Devnet, Errors, Ledger, Sessions, StarknetRpc } from "starknet-session-keys"
import { atRealisticTime, PIN, RECIPIENT, registeredSession, TestLayer, transfer, untilDropped, USDC, withBlocks } from "./helpers/lifecycle.js"

describe("a resent payload that may already have executed", () => {
  it.effect("refused by the paymaster (its window closed) while our reads lag: not a refusal, the chain decides; paid once", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const before = (yield* devnet.transactions).length
      // Our reads stop seeing new blocks; the first attempt goes through and its answer is lost.
      yield* devnet.setFaults({ readLagBlocks: 100, dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
      const pay = Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(42n)] }, { idempotencyKey: "order-lag", validity: "20 seconds" })
      const fiber = yield* Effect.fork(Effect.either(pay))
      yield* untilDropped(devnet)
      const first = yield* withBlocks(Fiber.join(fiber))
      expect(Either.isLeft(first) && first.left._tag).toBe("OutcomeUnknown")
      // The payload executed on chain; its window then closes by the chain's clock.
      yield* withBlocks(Effect.sleep("30 seconds"))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
      // The app retries with the same key. The paymaster refuses the copy (its window closed), our reads still lag:
      // that refusal does not say the payment did not happen.
      const retried = yield* withBlocks(Effect.either(pay))
      if (Either.isLeft(retried)) expect(retried.left._tag).toBe("OutcomeUnknown")
      // Once our reads catch up, the chain answers: executed, once.
      yield* devnet.setFaults({ readLagBlocks: 0 })
      const outcome = yield* withBlocks(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "order-lag" }))
      expect(outcome._tag).toBe("Executed")
      const sent = (yield* devnet.transactions).slice(before)
      expect(sent).toHaveLength(1)
      expect(outcome).toEqual({ _tag: "Executed", transactionHash: sent[0]!.hash })
      if (Either.isRight(retried)) expect(retried.right).toBe(sent[0]!.hash)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
    }).pipe(Effect.provide(TestLayer())))
})

/** A node that answers the nonce check from an old state while `stale.on` (load-balanced nodes disagree). */
const staleNonces = (stale: { on: boolean }) =>
  Layer.effect(
    StarknetRpc.StarknetRpc,
    Effect.map(StarknetRpc.StarknetRpc, (rpc) => ({
      ...rpc,
      call: (req: StarknetRpc.CallRequest) =>
        stale.on && req.entrypoint === "is_valid_outside_execution_nonce" ? Effect.succeed(["0x1" as never]) : rpc.call(req)
    }))
  )

describe("a resent payload that may already have executed, refused by our own checks", () => {
  it.effect("the copy sent before used the last call: MaxCallsExceeded from the preflight is not \"nothing moved\"; the chain decides", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      const before = (yield* devnet.transactions).length
      const stale = { on: true }
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
      const pay = Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(42n)] }, { idempotencyKey: "order-last" }).pipe(
        Effect.provide(staleNonces(stale))
      )
      const fiber = yield* Effect.fork(Effect.either(pay))
      yield* untilDropped(devnet)
      const first = yield* withBlocks(Fiber.join(fiber))
      expect(Either.isLeft(first) && first.left._tag).toBe("OutcomeUnknown")
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
      // The retry with the same key: the nonce still reads unused, the session data reads its one call used.
      const retried = yield* withBlocks(Effect.either(pay))
      expect(Either.isLeft(retried) ? retried.left._tag : "a hash").not.toBe("MaxCallsExceeded")
      stale.on = false
      const outcome = yield* withBlocks(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "order-last" }))
      const sent = (yield* devnet.transactions).slice(before)
      expect(sent).toHaveLength(1)
      expect(outcome).toEqual({ _tag: "Executed", transactionHash: sent[0]!.hash })
    }).pipe(Effect.provide(TestLayer())))
})

/** A node that does not know the first receipt asked for yet (it trails the node that served the block). */
const receiptLate = (misses: { left: number }) =>
  Layer.effect(
    StarknetRpc.StarknetRpc,
    Effect.map(StarknetRpc.StarknetRpc, (rpc) => ({
      ...rpc,
      getTransactionReceipt: (txHash: Parameters<typeof rpc.getTransactionReceipt>[0]) =>
        misses.left-- > 0 ? Effect.fail(new Errors.TransactionNotFound({ txHash })) : rpc.getTransactionReceipt(txHash)
    }))
  )

describe("the block scan", () => {
  it.effect("a receipt not yet known where the block is: the scan looks at that block again, and the lost answer settles Executed", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const before = (yield* devnet.transactions).length
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
      const misses = { left: 1 }
      const fiber = yield* Effect.fork(
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(42n)] }, { idempotencyKey: "order-scan" }).pipe(
          Effect.provide(receiptLate(misses)),
          Effect.either
        )
      )
      yield* untilDropped(devnet)
      const result = yield* withBlocks(Fiber.join(fiber))
      const sent = (yield* devnet.transactions).slice(before)
      expect(sent).toHaveLength(1)
      expect(result).toEqual(Either.right(sent[0]!.hash))
    }).pipe(Effect.provide(TestLayer())))
})

/** A durable store that fails to write state changes while `failing.on` (it recorded the payload before). */
const failingUpdates = (failing: { on: boolean }) =>
  Layer.effect(
    Ledger.Ledger,
    Effect.map(Ledger.makeMemory, (ledger) => ({
      ...ledger,
      updatePayment: (...args: Parameters<typeof ledger.updatePayment>) =>
        failing.on ? Effect.fail(new Errors.LedgerError({ operation: "updatePayment", message: "store unavailable" })) : ledger.updatePayment(...args)
    }))
  )

describe("a ledger fault after the payload was sent", () => {
  const failing = { on: false }
  it.effect("the paymaster answered its hash, the store failed to write it: the hash, not a LedgerError (which says nothing was sent)", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const before = (yield* devnet.transactions).length
      failing.on = true
      const result = yield* Effect.either(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(42n)] }, { idempotencyKey: "order-store" }))
      failing.on = false
      const sent = (yield* devnet.transactions).slice(before)
      expect(sent).toHaveLength(1)
      expect(result).toEqual(Either.right(sent[0]!.hash))
      // The record, still pending, settles from the chain.
      yield* withBlocks(Sessions.wait(sent[0]!.hash))
      expect(yield* withBlocks(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "order-store" }))).toEqual({
        _tag: "Executed",
        transactionHash: sent[0]!.hash
      })
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
    }).pipe(Effect.provide(Layer.merge(TestLayer(), failingUpdates(failing)))))
})

describe("the in-memory Ledger forgets only what the chain decided", () => {
  it.effect("past its bound, a record whose window closed by the wall clock but that the chain has not decided is kept", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const ledger = yield* Ledger.Ledger
      const nowSeconds = Math.floor(Date.UTC(2026, 0, 1) / 1000)
      const record = (key: string, nonce: string, status: Ledger.PaymentStatus, executeBefore: number): Ledger.Payment => ({
        wallet: "0x1" as never,
        idempotencyKey: key,
        purpose: "execute",
        sessionPublicKey: "0x2" as never,
        nonce: nonce as never,
        executeAfter: executeBefore - 120,
        executeBefore,
        typedData: {} as never,
        signature: [],
        calls: [],
        firstBlock: 0,
        recordedAt: 0,
        status
      })
      // An answer lost: its window closed a few seconds ago by the wall clock, but the latest block lags the wall
      // clock, so the chain may still include it. Forgetting it would let the same key build a second payment.
      yield* ledger.recordPayment(record("unknown", "0xabc", "pending", nowSeconds - 5))
      for (let i = 0; i < 10_050; i++) yield* ledger.recordPayment(record(`done-${i}`, `0x${(i + 1).toString(16)}`, "executed", nowSeconds + 60))
      expect((yield* ledger.payment("0x1" as never, "unknown"))?.nonce).toBe("0xabc")
      // Final records are what is forgotten, oldest first, down to the bound.
      expect(yield* ledger.payment("0x1" as never, "done-0")).toBeUndefined()
      expect(yield* ledger.payment("0x1" as never, "done-10049")).toBeDefined()
    }).pipe(Effect.provide(Ledger.layer)))
})

/** Load-balanced nodes: a read at `latest` reaches one that trails, a read pinned to a block reaches one that has it. */
const laggingLatest = Layer.effect(
  StarknetRpc.StarknetRpc,
  Effect.map(StarknetRpc.StarknetRpc, (rpc) => ({
    ...rpc,
    call: (req: StarknetRpc.CallRequest) =>
      req.entrypoint === "is_valid_outside_execution_nonce" && req.blockNumber === undefined
        ? Effect.succeed(["0x1" as never]) // the trailing node has not seen the nonce used
        : rpc.call(req)
  }))
)

describe("the nonce check and the block it is judged at", () => {
  it.effect("the nonce is read at the block that says the window closed: an executed payment is not called dead, and its key pays once", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const before = (yield* devnet.transactions).length
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"], holdBlocks: 3 })
      const pay = Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(42n)] }, { idempotencyKey: "order-pinned", validity: "20 seconds" })
      const fiber = yield* Effect.fork(Effect.either(pay.pipe(Effect.provide(laggingLatest))))
      yield* untilDropped(devnet)
      yield* withBlocks(Fiber.join(fiber))
      // The payload executed; then its window closed by the chain's clock.
      yield* withBlocks(Effect.sleep("30 seconds"))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
      // The app retries with the same key: the chain says executed, whatever the trailing node says at `latest`.
      const retried = yield* withBlocks(pay.pipe(Effect.provide(laggingLatest)))
      const sent = (yield* devnet.transactions).slice(before)
      expect(sent).toHaveLength(1)
      expect(retried).toBe(sent[0]!.hash)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
    }).pipe(Effect.provide(TestLayer())))
})

/** A relayer that sent a second copy of a pending payload: that copy's transaction reverts for the used nonce. */
const SECOND_COPY = "0x5ec0d" as never
const secondCopyReverted = Layer.effect(
  StarknetRpc.StarknetRpc,
  Effect.map(StarknetRpc.StarknetRpc, (rpc) => ({
    ...rpc,
    getTransactionStatus: (txHash: Parameters<typeof rpc.getTransactionStatus>[0]) =>
      BigInt(txHash) === BigInt(SECOND_COPY)
        ? Effect.succeed({ finalityStatus: "ACCEPTED_ON_L2" as const, executionStatus: "REVERTED" as const, revertReason: "SRC9: duplicated nonce" })
        : rpc.getTransactionStatus(txHash),
    getTransactionReceipt: (txHash: Parameters<typeof rpc.getTransactionReceipt>[0]) =>
      BigInt(txHash) === BigInt(SECOND_COPY)
        ? Effect.succeed({ transactionHash: SECOND_COPY, finalityStatus: "ACCEPTED_ON_L2" as const, executionStatus: "REVERTED" as const, revertReason: "SRC9: duplicated nonce", events: [] })
        : rpc.getTransactionReceipt(txHash)
  }))
)

describe("a second copy reverted for its nonce", () => {
  it.effect("waiting on the copy's hash answers the payment's own receipt: the first copy executed it, so it is not Reverted", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const first = yield* withBlocks(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(42n)] }, { idempotencyKey: "order-copy" }))
      yield* withBlocks(Sessions.wait(first))
      // The relayer answered the copy it sent for this record with another hash.
      const ledger = yield* Ledger.Ledger
      const record = (yield* ledger.payment(wallet.publicKey as never, "order-copy"))!
      yield* ledger.updatePayment(record.wallet, record.idempotencyKey, record.nonce, { status: "submitted", transactionHash: SECOND_COPY })
      const receipt = yield* withBlocks(Sessions.wait(SECOND_COPY).pipe(Effect.provide(secondCopyReverted)))
      expect(receipt.transactionHash).toBe(first)
      expect(receipt.executionStatus).toBe("SUCCEEDED")
    }).pipe(Effect.provide(TestLayer())))
})
