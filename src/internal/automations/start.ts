/**
 * What `start` signs before the workflow runs: the definition checked, the plan computed (when each step is due,
 * what it calls, the session's limits), the session key created under the server key, and the registration (its
 * spending policies in the same outside execution) and the revoke signed by the owner: the workflow's payload.
 */
import { Clock, Duration, Effect, Redacted, Schema } from "effect"
import type { Definition, SpendingPolicy } from "../../Automations.js"
import { InvalidInput } from "../../Errors.js"
import { addOrUpdateSessionKeyCalldata, sessionKeyCalldata } from "../../OutsideExecution.js"
import { Call, decode, SessionConfig, WalletData } from "../../Schemas.js"
import * as Sessions from "../../Sessions.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { presign } from "../payments/presign.js"
import { allowList, CLOCK_TOLERANCE_SECONDS, dueTimes, type Payload, REGISTER_WINDOW_SECONDS } from "./plan.js"
import type { EngineOptions } from "./settings.js"

const DEFAULT_MARGIN = Duration.minutes(10)

/** A policy's refusal, at its place in the definition. */
const policyError = <E>(error: E, at: string): E => {
  if (!(error instanceof InvalidInput)) return error
  const path = error.path.replace(/^spendingPolicyConfig/, at)
  return new InvalidInput({ ...error, path, issues: error.issues.map((i) => ({ ...i, path: i.path.replace(/^spendingPolicyConfig/, at) })) }) as E
}

/** The calls of each of `count` steps, evaluated once and decoded: a call list that throws or is empty is refused. */
const stepCalls = (definition: Definition, count: number) =>
  Effect.gen(function*() {
    const steps: Array<ReadonlyArray<Call>> = []
    for (let k = 0; k < count; k++) {
      const raw = yield* Effect.try({
        try: () => definition.calls(k),
        catch: (error) => {
          const rule = `calls(${k}) threw: ${error instanceof Error ? error.message : String(error)}`
          return new InvalidInput({ path: `calls(${k})`, rule, issues: [{ path: `calls(${k})`, rule }] })
        }
      })
      steps.push(yield* decode(Schema.Array(Call).pipe(Schema.minItems(1)), `calls(${k})`)(raw))
    }
    return steps
  })

/** The calldata of the definition's spending policies for the session, their window starting by `windowStart`. */
const policiesOf = (definition: Definition, sessionPublicKey: string, windowStart: number) => {
  const policyInputs: ReadonlyArray<SpendingPolicy> = definition.spendingPolicy === undefined
    ? []
    : Array.isArray(definition.spendingPolicy)
    ? definition.spendingPolicy
    : [definition.spendingPolicy as SpendingPolicy]
  return Effect.forEach(policyInputs, (policy, i) =>
    Sessions.spendingPolicyCalldata(
      { ...policy, sessionPublicKey },
      Effect.succeed(windowStart)
    ).pipe(Effect.mapError((error) => policyError(error, policyInputs.length > 1 ? `spendingPolicy.${i}` : "spendingPolicy"))))
}

/** The workflow's payload for `definition`: its plan, its session key, its registration and its revoke signed. */
export const prepare = (definition: Definition, options: EngineOptions["Type"]) =>
  Effect.gen(function*() {
    const wallet = yield* decode(WalletData, "wallet")(definition.wallet)
    const pin = Redacted.isRedacted(definition.pin) ? definition.pin : Redacted.make(definition.pin)
    const nowMillis = yield* Clock.currentTimeMillis
    const due = yield* dueTimes(definition.schedule, nowMillis)
    const steps = yield* stepCalls(definition, due.length)
    const rpc = yield* StarknetRpc
    const block = yield* Transactions.retryTransient(rpc.latestBlock, options.retry)
    const margin = Duration.toSeconds(Duration.decode(definition.margin ?? DEFAULT_MARGIN))
    const spanSeconds = Math.ceil((due[due.length - 1]! - nowMillis) / 1000)
    const validUntil = block.timestamp + spanSeconds + Math.ceil(margin)
    const session = yield* Sessions.createSessionKey({ encryptKey: options.serverKey, durationSeconds: validUntil - Math.floor(nowMillis / 1000) })
    const config = yield* decode(SessionConfig, "sessionConfig")({
      sessionPublicKey: session.publicKey,
      validUntil,
      maxCalls: due.length,
      allowedEntrypoints: allowList(steps)
    })
    const registerBefore = block.timestamp + REGISTER_WINDOW_SECONDS
    // The policy's window starts when the registration is included: at the latest at its end.
    const policies = yield* policiesOf(definition, session.publicKey, registerBefore + CLOCK_TOLERANCE_SECONDS)
    const register = yield* presign(
      wallet,
      pin,
      [
        { contractAddress: wallet.publicKey, entrypoint: "add_or_update_session_key", calldata: addOrUpdateSessionKeyCalldata(config) },
        // The policies in the same owner-signed outside execution: the session is never registered unbounded.
        ...policies.map((p) => ({ contractAddress: wallet.publicKey, entrypoint: "set_spending_policy", calldata: p.calldata }))
      ],
      { now: block.timestamp, executeBefore: registerBefore },
      options.retry
    )
    const revoke = yield* presign(
      wallet,
      pin,
      [{ contractAddress: wallet.publicKey, entrypoint: "revoke_session_key", calldata: sessionKeyCalldata(config.sessionPublicKey) }],
      { now: block.timestamp, executeBefore: validUntil },
      options.retry
    )
    const payload: Payload = {
      automationId: definition.automationId,
      wallet: { publicKey: wallet.publicKey, encryptedPrivateKey: wallet.encryptedPrivateKey },
      session: { publicKey: session.publicKey, encryptedPrivateKey: session.encryptedPrivateKey, validUntil },
      steps: steps.map((calls, k) => ({
        dueAt: due[k]!,
        calls: calls.map((c) => ({ contractAddress: c.contractAddress, entrypoint: c.entrypoint, calldata: [...c.calldata] }))
      })),
      register,
      revoke,
      ...(policies.length > 0
        ? {
          policies: policies.map((p) => ({
            token: p.token,
            maxPerCall: String(p.maxPerCall),
            maxPerWindow: String(p.maxPerWindow),
            windowSeconds: String(p.windowSeconds)
          }))
        }
        : {})
    }
    return payload
  })
