/**
 * The engine's settings as the workflow and the service read them: the server key, how often a pending
 * transaction is looked at and how many looks fit in the inclusion timeout, the retry of transient faults.
 */
import { Context, Duration, Layer, type Redacted, type Schedule } from "effect"
import type { Options } from "../../Automations.js"
import * as Transactions from "../../Transactions.js"

export class EngineOptions extends Context.Tag("starknet-session-keys/Automations/EngineOptions")<
  EngineOptions,
  { readonly serverKey: Redacted.Redacted<string>; readonly pollMillis: number; readonly polls: number; readonly retry: Schedule.Schedule<unknown, unknown> }
>() {}

export const engineOptions = (options: Options) =>
  Layer.succeed(EngineOptions, {
    serverKey: options.serverKey,
    pollMillis: Math.max(1, Duration.toMillis(Duration.decode(options.pollInterval ?? "2 seconds"))),
    polls: Math.max(
      1,
      Math.ceil(
        Duration.toMillis(Duration.decode(options.inclusionTimeout ?? "10 minutes")) /
          Math.max(1, Duration.toMillis(Duration.decode(options.pollInterval ?? "2 seconds")))
      )
    ),
    retry: options.retry ?? Transactions.defaultRetry
  })
