import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Either, Layer, Ref } from "effect"
import { Devnet, Errors, Paymaster, Sessions, StarknetRpc, Transactions } from "starknet-session-keys"
import { atRealisticTime, PIN, RECIPIENT, registeredSession, TestLayer, transfer, USDC, withBlocks } from "./helpers/lifecycle.js"

/**
 * The verdicts the library gives must be the network's: reads on the state it executes on (`pre_confirmed`), and no
 * payment called a success when one of its calls moved nothing (the account catches a failing call inside a
 * SUCCEEDED transaction: reference source `src/account.cairo`, `_execute_calls`).
 */

const failing = {
  "an amount above the balance": transfer(20_000_000n),
  "a misspelt entrypoint": { contractAddress: USDC, entrypoint: "tranfser", calldata: [RECIPIENT, "0x1", "0x0"] },
  "a transfer's calldata without the amount's high half": { contractAddress: USDC, entrypoint: "transfer", calldata: [RECIPIENT, "0x1"] }
} as const

const callsUsed = (wallet: { readonly publicKey: string }, session: { readonly publicKey: string }) =>
  Effect.map(Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey }), (d) => d.callsUsed)

describe("reads at pre_confirmed: a SUCCEEDED status is seen by the reads after it", () => {
  it.effect("a registration answered PRE_CONFIRMED/SUCCEEDED reads as active, and an execute at once goes through", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
      // The clock does not move (TestClock) until the final wait: no block closes before it, whatever the machine's load.
      const hash = yield* Sessions.register({
        encryptKey: PIN,
        wallet,
        session,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 3, allowedEntrypoints: [] }
      })
      // No block has closed (the clock has not moved): the registration is only in the block being built.
      const status = yield* Transactions.getStatus(hash)
      expect(status).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data).toMatchObject({ isActive: true, maxCalls: 3, callsUsed: 0 })
      // The guide's flow: execute as soon as the status says SUCCEEDED.
      const paid = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(5n)] })
      const pre = yield* Transactions.wait(paid, { until: "pre_confirmed" })
      expect(pre.finalityStatus).toBe("PRE_CONFIRMED")
      expect(yield* callsUsed(wallet, session)).toBe(1)
      const final = yield* withBlocks(Sessions.wait(paid))
      expect(final.finalityStatus).toBe("ACCEPTED_ON_L2")
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(5n)
    }).pipe(Effect.provide(TestLayer({ blockTime: "6 seconds" }))))
})

describe("a call that would fail is refused before anything is signed", () => {
  for (const [name, call] of Object.entries(failing)) {
    it.effect(`${name}: CallWouldFail naming the call, nothing sent, no call of the session used`, () =>
      Effect.gen(function*() {
        yield* atRealisticTime
        const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 3 })
        const ledger = yield* Sessions.Ledger
        const error = yield* Effect.flip(
          Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n, "0x2222"), call] }, { idempotencyKey: "pay-1" })
        )
        expect(error).toBeInstanceOf(Errors.CallWouldFail)
        expect(error).toMatchObject({ _tag: "CallWouldFail", callIndex: 1, contractAddress: USDC, entrypoint: call.entrypoint })
        expect((error as Errors.CallWouldFail).reason.length).toBeGreaterThan(0)
        expect(yield* ledger.payment(wallet.publicKey, "pay-1")).toBeUndefined()
        yield* withBlocks(Effect.sleep("2 seconds"))
        expect(yield* callsUsed(wallet, session)).toBe(0)
        expect(yield* devnet.balanceOf(USDC, "0x2222")).toBe(0n)
      }).pipe(Effect.provide(TestLayer())))
  }
})

describe("the simulation and the paymaster's build go out together", () => {
  /**
   * A simulation that answers only once the paymaster has been asked to build (within 10 s of real time, else it
   * fails saying so), and a paymaster that counts what it is asked to send.
   */
  const together = Effect.gen(function*() {
    const building = yield* Deferred.make<void>()
    const executes = yield* Ref.make(0)
    const rpc = Layer.effect(
      StarknetRpc.StarknetRpc,
      Effect.map(StarknetRpc.StarknetRpc, (rpc) => ({
        ...rpc,
        simulateCalls: (req: Parameters<typeof rpc.simulateCalls>[0]) =>
          Deferred.await(building).pipe(
            Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the paymaster was not asked to build while the calls were simulated") }),
            Effect.orDie,
            Effect.withClock(Clock.make()),
            Effect.zipRight(rpc.simulateCalls(req))
          )
      }))
    )
    const paymaster = Layer.effect(
      Paymaster.Paymaster,
      Effect.map(Paymaster.Paymaster, (pm) => ({
        ...pm,
        buildTransaction: (req: Paymaster.BuildTransactionRequest) => Effect.zipRight(Deferred.succeed(building, undefined), pm.buildTransaction(req)),
        executeTransaction: (req: Parameters<typeof pm.executeTransaction>[0]) => Effect.zipRight(Ref.update(executes, (n) => n + 1), pm.executeTransaction(req))
      }))
    )
    return { layer: Layer.merge(rpc, paymaster), executes }
  })

  it.effect("an execute's calls are simulated while the paymaster builds its payload: one wait for both, then it is signed and sent", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 3 })
      const { layer, executes } = yield* together
      const hash = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(4n, "0x3333")] }).pipe(Effect.provide(layer))
      expect(hash).toMatch(/^0x/)
      expect(yield* Ref.get(executes)).toBe(1)
      yield* withBlocks(Sessions.wait(hash))
      expect(yield* devnet.balanceOf(USDC, "0x3333")).toBe(4n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a simulation that refuses while the build was asked: CallWouldFail, nothing signed, recorded or sent", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 3 })
      const { layer, executes } = yield* together
      const ledger = yield* Sessions.Ledger
      const error = yield* Effect.flip(
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [failing["a misspelt entrypoint"]] }, { idempotencyKey: "pay-3" }).pipe(Effect.provide(layer))
      )
      expect(error).toMatchObject({ _tag: "CallWouldFail", callIndex: 0 })
      expect(yield* ledger.payment(wallet.publicKey, "pay-3")).toBeUndefined()
      expect(yield* Ref.get(executes)).toBe(0)
      expect(yield* callsUsed(wallet, session)).toBe(0)
    }).pipe(Effect.provide(TestLayer())))
})

describe("a call that failed inside a SUCCEEDED transaction is a failure, not a payment", () => {
  for (const [name, call] of Object.entries(failing)) {
    it.effect(`${name}, sent without the simulation: CallFailed, booked executed without effect, not sent again`, () =>
      Effect.gen(function*() {
        yield* atRealisticTime
        const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 3 })
        const pay = Sessions.executeAndWait(
          { encryptKey: PIN, wallet, session, calls: [transfer(1n, "0x2222"), call] },
          { idempotencyKey: "pay-2", skipSimulation: true }
        )
        const error = yield* Effect.flip(withBlocks(pay))
        expect(error).toBeInstanceOf(Errors.CallFailed)
        expect(error).toMatchObject({ _tag: "CallFailed", callIndex: 1, contractAddress: USDC, entrypoint: call.entrypoint, callUsed: true })
        // The chain: the transaction succeeded, the session's call is used, the first call moved, the second did not.
        const txHash = (error as Errors.CallFailed).txHash
        const receipt = yield* Effect.flatMap(StarknetRpc.StarknetRpc, (rpc) => rpc.getTransactionReceipt(txHash as never))
        expect(receipt.executionStatus).toBe("SUCCEEDED")
        expect(yield* callsUsed(wallet, session)).toBe(1)
        expect(yield* devnet.balanceOf(USDC, "0x2222")).toBe(1n)
        // Under the same key nothing is sent again: the same typed failure.
        const again = yield* Effect.flip(withBlocks(pay))
        expect(again).toBeInstanceOf(Errors.CallFailed)
        expect(yield* callsUsed(wallet, session)).toBe(1)
        const ledger = yield* Sessions.Ledger
        expect(yield* ledger.payment(wallet.publicKey, "pay-2")).toMatchObject({ status: "executed", transactionHash: txHash })
        // Resolving the key says the same: not Executed.
        expect(yield* Effect.flip(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "pay-2" }))).toBeInstanceOf(Errors.CallFailed)
      }).pipe(Effect.provide(TestLayer())))
  }

  it.effect("a payment never waited on: resolve checks its calls too, and never answers Executed for one that moved nothing", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 3 })
      yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(20_000_000n)] }, { idempotencyKey: "unwatched", skipSimulation: true })
      const error = yield* Effect.flip(withBlocks(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "unwatched" })))
      expect(error).toMatchObject({ _tag: "CallFailed", callIndex: 0 })
      // The same key sends nothing again.
      const again = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(20_000_000n)] }, { idempotencyKey: "unwatched" }))
      expect(again).toBeInstanceOf(Errors.CallFailed)
      expect(yield* callsUsed(wallet, session)).toBe(1)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("on a node without traces, the receipt's events decide for transfers and approvals", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 3 })
      const noTraces = Effect.updateService(StarknetRpc.StarknetRpc, (rpc) => ({
        ...rpc,
        getTransactionTrace: (txHash: Parameters<typeof rpc.getTransactionTrace>[0]) =>
          Effect.fail(new Errors.RpcError({ method: "starknet_traceTransaction", code: -32601, message: `Method not found (${txHash})`, transient: false }))
      }))
      const error = yield* Effect.flip(withBlocks(
        Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(20_000_000n)] }, { skipSimulation: true })
      ).pipe(noTraces))
      expect(error).toMatchObject({ _tag: "CallFailed", callIndex: 0, entrypoint: "transfer" })
      const ok = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(3n)] }, { skipSimulation: true })).pipe(noTraces)
      expect(ok.executionStatus).toBe("SUCCEEDED")
    }).pipe(Effect.provide(TestLayer())))
})

describe("two processes race for the last call, and the paymaster's simulation sees the winner", () => {
  it.effect("the loser is refused before it is sent: MaxCallsExceeded, one transfer", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      const before = (yield* devnet.transactions).length
      const inProcess = (ledger: Layer.Layer<Sessions.Ledger>) =>
        Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }).pipe(Effect.provide(ledger))
      const results = yield* withBlocks(
        Effect.all([Effect.either(inProcess(Sessions.layer)), Effect.either(inProcess(Sessions.layer))], { concurrency: 2 })
      )
      expect(results.filter(Either.isRight)).toHaveLength(1)
      const failures = results.filter(Either.isLeft).map((e) => e.left)
      expect(failures).toHaveLength(1)
      expect(failures[0]).toBeInstanceOf(Errors.MaxCallsExceeded)
      expect((yield* devnet.transactions).length - before).toBe(1)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1n)
    }).pipe(Effect.provide(TestLayer())))
})
