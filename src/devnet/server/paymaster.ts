/**
 * The SNIP-29 endpoint of the served devnet (`paymaster_*`), over the `Paymaster` service. Params are decoded with
 * the shapes of `@starknet-io/starknet-types-09` (`snip-29/methods`); errors answer SNIP-29's codes with their exact
 * messages, error 156 carrying its `CONTRACT_EXECUTION_ERROR` in the shape asked for (nested frames by default).
 */
import { Effect, ParseResult, Schema } from "effect"
import { SNIP29_ERROR_NAMES } from "../../Constants.js"
import { OutsideExecutionTypedData } from "../../OutsideExecution.js"
import { Paymaster } from "../../Paymaster.js"
import { Address, Felt } from "../../Schemas.js"
import { avnuMessageData, executionErrorData, type ExecutionErrorShape } from "./executionError.js"
import { method, type Methods, Transient, WireError } from "./jsonrpc.js"


/** A time bound: a u64 as a number or a felt, kept to what a JS number holds exactly. */
const Seconds = Schema.transformOrFail(Felt, Schema.Number, {
  strict: true,
  decode: (f, _, ast) => {
    const v = BigInt(f)
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? ParseResult.succeed(Number(v)) : ParseResult.fail(new ParseResult.Type(ast, f, "a time bound above 2^53"))
  },
  encode: (n) => ParseResult.succeed(("0x" + n.toString(16)) as Felt)
})
const Parameters = Schema.Struct({
  version: Schema.optional(Schema.String),
  fee_mode: Schema.optional(Schema.Unknown),
  time_bounds: Schema.optional(Schema.Struct({ execute_after: Seconds, execute_before: Seconds }))
})
const SnipCall = Schema.Struct({ to: Address, selector: Felt, calldata: Schema.optionalWith(Schema.Array(Felt), { default: () => [] }) })
const BuildParams = Schema.Struct({
  transaction: Schema.Struct({
    type: Schema.Literal("invoke"),
    invoke: Schema.Struct({ user_address: Address, calls: Schema.Array(SnipCall) })
  }),
  parameters: Schema.optional(Parameters)
})
const ExecuteParams = Schema.Struct({
  transaction: Schema.Struct({
    type: Schema.Literal("invoke"),
    invoke: Schema.Struct({ user_address: Address, typed_data: OutsideExecutionTypedData, signature: Schema.Array(Felt) })
  }),
  parameters: Schema.optional(Parameters)
})

export const paymasterMethods = (options: { readonly executionErrorShape: ExecutionErrorShape; readonly relayer: bigint }) =>
  Effect.gen(function*() {
    const paymaster = yield* Paymaster
    const pmFail = (account: string) =>
    (e: { readonly code: number; readonly message: string; readonly revertReason?: string | undefined; readonly transient: boolean }): Effect.Effect<never, WireError | Transient> => {
      if (e.transient) return Effect.fail(new Transient(e.code))
      const name = SNIP29_ERROR_NAMES[e.code]
      const message = name !== undefined ? `An error occurred (${name})` : e.message
      if (e.code === 156 && e.revertReason === undefined && e.message.startsWith(`${message}: `)) {
        // Not a simulated revert but AVNU's message (`execution error Tx already sent`, `invalid time bounds`).
        const text = e.message.slice(message.length + 2)
        return Effect.fail(new WireError(156, message, options.executionErrorShape === "flat" ? text : avnuMessageData(text)))
      }
      if (e.code === 156) {
        const data = executionErrorData(options.executionErrorShape, e.revertReason ?? "", { relayer: options.relayer, account: BigInt(account) })
        return Effect.fail(new WireError(156, message, data))
      }
      return Effect.fail(new WireError(e.code, message, e.code === 163 ? e.message : undefined))
    }
    const methods: Methods = {
      paymaster_isAvailable: method([], Schema.Struct({}), () => paymaster.isAvailable.pipe(Effect.catchAll(pmFail("0x0")))),
      paymaster_buildTransaction: method(["transaction", "parameters"], BuildParams, ({ parameters, transaction }) =>
        Effect.gen(function*() {
          const invoke = transaction.invoke
          const bounds = parameters?.time_bounds
          const built = yield* paymaster.buildTransaction({
            userAddress: invoke.user_address,
            calls: invoke.calls.map((c) => ({ contractAddress: c.to, entrypoint: c.selector, calldata: c.calldata })),
            ...(bounds !== undefined ? { timeBounds: { executeAfter: bounds.execute_after, executeBefore: bounds.execute_before } } : {})
          }).pipe(Effect.catchAll(pmFail(invoke.user_address)))
          return {
            type: "invoke",
            typed_data: built.typedData,
            parameters: parameters ?? { version: "0x1", fee_mode: { mode: "sponsored" } },
            fee: {
              gas_token_price_in_strk: "0x0",
              estimated_fee_in_strk: "0x0",
              estimated_fee_in_gas_token: "0x0",
              suggested_max_fee_in_strk: "0x0",
              suggested_max_fee_in_gas_token: "0x0"
            }
          }
        }), { wrapped: true }),
      paymaster_executeTransaction: method(["transaction", "parameters"], ExecuteParams, ({ transaction }) =>
        Effect.gen(function*() {
          const { signature, typed_data, user_address } = transaction.invoke
          const result = yield* paymaster.executeTransaction({ userAddress: user_address, typedData: typed_data, signature })
            .pipe(Effect.catchAll(pmFail(user_address)))
          return { transaction_hash: result.transactionHash, tracking_id: result.transactionHash }
        }), { wrapped: true })
    }
    return methods
  })
