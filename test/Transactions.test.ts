import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Logger, LogLevel, Ref, Schedule, TestClock } from "effect"
import { Errors, Schemas, StarknetRpc, Transactions } from "starknet-session-keys"

const HASH = "0xabc"

/** A node that answers a scripted sequence of statuses, one per look, and counts the looks. */
const scripted = (script: ReadonlyArray<Schemas.TransactionStatus | "missing" | "flaky">, revertReason = "boom") =>
  Effect.gen(function*() {
    const looks = yield* Ref.make(0)
    const layer = Layer.succeed(StarknetRpc.StarknetRpc, {
      chainId: Effect.succeed("0x1" as Schemas.Felt),
      latestBlock: Effect.succeed({ blockNumber: 1, timestamp: 1 }),
      call: () => Effect.succeed([]),
      getNonce: () => Effect.succeed("0x0" as Schemas.Felt),
      getBlockWithTxs: () => Effect.die("not used"),
      simulateCalls: () => Effect.die("not used"),
      getTransactionTrace: () => Effect.die("not used"),
      getTransactionStatus: (txHash) =>
        Ref.getAndUpdate(looks, (n) => n + 1).pipe(Effect.flatMap((n): Effect.Effect<Schemas.TransactionStatus, Errors.RpcError | Errors.TransactionNotFound> => {
          const step = script[Math.min(n, script.length - 1)]!
          if (step === "missing") return Effect.fail(new Errors.TransactionNotFound({ txHash }))
          if (step === "flaky") {
            return Effect.fail(new Errors.RpcError({ method: "starknet_getTransactionStatus", code: 503, message: "unavailable", transient: true }))
          }
          return Effect.succeed(step)
        })),
      getTransactionReceipt: (txHash) =>
        Effect.succeed({
          transactionHash: txHash,
          finalityStatus: "ACCEPTED_ON_L2" as const,
          executionStatus: script.at(-1) !== "missing" && (script.at(-1) as Schemas.TransactionStatus).executionStatus === "REVERTED"
            ? "REVERTED" as const
            : "SUCCEEDED" as const,
          revertReason,
          events: [],
          blockNumber: 7
        })
    })
    return { looks, layer }
  })

const received: Schemas.TransactionStatus = { finalityStatus: "RECEIVED" }
const succeeded: Schemas.TransactionStatus = { finalityStatus: "ACCEPTED_ON_L2", executionStatus: "SUCCEEDED" }
const reverted: Schemas.TransactionStatus = { finalityStatus: "ACCEPTED_ON_L2", executionStatus: "REVERTED", revertReason: "boom" }

describe("Transactions.wait", () => {
  it.effect("polls until final and returns the receipt; a fresh hash may be missing at first", () =>
    Effect.gen(function*() {
      const { layer, looks } = yield* scripted(["missing", "missing", received, received, succeeded])
      const fiber = yield* Effect.fork(Transactions.wait(HASH, { schedule: Schedule.spaced("1 second") }).pipe(Effect.provide(layer)))
      yield* TestClock.adjust("10 seconds")
      const receipt = yield* Fiber.join(fiber)
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(receipt.blockNumber).toBe(7)
      expect(yield* Ref.get(looks)).toBe(5)
    }))

  it.effect("fails with Reverted carrying the reason", () =>
    Effect.gen(function*() {
      const { layer } = yield* scripted([received, reverted])
      const fiber = yield* Effect.fork(Effect.flip(Transactions.wait(HASH).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(Errors.Reverted)
      expect(error).toMatchObject({ txHash: "0xabc", revertReason: "boom" })
    }))

  it.effect("an older node's REJECTED (before RPC 0.9) still ends the wait with Reverted; PRE_CONFIRMED is not final", () =>
    Effect.gen(function*() {
      const preConfirmed: Schemas.TransactionStatus = { finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" }
      const rejected: Schemas.TransactionStatus = { finalityStatus: "REJECTED", revertReason: "Account validation failed" }
      const { layer, looks } = yield* scripted([received, preConfirmed, rejected])
      const fiber = yield* Effect.fork(Effect.flip(Transactions.wait(HASH, { schedule: Schedule.spaced("1 second") }).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(Errors.Reverted)
      expect(error).toMatchObject({ txHash: "0xabc", revertReason: "Account validation failed" })
      expect(yield* Ref.get(looks)).toBe(3)
    }))

  it.effect("fails with Timeout when the budget runs out while pending", () =>
    Effect.gen(function*() {
      const { layer } = yield* scripted([received])
      const fiber = yield* Effect.fork(Effect.flip(Transactions.wait(HASH, { timeout: "30 seconds" }).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("31 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(Errors.Timeout)
      expect(Duration.toMillis((error as Errors.Timeout).waited)).toBe(30_000)
      expect(error.message).toContain("30s")
    }))

  it.effect("fails with TransactionNotFound only once the schedule gives up without seeing the hash", () =>
    Effect.gen(function*() {
      const { layer, looks } = yield* scripted(["missing"])
      const fiber = yield* Effect.fork(
        Effect.flip(Transactions.wait(HASH, { schedule: Schedule.recurs(3).pipe(Schedule.addDelay(() => "1 second")) }).pipe(Effect.provide(layer)))
      )
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(Errors.TransactionNotFound)
      expect(yield* Ref.get(looks)).toBe(4)
    }))

  it.effect("with the default polling (which never ends), a hash never seen within the budget is TransactionNotFound", () =>
    Effect.gen(function*() {
      const { layer, looks } = yield* scripted(["missing"])
      const fiber = yield* Effect.fork(Effect.flip(Transactions.wait(HASH, { timeout: "1 minute" }).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("2 minutes")
      expect(yield* Fiber.join(fiber)).toBeInstanceOf(Errors.TransactionNotFound)
      expect(yield* Ref.get(looks)).toBeGreaterThan(5)
    }))

  it.effect("a hash that is seen but never final when the schedule ends is a Timeout, not not-found", () =>
    Effect.gen(function*() {
      const { layer } = yield* scripted([received])
      const fiber = yield* Effect.fork(Effect.flip(Transactions.wait(HASH, { schedule: Schedule.recurs(2) }).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBeInstanceOf(Errors.Timeout)
    }))

  it.effect("Timeout.waited is the time the wait took, not the budget", () =>
    Effect.gen(function*() {
      const { layer } = yield* scripted([received])
      const schedule = Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(3)))
      const fiber = yield* Effect.fork(Effect.flip(Transactions.wait(HASH, { schedule, timeout: "2 minutes" }).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(Errors.Timeout)
      // Four looks, three seconds apart in all: the schedule ended long before the two-minute budget.
      expect(Duration.toMillis((error as Errors.Timeout).waited)).toBe(3_000)
      expect(error.message).toContain("3s")
    }))

  it.effect("a schedule faster than the floor is slowed to minimumPollInterval: no flood of reads", () =>
    Effect.gen(function*() {
      const { layer, looks } = yield* scripted([received])
      const floor = Duration.toMillis(Transactions.minimumPollInterval)
      for (const schedule of [Schedule.recurs(10_000), Transactions.spaced(0)]) {
        yield* Ref.set(looks, 0)
        const fiber = yield* Effect.fork(Effect.flip(Transactions.wait(HASH, { schedule, timeout: "1 second" }).pipe(Effect.provide(layer))))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toBeInstanceOf(Errors.Timeout)
        // One look at once, then one per floor interval within the second.
        expect(yield* Ref.get(looks)).toBeLessThanOrEqual(1_000 / floor + 1)
        expect(yield* Ref.get(looks)).toBeGreaterThanOrEqual(1_000 / floor - 1)
      }
    }))

  it.effect("the retry schedule is typed by the faults it sees: an error-aware one decides what is retried", () =>
    Effect.gen(function*() {
      // Retries 503s only, and at most twice.
      const only503 = Schedule.recurWhile((e: Errors.RpcError) => e.code === 503).pipe(Schedule.intersect(Schedule.recurs(2)))
      const { layer, looks } = yield* scripted(["flaky", "flaky", succeeded])
      const receipt = yield* Transactions.wait(HASH, { retry: only503 }).pipe(Effect.provide(layer))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(yield* Ref.get(looks)).toBe(3)
      const status = yield* Transactions.getStatus(HASH, { retry: only503 }).pipe(Effect.provide(layer))
      expect(status.executionStatus).toBe("SUCCEEDED")
      const tooFlaky = yield* scripted(["flaky", "flaky", "flaky", succeeded])
      const error = yield* Effect.flip(Transactions.getStatus(HASH, { retry: only503 }).pipe(Effect.provide(tooFlaky.layer)))
      expect(error).toMatchObject({ _tag: "RpcError", code: 503 })
      expect(yield* Ref.get(tooFlaky.looks)).toBe(3)
    }))

  it.effect("polls and retries are logged at debug level, annotated with the hash and what was seen", () =>
    Effect.gen(function*() {
      const lines: Array<{ message: unknown; level: string; annotations: Record<string, unknown> }> = []
      const logger = Logger.make(({ annotations, logLevel, message }) => {
        lines.push({ message, level: logLevel.label, annotations: Object.fromEntries(annotations) })
      })
      const { layer } = yield* scripted(["flaky", "missing", received, succeeded])
      const fiber = yield* Effect.fork(
        Transactions.wait(HASH, { schedule: Schedule.spaced("1 second") }).pipe(
          Effect.provide(layer),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.Debug)
        )
      )
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      expect(lines.every((line) => line.level === "DEBUG" && line.annotations["txHash"] === HASH)).toBe(true)
      expect(lines.map((line) => [line.message, line.annotations["fault"] ?? line.annotations["finalityStatus"]])).toEqual([
        [["transient fault"], "RpcError"],
        [["transaction status"], "NOT_FOUND"],
        [["transaction status"], "RECEIVED"],
        [["transaction status"], "ACCEPTED_ON_L2"]
      ])
      expect(lines[0]!.annotations).toMatchObject({ code: 503, method: "starknet_getTransactionStatus" })
      // The fault's text (which may carry a node's URL and key) is not logged.
      expect(JSON.stringify(lines)).not.toContain("unavailable")
    }))

  it.effect("transient RPC faults are retried, not surfaced", () =>
    Effect.gen(function*() {
      const { layer } = yield* scripted(["flaky", "flaky", succeeded])
      const fiber = yield* Effect.fork(Transactions.wait(HASH).pipe(Effect.provide(layer)))
      yield* TestClock.adjust("10 seconds")
      expect((yield* Fiber.join(fiber)).executionStatus).toBe("SUCCEEDED")
    }))

  it.effect("a malformed hash is InvalidInput", () =>
    Effect.gen(function*() {
      const { layer } = yield* scripted([succeeded])
      const error = yield* Effect.flip(Transactions.wait("0xnope").pipe(Effect.provide(layer)))
      expect(error).toBeInstanceOf(Errors.InvalidInput)
      expect((error as Errors.InvalidInput).path).toBe("txHash")
    }))

  it.effect("polls are aligned on the clock: waits started apart look at the same instants", () =>
    Effect.gen(function*() {
      const nodeRecording = (instants: Array<number>) =>
        Layer.succeed(StarknetRpc.StarknetRpc, {
          chainId: Effect.succeed("0x1" as Schemas.Felt),
          latestBlock: Effect.succeed({ blockNumber: 1, timestamp: 1 }),
          call: () => Effect.succeed([]),
          getNonce: () => Effect.succeed("0x0" as Schemas.Felt),
          getBlockWithTxs: () => Effect.die("not used"),
          simulateCalls: () => Effect.die("not used"),
          getTransactionTrace: () => Effect.die("not used"),
          getTransactionStatus: (txHash) =>
            Effect.flatMap(TestClock.currentTimeMillis, (now) => {
              instants.push(now)
              return Effect.fail(new Errors.TransactionNotFound({ txHash }))
            }),
          getTransactionReceipt: (txHash) => Effect.fail(new Errors.TransactionNotFound({ txHash }))
        })
      const waitFor = (instants: Array<number>, schedule: Schedule.Schedule<unknown, unknown>) =>
        Effect.fork(Effect.either(
          Transactions.wait(HASH, { schedule: schedule.pipe(Schedule.intersect(Schedule.recurs(4))) }).pipe(Effect.provide(nodeRecording(instants)))
        ))
      const a: Array<number> = []
      const b: Array<number> = []
      const c: Array<number> = []
      const fibers = [yield* waitFor(a, Transactions.spaced("500 millis"))]
      yield* TestClock.adjust("130 millis")
      fibers.push(yield* waitFor(b, Transactions.spaced("500 millis")))
      yield* TestClock.adjust("190 millis")
      fibers.push(yield* waitFor(c, Transactions.defaultPolling))
      yield* TestClock.adjust("30 seconds")
      for (const fiber of fibers) yield* Fiber.join(fiber)
      // Each looks once at its start, then on the grid, never sooner than its schedule asks: the spaced ones on the
      // same multiples of 500 ms, the default one (0.5 s growing x1.5) on multiples of 250 ms.
      expect(a).toEqual([0, 500, 1000, 1500, 2000])
      expect(b).toEqual([130, 1000, 1500, 2000, 2500])
      expect(c).toEqual([320, 1000, 1750, 3000, 4750])
    }))
})
