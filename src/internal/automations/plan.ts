/**
 * The plan of a time-boxed automation, computed once when it starts: when each step is due, what it calls, and the
 * session limits that cover exactly that (validity, call count, allow-list); and the plan as its workflow carries it
 * (`Payload`), signed registration and revoke included.
 */
import { Cron, Duration, Either, Schema } from "effect"
import { InvalidInput } from "../../Errors.js"
import { callSelector, type Call, type Felt } from "../../Schemas.js"
import { Presigned } from "../payments/presign.js"

/** Every `every`, `times` times (the first step at once), or at the next `times` instants of a cron expression. */
export type Schedule =
  | { readonly every: Duration.DurationInput; readonly times: number }
  | { readonly cron: string; readonly times: number; readonly timeZone?: string }

/** At most this many steps: the whole plan travels in the durable workflow's payload. */
export const MAX_STEPS = 10_000

const invalid = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }] })

/** The instants (epoch milliseconds) at which the steps are due. */
export const dueTimes = (schedule: Schedule, startMillis: number): Either.Either<ReadonlyArray<number>, InvalidInput> => {
  const times = schedule.times
  if (!Number.isInteger(times) || times < 1 || times > MAX_STEPS) {
    return Either.left(invalid("schedule.times", `times must be an integer from 1 to ${MAX_STEPS}`))
  }
  if ("cron" in schedule) {
    const parsed = Cron.parse(schedule.cron, schedule.timeZone)
    if (Either.isLeft(parsed)) return Either.left(invalid("schedule.cron", `not a cron expression: ${parsed.left.message}`))
    const out: Array<number> = []
    let from = new Date(startMillis)
    for (let i = 0; i < times; i++) {
      const next = Cron.next(parsed.right, from)
      out.push(next.getTime())
      from = next
    }
    return Either.right(out)
  }
  const every = Duration.decodeUnknown(schedule.every)
  if (every._tag === "None" || !Duration.isFinite(every.value) || Duration.toMillis(every.value) <= 0) {
    return Either.left(invalid("schedule.every", "every must be a positive, finite duration"))
  }
  const step = Duration.toMillis(every.value)
  return Either.right(Array.from({ length: times }, (_, k) => startMillis + k * step))
}

/** The allow-list that lets exactly these calls through: each selector once, in first-use order. */
export const allowList = (steps: ReadonlyArray<ReadonlyArray<Call>>): ReadonlyArray<Felt> => {
  const seen = new Map<string, Felt>()
  for (const calls of steps) {
    for (const call of calls) {
      const selector = callSelector(call)
      const key = BigInt(selector).toString(16)
      if (!seen.has(key)) seen.set(key, selector)
    }
  }
  return [...seen.values()]
}

/** A registration not on chain within this is never going to be. */
export const REGISTER_WINDOW_SECONDS = 10 * 60

/** How far the paymaster's clock may differ from the chain's, as for any sponsored submission. */
export const CLOCK_TOLERANCE_SECONDS = 60

const CallEncoded = Schema.Struct({
  contractAddress: Schema.String,
  entrypoint: Schema.String,
  calldata: Schema.Array(Schema.String)
})

/** The plan as the workflow carries it: made and signed by `start`, journaled by the engine. */
export const Payload = Schema.Struct({
  automationId: Schema.String,
  wallet: Schema.Struct({ publicKey: Schema.String, encryptedPrivateKey: Schema.String }),
  session: Schema.Struct({ publicKey: Schema.String, encryptedPrivateKey: Schema.String, validUntil: Schema.Number }),
  steps: Schema.Array(Schema.Struct({ dueAt: Schema.Number, calls: Schema.Array(CallEncoded) })),
  register: Presigned,
  revoke: Presigned,
  /** The spending policies the registration sets (amounts as decimal strings), read back once it is included. */
  policies: Schema.optional(Schema.Array(Schema.Struct({
    token: Schema.String,
    maxPerCall: Schema.String,
    maxPerWindow: Schema.String,
    windowSeconds: Schema.String
  })))
})
export type Payload = typeof Payload.Type
