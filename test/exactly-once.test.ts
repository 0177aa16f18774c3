/**
 * Money moves at most once: idempotency keys, outcomes resolved from the chain, the replay guard on
 * re-registration, reservations released on every exit, and windows chosen by the paymaster.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Either, Fiber, Layer, Schedule, TestClock } from "effect"
import { hash } from "starknet"
import { Devnet, Errors, Ledger, OutsideExecution, Paymaster, Sessions, StarknetRpc } from "starknet-session-keys"
import { atRealisticTime, PIN, RECIPIENT, registeredSession, TestLayer, transfer, untilDropped, USDC, withBlocks } from "./helpers/lifecycle.js"

const nonceUnused = (wallet: string, nonce: string) =>
  Effect.flatMap(StarknetRpc.StarknetRpc, (rpc) =>
    rpc.call({ contractAddress: wallet as never, entrypoint: "is_valid_outside_execution_nonce", calldata: [nonce as never] })).pipe(
      Effect.map(([v]) => BigInt(v!) === 1n)
    )

/**
 * Blocks as a chain shows them when the paymaster's relayer goes through AVNU's forwarder (avnu-labs/paymaster,
 * crates/paymaster-execution/src/execution/execute.rs, `build_sponsored_execute_call`): the relayer's one call is
 * `forwarder.execute_sponsored(call: Call, sponsor_metadata: Array<felt252>)`, with the user's
 * `execute_from_outside_v2` call as its argument.
 */
const FORWARDER = "0x127021a1b5a52d3174c2ab077c2b043c80369250d29428cee956d76ee51584f"
const viaForwarder = Layer.effect(
  StarknetRpc.StarknetRpc,
  Effect.map(StarknetRpc.StarknetRpc, (rpc) => ({
    ...rpc,
    getBlockWithTxs: (block: Parameters<typeof rpc.getBlockWithTxs>[0]) =>
      Effect.map(rpc.getBlockWithTxs(block), (b) => ({
        ...b,
        transactions: b.transactions.map((tx) => {
          const [, to, selector, len, ...rest] = tx.calldata
          const data = rest.slice(0, Number(BigInt(len!)))
          const inner = [to!, selector!, len!, ...data, "0x0"]
          return { ...tx, calldata: ["0x1", FORWARDER, hash.getSelectorFromName("execute_sponsored"), "0x" + inner.length.toString(16), ...inner] as ReadonlyArray<string> as typeof tx.calldata }
        })
      }))
  }))
)

describe("idempotency keys and unknown outcomes", () => {
  it.effect("lost answer, then 503s: OutcomeUnknown, not a transient error; the app's retries with the same key move the money once", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const before = (yield* devnet.transactions).length
      // The first attempt goes through and its answer is lost; the transaction stays pending a while.
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"], holdBlocks: 6 })
      const pay = Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(42n)] }, { idempotencyKey: "order-42" })
      const fiber = yield* Effect.fork(Effect.either(pay))
      yield* untilDropped(devnet)
      // Every retry then meets a 503.
      yield* devnet.setFaults({ failNext: 1000 })
      const first = yield* withBlocks(Fiber.join(fiber))
      expect(Either.isLeft(first)).toBe(true)
      const unknown = Either.isLeft(first) ? first.left : undefined
      expect(unknown).toBeInstanceOf(Errors.OutcomeUnknown)
      expect(unknown).toMatchObject({ wallet: wallet.publicKey, idempotencyKey: "order-42" })
      yield* devnet.setFaults({ failNext: 0 })
      // The app retries with the same key until it has an answer.
      let hash: string | undefined
      for (let i = 0; i < 20 && hash === undefined; i++) {
        const retried = yield* withBlocks(Effect.either(pay))
        if (Either.isRight(retried)) hash = retried.right
        else expect(retried.left._tag).toBe("OutcomeUnknown")
      }
      expect(hash).toBeDefined()
      // The hash may be answered while its transaction is pre-confirmed: the balance is read once its block closed.
      yield* withBlocks(Sessions.wait(hash!))
      const sent = (yield* devnet.transactions).slice(before)
      expect(sent.map((t) => t.hash)).toEqual([hash])
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
      // Asked again after it executed: the same hash, nothing sent.
      expect(yield* withBlocks(pay)).toBe(hash)
      expect(yield* Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "order-42" })).toEqual({ _tag: "Executed", transactionHash: hash })
      expect((yield* devnet.transactions).length - before).toBe(1)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(42n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a lost answer through a paymaster that relays via a forwarder (AVNU's execute_sponsored) resolves Executed with its hash", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
      // The execute finds its own transaction once the answer is lost: the nonce is used, and the scan of the blocks
      // recognises the payload inside the forwarder's call.
      const first = yield* withBlocks(Effect.either(
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(5n)] }, { idempotencyKey: "fwd-5" })
      ))
      const sent = yield* devnet.transactions
      const hash = sent[sent.length - 1]!.hash
      expect(first).toEqual(Either.right(hash))
      const outcome = yield* withBlocks(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "fwd-5" }))
      expect(outcome).toEqual({ _tag: "Executed", transactionHash: hash })
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(5n)
    }).pipe(Effect.provide(viaForwarder), Effect.provide(TestLayer())))

  it.effect("a revert after a lost answer resolves NotExecuted, never success; nothing moved", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"], holdBlocks: 3 })
      const pay = (key: string) =>
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(9n)] }, { idempotencyKey: key })
      const fiber = yield* Effect.fork(Effect.either(pay("order-9")))
      yield* untilDropped(devnet)
      // A revoke lands first: the held outside execution reverts at inclusion.
      yield* devnet.setFaults({ holdBlocks: 0 })
      yield* Sessions.revoke({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey })
      const first = yield* withBlocks(Fiber.join(fiber))
      expect(Either.isLeft(first) && first.left._tag).toBe("OutcomeUnknown")
      const outcome = yield* withBlocks(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "order-9" }))
      expect(outcome._tag).toBe("NotExecuted")
      const reverted = (yield* devnet.transactions).filter((t) => t.status.executionStatus === "REVERTED")
      expect(reverted).toHaveLength(1)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(0n)
      expect(yield* nonceUnused(wallet.publicKey, (first as Either.Left<Errors.OutcomeUnknown, never>).left.nonce)).toBe(true)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a dead payload (window closed, nonce unused) is replaced: the same key builds and sends a new one, once", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      // The relayer accepts it but it is held past its window: it reverts, nonce unused.
      yield* devnet.setFaults({ holdBlocks: 5 })
      const params = { encryptKey: PIN, wallet, session, calls: [transfer(3n)] }
      // 5 s from the latest closed block's timestamp (when it opened, a block time or more behind the clock).
      const firstHash = yield* Sessions.execute(params, { idempotencyKey: "order-3", validity: "5 seconds" })
      yield* devnet.clearFaults
      yield* withBlocks(Effect.either(Sessions.wait(firstHash)))
      expect(yield* withBlocks(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "order-3" }))).toMatchObject({ _tag: "NotExecuted" })
      const secondHash = yield* Sessions.execute(params, { idempotencyKey: "order-3" })
      expect(secondHash).not.toBe(firstHash)
      yield* withBlocks(Sessions.wait(secondHash))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(3n)
      // And once executed, the key answers that hash again without sending.
      const count = (yield* devnet.transactions).length
      expect(yield* Sessions.execute(params, { idempotencyKey: "order-3" })).toBe(secondHash)
      expect((yield* devnet.transactions).length).toBe(count)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a key names one payment: other calls under it are refused, nothing sent", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }, { idempotencyKey: "k" }))
      const count = (yield* devnet.transactions).length
      const other = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }, { idempotencyKey: "k" }))
      expect(other).toMatchObject({ _tag: "InvalidInput", path: "idempotencyKey" })
      expect((yield* devnet.transactions).length).toBe(count)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("concurrent executes with one key send one payload", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const before = (yield* devnet.transactions).length
      const pay = Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(5n)] }, { idempotencyKey: "same" })
      const hashes = yield* withBlocks(Effect.all([pay, pay, pay], { concurrency: "unbounded" }))
      expect(new Set(hashes).size).toBe(1)
      yield* withBlocks(Sessions.wait(hashes[0]!))
      expect((yield* devnet.transactions).length - before).toBe(1)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(5n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("resolve of a key never recorded is InvalidInput", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet } = yield* registeredSession()
      const error = yield* Effect.flip(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: "never" }))
      expect(error).toMatchObject({ _tag: "InvalidInput", path: "idempotencyKey" })
    }).pipe(Effect.provide(TestLayer())))
})

describe("the replay guard on re-registration", () => {
  it.effect("re-registering a key whose payload the chain refused (a race for the last call) is refused until its window closes", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      // Two processes race for the last call; both pass their checks (made together: a check after the other's
      // submission reads it pre-confirmed and refuses at once) and both are sent; one reverts.
      const a = yield* Layer.build(Sessions.layer)
      const b = yield* Layer.build(Sessions.layer)
      const send = Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] })
      // Each lands between the paymaster's estimate of the other and its send.
      yield* devnet.setFaults({ staleEstimateNext: 2 })
      const [first, second] = yield* Effect.all([send.pipe(Effect.provide(a)), send.pipe(Effect.provide(b))], { concurrency: 2 })
      const outcomes = yield* withBlocks(Effect.all([
        Effect.either(Sessions.wait(first).pipe(Effect.provide(a))),
        Effect.either(Sessions.wait(second).pipe(Effect.provide(b)))
      ]))
      const loser = Either.isLeft(outcomes[0]!) ? a : b
      expect(outcomes.filter(Either.isLeft)).toHaveLength(1)
      // The loser's process resets the session the way docs used to suggest: registering the key again.
      const config = { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1 }
      const reRegister = (options: Sessions.RegisterOptions = {}) =>
        Sessions.register({ encryptKey: PIN, wallet, session, sessionConfig: config }, options).pipe(Effect.provide(loser))
      const refused = yield* Effect.flip(reRegister())
      expect(refused).toBeInstanceOf(Errors.LivePayloads)
      const now = yield* devnet.blockTimestamp
      expect((refused as Errors.LivePayloads).safeAt).toBeGreaterThan(now)
      expect((refused as Errors.LivePayloads).safeAt).toBeLessThanOrEqual(now + 125)
      expect((refused as Errors.LivePayloads).nonces).toHaveLength(1)
      // Waiting it out: registered once the window has closed; the old payload can no longer execute.
      const hash = yield* withBlocks(reRegister({ waitForLivePayloads: true }))
      yield* withBlocks(Sessions.wait(hash).pipe(Effect.provide(loser)))
      expect(yield* devnet.blockTimestamp).toBeGreaterThanOrEqual((refused as Errors.LivePayloads).safeAt)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1n)
    }).pipe(Effect.scoped, Effect.provide(TestLayer())))

  it.scoped("an execute racing a re-registration of its key: its payload is sent once the registration is decided, never left refused for the registration to revive", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      const a = yield* Layer.build(Sessions.layer)
      const base = yield* Layer.build(Sessions.layer)
      const ledger = Context.get(base, Ledger.Ledger)
      const reached = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      // Process b's ledger holds its execute's record back until the gate opens.
      const b = Context.add(base, Ledger.Ledger, Ledger.Ledger.of({
        ...ledger,
        recordPayment: (payment, options) =>
          payment.purpose !== "execute"
            ? ledger.recordPayment(payment, options)
            : Deferred.succeed(reached, undefined).pipe(Effect.zipRight(Deferred.await(gate)), Effect.zipRight(ledger.recordPayment(payment, options)))
      }))
      // In process b, an execute passes its checks (one call left) and signs; its record waits at the gate.
      const racing = yield* Effect.fork(Effect.either(
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(5n)] }, { idempotencyKey: "racing" }).pipe(Effect.provide(b))
      ))
      yield* Deferred.await(reached)
      // Process a takes the last call.
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }).pipe(Effect.provide(a)))
      // Process b registers the key again (its guard finds nothing: the execute has not recorded yet); the
      // registration is sent and still pending when the execute records and sends its payload.
      const config = { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1 }
      yield* devnet.setFaults({ holdBlocks: 2 })
      const registration = yield* Sessions.register({ encryptKey: PIN, wallet, session, sessionConfig: config }).pipe(Effect.provide(b))
      yield* Deferred.succeed(gate, undefined)
      const outcome = yield* withBlocks(Fiber.join(racing))
      yield* devnet.setFaults({ holdBlocks: 0 })
      yield* withBlocks(Sessions.wait(registration).pipe(Effect.provide(b)))
      // Anyone holding the execute's payload submits it again once the registration has landed.
      const payment = yield* ledger.payment(wallet.publicKey, "racing")
      if (payment !== undefined) {
        const { outsideExecution } = OutsideExecution.fromTypedData(payment.typedData)
        yield* devnet.submitOutside(wallet.publicKey, OutsideExecution.executeFromOutsideCalldata(outsideExecution, payment.signature))
        yield* devnet.mineBlock
      }
      // What the execute answered is what happened: it waited for the registration, then its payload executed, once.
      // (Sent at once, it was refused for the exhausted session and the registration revived it: 5 moved after a
      // refusal.)
      const moved = (yield* devnet.balanceOf(USDC, RECIPIENT)) - 1n
      expect(Either.isRight(outcome) ? "executed" : `refused (${outcome.left._tag})`).toBe("executed")
      expect(moved).toBe(5n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a key whose payloads all executed re-registers at once", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 1 })
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      const config = { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 2 }
      yield* withBlocks(Sessions.registerAndWait({ encryptKey: PIN, wallet, session, sessionConfig: config }))
    }).pipe(Effect.provide(TestLayer())))
})

describe("reservations are released on every exit", () => {
  it.effect("an execute interrupted before its payload was recorded gives its call back", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 1 })
      // A paymaster that never answers a build: nothing is signed, recorded or sent. (Interrupted once its payload
      // was handed over, an execute keeps its call: test/reservations.test.ts.)
      const reached = yield* Deferred.make<void>()
      const stuck = Layer.effect(
        Paymaster.Paymaster,
        Effect.map(Paymaster.Paymaster, (pm) => ({ ...pm, buildTransaction: () => Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never) }))
      )
      const fiber = yield* Effect.fork(
        Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }).pipe(Effect.provide(stuck))
      )
      // Interrupted while its build is in flight (before anything was reserved, signed or recorded).
      yield* Deferred.await(reached)
      yield* Fiber.interrupt(fiber)
      const receipt = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a refused execute gives its call back", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      yield* devnet.setFaults({ alterTypedData: "window" })
      expect(yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))).toBeInstanceOf(
        Errors.TypedDataMismatch
      )
      yield* devnet.clearFaults
      const receipt = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
    }).pipe(Effect.provide(TestLayer())))
})

describe("defects become typed errors", () => {
  it.effect("validity Infinity, a non-duration, a million calldata felts: InvalidInput, nothing sent", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const count = (yield* devnet.transactions).length
      const params = { encryptKey: PIN, wallet, session, calls: [transfer(1n)] }
      const infinite = yield* Effect.flip(Sessions.execute(params, { validity: Infinity }))
      expect(infinite).toMatchObject({ _tag: "InvalidInput", path: "options.validity" })
      const banana = yield* Effect.flip(Sessions.execute(params, { validity: "banana" as never }))
      expect(banana).toMatchObject({ _tag: "InvalidInput", path: "options.validity" })
      const huge = { contractAddress: USDC, entrypoint: "transfer", calldata: Array.from({ length: 1_000_000 }, () => "0x1") }
      const big = yield* Effect.flip(Sessions.execute({ ...params, calls: [huge] }))
      expect(big).toMatchObject({ _tag: "InvalidInput", path: "calls" })
      expect((yield* devnet.transactions).length).toBe(count)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("execute, register, revoke, the spending-policy calls and resolve never throw while the Effect is built; bad arguments fail typed", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const built = [
        () => Sessions.execute(undefined as never),
        () => Sessions.execute({ encryptKey: PIN } as never),
        () => Sessions.register(undefined as never),
        () => Sessions.register({ encryptKey: PIN } as never),
        () => Sessions.revoke(undefined as never),
        () => Sessions.revoke({ encryptKey: PIN } as never),
        () => Sessions.setSpendingPolicy(undefined as never),
        () => Sessions.removeSpendingPolicy(undefined as never),
        () => Sessions.resolve(undefined as never)
      ]
      for (const build of built) {
        let effect: Effect.Effect<unknown, unknown, never> | undefined
        expect(() => {
          effect = build() as never
        }).not.toThrow()
        const error = yield* Effect.flip(effect!)
        expect(error).toMatchObject({ _tag: "InvalidInput" })
      }
    }).pipe(Effect.provide(TestLayer())))

  it.effect("an error-aware retry schedule type-checks and is fed the errors", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const seen: Array<number> = []
      const retry = Schedule.recurWhile((error: Sessions.Retried) => {
        seen.push(error.code)
        return error.transient
      }).pipe(Schedule.intersect(Schedule.recurs(5)))
      yield* devnet.setFaults({ failNext: 2, faultMethods: ["paymaster_buildTransaction"] })
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }, { retry }))
      expect(seen).toEqual([503, 503])
    }).pipe(Effect.provide(TestLayer())))
})

/** A paymaster that takes no bounds and sets the window from its own clock, `skew` ahead of ours. */
const skewedPaymaster = (skewSeconds: number, window: (pmNow: number) => { readonly executeAfter: number; readonly executeBefore: number }) =>
  Layer.effect(
    Paymaster.Paymaster,
    Effect.map(Paymaster.Paymaster, (pm) => ({
      ...pm,
      takesTimeBounds: false,
      buildTransaction: (req: Paymaster.BuildTransactionRequest) =>
        Effect.flatMap(Clock.currentTimeMillis, (ms) =>
          pm.buildTransaction({ userAddress: req.userAddress, calls: req.calls, timeBounds: window(Math.floor(ms / 1000) + skewSeconds) }))
    }))
  )

describe("windows the paymaster chooses", () => {
  // As the served Chipi routes do: from its own clock, open from a second ago for five minutes.
  const chipiLike = (pmNow: number) => ({ executeAfter: pmNow - 1, executeBefore: pmNow + 300 })
  for (const skew of [1, 30]) {
    it.effect(`a paymaster clock ${skew} s ahead: accepted, sent once the window opens, executed once`, () =>
      Effect.gen(function*() {
        yield* atRealisticTime
        const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
        const receipt = yield* withBlocks(
          Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(7n)] }).pipe(Effect.provide(skewedPaymaster(skew, chipiLike)))
        )
        expect(receipt.executionStatus).toBe("SUCCEEDED")
        expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(7n)
      }).pipe(Effect.provide(TestLayer())))
  }

  const refused: ReadonlyArray<readonly [string, (pmNow: number) => { readonly executeAfter: number; readonly executeBefore: number }, string]> = [
    ["already closed", (t) => ({ executeAfter: t - 100, executeBefore: t - 10 }), "Execute Before"],
    ["opening ten minutes ahead", (t) => ({ executeAfter: t + 600, executeBefore: t + 700 }), "Execute After"],
    ["open for a day", (t) => ({ executeAfter: t - 1, executeBefore: t + 86_400 }), "Execute Before"],
    ["open since long ago", (t) => ({ executeAfter: t - 86_400, executeBefore: t + 60 }), "window"]
  ]
  for (const [what, window, field] of refused) {
    it.effect(`a window ${what}: TypedDataMismatch, nothing signed`, () =>
      Effect.gen(function*() {
        yield* atRealisticTime
        const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
        const count = (yield* devnet.transactions).length
        const error = yield* Effect.flip(
          Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(7n)] }).pipe(Effect.provide(skewedPaymaster(0, window)))
        )
        expect(error).toBeInstanceOf(Errors.TypedDataMismatch)
        expect((error as Errors.TypedDataMismatch).field).toContain(field)
        expect((yield* devnet.transactions).length).toBe(count)
      }).pipe(Effect.provide(TestLayer())))
  }
})

describe("the Ledger service", () => {
  it.effect("recordPayment is record-if-absent, or in place of a named dead record", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const base = {
        wallet: "0x1" as never,
        idempotencyKey: "k",
        purpose: "execute" as const,
        sessionPublicKey: "0x2" as never,
        executeAfter: 1,
        executeBefore: 100,
        typedData: {} as never,
        signature: [],
        calls: [],
        firstBlock: 0,
        recordedAt: 0,
        status: "pending" as const
      }
      const a = { ...base, nonce: "0xa" as never }
      const b = { ...base, nonce: "0xb" as never }
      expect((yield* ledger.recordPayment(a)).nonce).toBe("0xa")
      expect((yield* ledger.recordPayment(b)).nonce).toBe("0xa")
      expect((yield* ledger.recordPayment(b, { replacing: "0xc" as never })).nonce).toBe("0xa")
      expect((yield* ledger.recordPayment(b, { replacing: "0xa" as never })).nonce).toBe("0xb")
      yield* ledger.updatePayment(base.wallet, "k", "0xa" as never, { status: "executed" })
      expect((yield* ledger.payment(base.wallet, "k"))?.status).toBe("pending")
      expect(yield* ledger.openPayments({ wallet: base.wallet, sessionPublicKey: base.sessionPublicKey })).toHaveLength(1)
    }).pipe(Effect.provide(Ledger.layer)))

  it.effect("a fence lapses at its end and is lifted only under its own key", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.makeMemory
      const s = { wallet: "0x88aa", sessionPublicKey: "0x88bb" } as unknown as Ledger.SessionRef
      yield* ledger.fence(s, { idempotencyKey: "register:1", until: 5_000 })
      expect(yield* ledger.fenceOf(s, 1_000)).toEqual({ idempotencyKey: "register:1", until: 5_000 })
      expect(yield* ledger.fenceOf(s, 5_000)).toBeUndefined()
      yield* ledger.fence(s, { idempotencyKey: "register:2", until: 9_000 })
      yield* ledger.clearFence(s, "register:1")
      expect((yield* ledger.fenceOf(s, 1_000))?.idempotencyKey).toBe("register:2")
      yield* ledger.clearFence(s, "register:2")
      expect(yield* ledger.fenceOf(s, 1_000)).toBeUndefined()
    }))

  it.effect("a released reservation is given back once; a reset forgets older reservations", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const s = { wallet: "0x1" as never, sessionPublicKey: "0x2" as never }
      const r1 = yield* ledger.reserve(s, { callsUsed: 0, maxCalls: 2 })
      const r2 = yield* ledger.reserve(s, { callsUsed: 0, maxCalls: 2 })
      expect([r1.ok, r2.ok]).toEqual([true, true])
      expect((yield* ledger.reserve(s, { callsUsed: 0, maxCalls: 2 })).ok).toBe(false)
      if (r1.ok) {
        yield* ledger.release(r1.reservation)
        yield* ledger.release(r1.reservation)
      }
      expect(yield* ledger.reserve(s, { callsUsed: 0, maxCalls: 2 })).toMatchObject({ ok: true, used: 1 })
      yield* ledger.resetSession(s)
      if (r2.ok) yield* ledger.release(r2.reservation)
      expect(yield* ledger.reserve(s, { callsUsed: 0, maxCalls: 1 })).toMatchObject({ ok: true, used: 0 })
    }).pipe(Effect.provide(Ledger.layer)))
})

describe("the Promise client", () => {
  it.live("executeTransactionWithSession with an idempotencyKey: a lost answer and the app's retries move the money once", () =>
    Effect.promise(async () => {
      const { createClient, OutcomeUnknown } = await import("starknet-session-keys/promise")
      const sdk = createClient({ devnet: { blockTime: "20 millis" } })
      try {
        const wallet = await sdk.devnet!.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
        const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
        await sdk.waitForTransaction(await sdk.sessions.addSessionKeyToContract({
          encryptKey: PIN,
          wallet,
          sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 5 }
        }))
        const handle = await sdk.devnet!.handle()
        await Effect.runPromise(handle.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] }))
        const pay = () =>
          sdk.executeTransactionWithSession({ params: { encryptKey: PIN, wallet, session, calls: [transfer(77n)], idempotencyKey: "invoice-77" } })
        let hash: string | undefined
        for (let i = 0; i < 10 && hash === undefined; i++) {
          hash = await pay().catch((e: unknown) => {
            expect(e).toBeInstanceOf(OutcomeUnknown)
            return undefined
          })
        }
        expect(hash).toBeDefined()
        await sdk.waitForTransaction(hash!)
        expect(await pay()).toBe(hash)
        expect(await Effect.runPromise(handle.balanceOf(USDC, RECIPIENT))).toBe(77n)
      } finally {
        await sdk.close()
      }
    }))
})

describe("the Promise client's resolveExecution", () => {
  it.live("settles an unknown outcome from the chain: Executed with the hash the same key then answers; a key never recorded is InvalidInput", () =>
    Effect.promise(async () => {
      const { createClient, InvalidInput, OutcomeUnknown } = await import("starknet-session-keys/promise")
      const sdk = createClient({ devnet: { blockTime: "20 millis" } })
      try {
        const wallet = await sdk.devnet!.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
        const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
        await sdk.waitForTransaction(await sdk.sessions.addSessionKeyToContract({
          encryptKey: PIN,
          wallet,
          sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 5 }
        }))
        const handle = await sdk.devnet!.handle()
        // The answer is lost and the transaction held out of the next blocks: the execute cannot know.
        await Effect.runPromise(handle.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"], holdBlocks: 300 }))
        const lost = await sdk.executeTransactionWithSession({
          params: { encryptKey: PIN, wallet, session, calls: [transfer(55n)], idempotencyKey: "invoice-55" }
        }).catch((e: unknown) => e)
        expect(lost).toBeInstanceOf(OutcomeUnknown)
        await Effect.runPromise(handle.setFaults({}))
        for (let i = 0; i < 300; i++) await Effect.runPromise(handle.mineBlock)
        const outcome = await sdk.resolveExecution({ walletAddress: wallet.publicKey, idempotencyKey: "invoice-55", timeoutMs: 20_000 })
        expect(outcome._tag).toBe("Executed")
        expect(await Effect.runPromise(handle.balanceOf(USDC, RECIPIENT))).toBe(55n)
        // The same key answers the same transaction and pays nothing more.
        const again = await sdk.executeTransactionWithSession({
          params: { encryptKey: PIN, wallet, session, calls: [transfer(55n)], idempotencyKey: "invoice-55" }
        })
        expect(outcome._tag === "Executed" && outcome.transactionHash).toBe(again)
        expect(await Effect.runPromise(handle.balanceOf(USDC, RECIPIENT))).toBe(55n)
        const unknownKey = await sdk.resolveExecution({ walletAddress: wallet.publicKey, idempotencyKey: "never-sent" }).catch((e: unknown) => e)
        expect(unknownKey).toBeInstanceOf(InvalidInput)
      } finally {
        await sdk.close()
      }
    }))
})

describe("the in-memory Ledger's bound", () => {
  it.effect("past 10,000 records it forgets settled ones only: a record not settled is kept, however old", () =>
    Effect.gen(function*() {
      // Long past the records' windows.
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const ledger = yield* Ledger.Ledger
      const record = (key: string, status: "pending" | "executed") => ({
        wallet: "0x1" as never,
        idempotencyKey: key,
        purpose: "execute" as const,
        sessionPublicKey: "0x2" as never,
        nonce: "0xa" as never,
        executeAfter: 1,
        executeBefore: 2,
        typedData: {} as never,
        signature: [],
        calls: [],
        firstBlock: 0,
        recordedAt: 0,
        status
      })
      yield* ledger.recordPayment(record("old-unsettled", "pending"))
      yield* ledger.recordPayment(record("old-settled", "executed"))
      for (let i = 0; i < 10_001; i++) yield* ledger.recordPayment(record(`k${i}`, "executed"))
      expect(yield* ledger.payment("0x1" as never, "old-unsettled")).toBeDefined()
      expect(yield* ledger.payment("0x1" as never, "old-settled")).toBeUndefined()
    }).pipe(Effect.provide(Ledger.layer)))
})
