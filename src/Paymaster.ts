/**
 * A paymaster with SNIP-29 semantics: it builds the outside-execution typed data to sign, then sponsors and
 * submits the signed transaction. The devnet provides one layer of this tag; SNIP-29 JSON-RPC and Chipi's REST
 * API provide others.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { PaymasterError } from "./Errors.js"
import type { OutsideExecutionTypedData } from "./OutsideExecution.js"
import type { Address, Call, Felt, TxHash } from "./Schemas.js"

/**
 * The validity window asked for, in seconds since the Unix epoch (both bounds strict on chain).
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeBounds {
  readonly executeAfter: number
  readonly executeBefore: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BuildTransactionRequest {
  readonly userAddress: Address
  readonly calls: ReadonlyArray<Call>
  readonly timeBounds?: TimeBounds
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BuiltTransaction {
  readonly typedData: OutsideExecutionTypedData
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecuteTransactionRequest {
  readonly userAddress: Address
  readonly typedData: OutsideExecutionTypedData
  readonly signature: ReadonlyArray<Felt>
}

/**
 * A sponsoring paymaster.
 *
 * @since 0.1.0
 * @category tags
 */
export class Paymaster extends Context.Tag("starknet-sessions/Paymaster")<
  Paymaster,
  {
    readonly isAvailable: Effect.Effect<boolean, PaymasterError>
    readonly buildTransaction: (request: BuildTransactionRequest) => Effect.Effect<BuiltTransaction, PaymasterError>
    /**
     * Simulates, then submits. A transaction the account would refuse fails with `PaymasterError` carrying the
     * revert reason, and nothing is sent.
     */
    readonly executeTransaction: (
      request: ExecuteTransactionRequest
    ) => Effect.Effect<{ readonly transactionHash: TxHash }, PaymasterError>
  }
>() {}
