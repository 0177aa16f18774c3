/**
 * The typed failures of the library. Each carries the facts a caller needs to act and a readable `message`;
 * none carries a secret.
 *
 * @since 0.1.0
 */
import { Duration, Schema } from "effect"

const short = (hex: string): string => (hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex)

/**
 * The chain reverted the transaction.
 *
 * @since 0.1.0
 * @category errors
 */
export class Reverted extends Schema.TaggedError<Reverted>()("Reverted", {
  txHash: Schema.String,
  revertReason: Schema.String
}) {
  override get message() {
    return `transaction ${this.txHash} reverted: ${this.revertReason}`
  }
}

/**
 * A transaction did not reach a final status in the time allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  txHash: Schema.String,
  waited: Schema.Duration
}) {
  override get message() {
    return `transaction ${this.txHash} not final after ${Duration.format(this.waited)}`
  }
}

/**
 * The session is past its `validUntil` at the current block time.
 *
 * @since 0.1.0
 * @category errors
 */
export class Expired extends Schema.TaggedError<Expired>()("Expired", {
  sessionPublicKey: Schema.String,
  validUntil: Schema.Number,
  now: Schema.Number
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} expired at ${this.validUntil} (now ${this.now})`
  }
}

/**
 * The session has used all of its calls.
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxCallsExceeded extends Schema.TaggedError<MaxCallsExceeded>()("MaxCallsExceeded", {
  sessionPublicKey: Schema.String,
  maxCalls: Schema.Number,
  callsUsed: Schema.Number
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} has used ${this.callsUsed} of its ${this.maxCalls} calls`
  }
}

/**
 * A call's selector is not in the session's allow-list.
 *
 * @since 0.1.0
 * @category errors
 */
export class EntrypointNotAllowed extends Schema.TaggedError<EntrypointNotAllowed>()("EntrypointNotAllowed", {
  selector: Schema.String,
  entrypoint: Schema.optional(Schema.String)
}) {
  override get message() {
    const name = this.entrypoint !== undefined ? `${this.entrypoint} (${short(this.selector)})` : this.selector
    return `entrypoint ${name} is not in the session's allow-list`
  }
}

/**
 * A call no session may make: an admin-blocklisted selector, or a call to the account itself while the
 * session has no allow-list.
 *
 * @since 0.1.0
 * @category errors
 */
export class ForbiddenCall extends Schema.TaggedError<ForbiddenCall>()("ForbiddenCall", {
  rule: Schema.Literal("blocklist", "self-call"),
  selector: Schema.String,
  entrypoint: Schema.optional(Schema.String),
  contractAddress: Schema.String
}) {
  override get message() {
    const name = this.entrypoint ?? this.selector
    return this.rule === "blocklist"
      ? `entrypoint ${name} is on the session blocklist and can never be called with a session key`
      : `a session without an allow-list may not call its own account (${name} on ${short(this.contractAddress)})`
  }
}

/**
 * The session key is unknown to the account, or revoked (the chain stores both as `valid_until = 0`).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotRegistered extends Schema.TaggedError<NotRegistered>()("NotRegistered", {
  sessionPublicKey: Schema.String,
  walletAddress: Schema.String
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} is not registered on ${short(this.walletAddress)} (never added, or revoked)`
  }
}

/**
 * The PIN does not decrypt the key (or decrypts it to a key that is not the expected one).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidPin extends Schema.TaggedError<InvalidPin>()("InvalidPin", {
  expectedPublicKey: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.expectedPublicKey !== undefined
      ? `the PIN does not decrypt the key of ${short(this.expectedPublicKey)}`
      : "the PIN does not decrypt the key"
  }
}

/**
 * One problem found in an input, with where it is.
 *
 * @since 0.1.0
 * @category errors
 */
export const InputIssue = Schema.Struct({
  path: Schema.String,
  rule: Schema.String
})

/**
 * Input that the library refused at its boundary. `path` names the field, `rule` what it broke.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  path: Schema.String,
  rule: Schema.String,
  issues: Schema.Array(InputIssue)
}) {
  override get message() {
    const more = this.issues.length > 1 ? ` (and ${this.issues.length - 1} more)` : ""
    return `invalid input at ${this.path === "" ? "(root)" : this.path}: ${this.rule}${more}`
  }
}

/**
 * Typed data from a paymaster that does not say what was asked: nothing was signed.
 *
 * @since 0.1.0
 * @category errors
 */
export class TypedDataMismatch extends Schema.TaggedError<TypedDataMismatch>()("TypedDataMismatch", {
  field: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message() {
    return `typed data from the paymaster differs at ${this.field}: expected ${this.expected}, got ${this.actual}; nothing was signed`
  }
}

/**
 * A Starknet JSON-RPC failure. `transient` faults (network, 429, 5xx) are worth retrying.
 *
 * @since 0.1.0
 * @category errors
 */
export class RpcError extends Schema.TaggedError<RpcError>()("RpcError", {
  method: Schema.String,
  code: Schema.Number,
  message: Schema.String,
  transient: Schema.Boolean
}) {}

/**
 * A paymaster refusal. `revertReason` is the account's reason when simulation failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class PaymasterError extends Schema.TaggedError<PaymasterError>()("PaymasterError", {
  code: Schema.Number,
  message: Schema.String,
  revertReason: Schema.optional(Schema.String),
  transient: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/**
 * The node does not know this transaction hash (yet, or at all).
 *
 * @since 0.1.0
 * @category errors
 */
export class TransactionNotFound extends Schema.TaggedError<TransactionNotFound>()("TransactionNotFound", {
  txHash: Schema.String
}) {
  override get message() {
    return `transaction ${this.txHash} not found`
  }
}

/**
 * The outcome of a sent payload is not known yet: an attempt may have reached the paymaster and no answer
 * settled it before the retry budget ended. Nothing was sent twice, and nothing more will be sent for it unless
 * asked with the same `idempotencyKey` (which re-sends the same payload, never a new one). The chain decides:
 * `Sessions.resolve({ wallet, idempotencyKey })` waits until it is `Executed` (its nonce is used) or `NotExecuted`
 * (its window closed at `executeBefore` with its nonce unused).
 *
 * @since 0.2.0
 * @category errors
 */
export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()("OutcomeUnknown", {
  wallet: Schema.String,
  nonce: Schema.String,
  executeBefore: Schema.Number,
  idempotencyKey: Schema.String
}) {
  override get message() {
    return `the outcome of payload ${short(this.nonce)} for ${short(this.wallet)} (idempotency key ${this.idempotencyKey}) ` +
      `is not known yet: it was not sent twice; it executes at most once, and not at all once ${this.executeBefore} passes unexecuted; ` +
      `resolve it with Sessions.resolve`
  }
}

/**
 * Registering this session key again now could revive payloads it signed that did not execute (refused,
 * reverted or unresolved) while their windows are still open: anyone holding one could then replay it. Safe at
 * `safeAt` (seconds, block time), when the last of them closes. To start a session afresh, create a new key.
 *
 * @since 0.2.0
 * @category errors
 */
export class LivePayloads extends Schema.TaggedError<LivePayloads>()("LivePayloads", {
  wallet: Schema.String,
  sessionPublicKey: Schema.String,
  nonces: Schema.Array(Schema.String),
  safeAt: Schema.Number
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} has ${this.nonces.length} signed payload(s) that did not execute and stay valid until ${this.safeAt}; ` +
      `registering it again before then could let them be replayed (create a new session key instead, or wait)`
  }
}

/**
 * The ledger (the store of payments and reservations) failed; nothing was sent on its account.
 *
 * @since 0.2.0
 * @category errors
 */
export class LedgerError extends Schema.TaggedError<LedgerError>()("LedgerError", {
  operation: Schema.String,
  message: Schema.String
}) {}

/**
 * Every typed session failure the chain's rules can produce.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionRefusal = Expired | MaxCallsExceeded | EntrypointNotAllowed | ForbiddenCall | NotRegistered
