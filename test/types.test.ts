/**
 * Type-level checks, run by `tsc --noEmit` (part of `npm test`): what must and must not type-check at the API.
 */
import { Effect, Schedule } from "effect"
import { describe, expect, expectTypeOf, it } from "vitest"
import { Errors, Transactions } from "starknet-session-keys"

describe("types", () => {
  it("retry schedules are typed by the faults they see", () => {
    // An error-aware schedule fits the retries of reads, whose transient faults are RpcError.
    const onRateLimit = Schedule.recurWhile((e: Errors.RpcError) => e.code === 429)
    const wait = Transactions.wait("0x1", { retry: onRateLimit })
    const status = Transactions.getStatus("0x1", { retry: onRateLimit })
    expectTypeOf(wait).toMatchTypeOf<Effect.Effect<unknown, unknown, unknown>>()
    expectTypeOf(status).toMatchTypeOf<Effect.Effect<unknown, unknown, unknown>>()
    // retryTransient hands the schedule the effect's transient failures only.
    const read = Effect.fail(new Errors.RpcError({ method: "m", code: 503, message: "x", transient: true })) as Effect.Effect<
      number,
      Errors.RpcError | Errors.TransactionNotFound
    >
    expectTypeOf(Transactions.retryTransient(read, onRateLimit)).toEqualTypeOf<Effect.Effect<number, Errors.RpcError | Errors.TransactionNotFound>>()
    // A schedule that expects other failures does not.
    const onHttpStatus = Schedule.recurWhile((e: { readonly status: number }) => e.status === 429)
    // @ts-expect-error a schedule of other faults' fields does not fit a read's retries
    Transactions.wait("0x1", { retry: onHttpStatus })
    // @ts-expect-error nor retryTransient's
    Transactions.retryTransient(read, onHttpStatus)
    // The defaults take any fault.
    expectTypeOf(Transactions.defaultRetry).toMatchTypeOf<Schedule.Schedule<unknown, Errors.RpcError>>()
    expect(true).toBe(true)
  })
})
