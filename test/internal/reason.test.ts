import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { BYTE_ARRAY_MAGIC, decodeByteArray, innermostText, reasonIn, revertReasonOf } from "../../src/internal/transport/reason.js"

const hex = (text: string) => "0x" + Buffer.from(text).toString("hex")
/** One panic item as the sequencer formats a short string: `0x… ('text')`. */
const short = (text: string) => `${hex(text)} ('${text}')`
const ENTRYPOINT_FAILED = short("ENTRYPOINT_FAILED")

/** A ByteArray's serialization (data_len, 31-byte words, pending_word, pending_word_len), as Cairo's Serde writes it. */
const byteArrayFelts = (text: string): Array<bigint> => {
  const bytes = Buffer.from(text)
  const words: Array<bigint> = []
  let i = 0
  for (; i + 31 <= bytes.length; i += 31) words.push(BigInt("0x" + bytes.subarray(i, i + 31).toString("hex")))
  const rest = bytes.subarray(i)
  return [BigInt(words.length), ...words, rest.length === 0 ? 0n : BigInt("0x" + rest.toString("hex")), BigInt(rest.length)]
}

const frame = (error: unknown) => ({
  contract_address: "0x3947b852fb5b1b16611de6ac4ae9ed517752781467672b313d2685b4bdca929",
  class_hash: "0xe2eb8f5672af4e6a4e8a8f1b44989685e668489b0a25437733756c5a34a1d6",
  selector: "0x15d40a3d6ca2ac30f4031e42be28da9b056fef9bb7357ac5e85627ee876e5ad",
  error
})

describe("reason extraction: published fixtures", () => {
  // Each row: where the shape was published, the error `data` (or text), the reason expected.
  const rows: ReadonlyArray<readonly [source: string, data: unknown, reason: string]> = [
    [
      "blockifier, syscall tests (test_library_call): format_panic_data of a failed library call",
      "(0x7820213d2079 ('x != y'), 0x454e545259504f494e545f4641494c4544 ('ENTRYPOINT_FAILED'))",
      "x != y"
    ],
    ["blockifier, same test under Cairo native: one item, no parentheses", "0x7820213d2079 ('x != y')", "x != y"],
    [
      "0xSpaceShard/starknet-devnet tests/integration/test_call.rs: error 40 with nested frames (panic in another contract)",
      frame(frame("Execution failed. Failure reason: 0x66756e6e795f74657874 ('funny_text').\n")),
      "funny_text"
    ],
    [
      "cartridge-gg/controller-rs outside-execution error tests (mainnet): error 41, execution_error a frame, argent multicall wrapper",
      {
        execution_error: frame(
          "(0x617267656e742f6d756c746963616c6c2d6661696c6564 ('argent/multicall-failed'), 0x1, 0x73657373696f6e2f616c72656164792d7265766f6b6564 ('session/already-revoked'), 0x454e545259504f494e545f4641494c4544 ('ENTRYPOINT_FAILED'), 0x454e545259504f494e545f4641494c4544 ('ENTRYPOINT_FAILED'))"
        )
      },
      "session/already-revoked"
    ],
    [
      "cartridge-gg/controller-rs outside-execution error tests (katana): error 41, execution_error the whole trace as a string",
      {
        execution_error:
          "Transaction reverted: Transaction execution has failed:\n0: Error in the called contract (contract address: 0x0585fa0cb392244c880c6a96e8c7d7a731e04022eccf61e9fd089d9972f1528a, class hash: 0x00e2eb8f5672af4e6a4e8a8f1b44989685e668489b0a25437733756c5a34a1d6, selector: 0x015d40a3d6ca2ac30f4031e42be28da9b056fef9bb7357ac5e85627ee876e5ad):\nExecution failed. Failure reason:\n(0x617267656e742f6d756c746963616c6c2d6661696c6564 ('argent/multicall-failed'), 0x1, 0x73657373696f6e2f616c72656164792d7265766f6b6564 ('session/already-revoked'), 0x454e545259504f494e545f4641494c4544 ('ENTRYPOINT_FAILED'), 0x454e545259504f494e545f4641494c4544 ('ENTRYPOINT_FAILED')).\n"
      },
      "session/already-revoked"
    ],
    [
      "eqlabs/pathfinder estimate_fee tests: error 41, nested `Error in contract` lines down to one item",
      {
        transaction_index: 2,
        execution_error:
          "Transaction execution has failed:\n0: Error in the called contract (contract address: 0x0000000000000000000000000000000000000000000000000000000000000c01, class hash: 0x019cabebe31b9fb6bf5e7ce9a971bd7d06e9999e0b97eee943869141a46fd978, selector: 0x015d40a3d6ca2ac30f4031e42be28da9b056fef9bb7357ac5e85627ee876e5ad):\nExecution failed. Failure reason:\nError in contract (contract address: 0x0000000000000000000000000000000000000000000000000000000000000c01, class hash: 0x019cabebe31b9fb6bf5e7ce9a971bd7d06e9999e0b97eee943869141a46fd978, selector: 0x015d40a3d6ca2ac30f4031e42be28da9b056fef9bb7357ac5e85627ee876e5ad):\nError in contract (contract address: 0x017c54b787c2eccfb057cf6aa2f941d612249549fff74140adc20bb949eab74b, class hash: 0x01a48fd3f75d0a7c2288ac23fb6aba26cd375607ba63e4a3b3ed47fc8e99dc21, selector: 0x02a1f595e2db7bf53e1a4bc9834eef6b86d3cd66ec9c8b3588c09253d0affc51):\n0x454e545259504f494e545f4e4f545f464f554e44 ('ENTRYPOINT_NOT_FOUND').\n"
      },
      "ENTRYPOINT_NOT_FOUND"
    ],
    [
      "@starknet-io/starknet-types-09 snip-29/errors TRANSACTION_EXECUTION_ERROR (data: CONTRACT_EXECUTION_ERROR_INNER) as avnu-labs/paymaster crates/paymaster-rpc/src/lib.rs sends it ({ execution_error })",
      { execution_error: frame(frame(`Execution failed. Failure reason:\n(${short("Session: unauthorized selector")}, ${ENTRYPOINT_FAILED}).\n`)) },
      "Session: unauthorized selector"
    ],
    [
      "avnu-labs/paymaster: an estimation failure relayed through its Display formats (\"execution error {0}\" of \"Execution error {0:?}\"), so the trace is escaped",
      {
        execution_error:
          `execution error Execution error Nested(InnerContractExecutionError { contract_address: 0x1, class_hash: 0x2, selector: 0x3, error: Message("Transaction execution has failed:\\n0: Error in the called contract (contract address: 0x1, class hash: 0x2, selector: 0x3):\\nExecution failed. Failure reason:\\n(${short("SRC9: duplicated nonce")}, ${ENTRYPOINT_FAILED}).\\n") })`
      },
      "SRC9: duplicated nonce"
    ],
    [
      "@starknet-io/starknet-types-09 api/errors CONTRACT_ERROR (40): data.revert_error is a CONTRACT_EXECUTION_ERROR",
      { revert_error: frame(`Execution failed. Failure reason: ${short("Session: valid_until exceeded")}.\n`) },
      "Session: valid_until exceeded"
    ],
    [
      "blockifier, stack-trace tests (Cairo 1 expected_trace): a hint error inside, the innermost frame last",
      "Error in the called contract (0x1):\nError at pc=0:4942:\nGot an exception while executing a hint.\nCairo traceback (most recent call last):\nUnknown location (pc=0:82)\n\nError in the called contract (0x2):\nError at pc=0:4942:\nGot an exception while executing a hint: Hint Error: Execution failed. Failure reason: 0x6661696c ('fail').\nCairo traceback (most recent call last):\nUnknown location (pc=0:82)\n\nError in the called contract (0x3):\nExecution failed. Failure reason: 0x6661696c ('fail').\n",
      "fail"
    ],
    [
      "madara-alliance/madara crates/primitives/receipt/src/revert_error.rs tests: a receipt's string frame",
      "Execution failed. Failure reason:\nError in contract (contract address: 0x06f373b346561036d98ea10fb3e60d2f459c872b1933b50b21fe6ef4fda3b75e, class hash: 0x05ffbcfeb50d200a0677c48a129a11245a3fc519d1d98d76882d1c9a1b19c6ed, selector: 0x0041b033f4a31df8067c24d1e9b550a2ce75fd4a29e1147af9752174f0e6cb20):\n0x753235365f737562204f766572666c6f77 ('u256_sub Overflow').\n",
      "u256_sub Overflow"
    ],
    [
      "CONTRACT_EXECUTION_ERROR_INNER's string form (a plain string in data)",
      "Session: unauthorized selector",
      "Session: unauthorized selector"
    ],
    [
      "blockifier's formatting of a ByteArray panic (cairo-lang-runner format_next_item / quote_if_string: the string in double quotes); the account's `panic!` (spec correction 6)",
      frame(`Execution failed. Failure reason:\n("Spending: invalid amount", ${ENTRYPOINT_FAILED}).\n`),
      "Spending: invalid amount"
    ]
  ]

  it.each(rows)("%s", (_source, data, reason) => {
    expect(revertReasonOf(data)).toBe(reason)
  })
})

describe("reason extraction: ByteArray panics", () => {
  it("decodes a ByteArray serialization (Cairo corelib Serde; BYTE_ARRAY_MAGIC first, as OpenZeppelin's panic_data_to_byte_array reads it)", () => {
    const long = "Spending: invalid amount, and a message longer than one 31-byte word"
    for (const text of ["Spending: invalid amount", long, "", "exactly thirty-one bytes long!!"]) {
      const felts = byteArrayFelts(text)
      expect(decodeByteArray(felts)).toEqual({ text, used: felts.length })
    }
    // Not a ByteArray: a word too wide, a pending length of 31 or more, a count past the end.
    expect(decodeByteArray([1n, 1n << 248n, 0n, 0n])).toBeUndefined()
    expect(decodeByteArray([0n, 0n, 31n])).toBeUndefined()
    expect(decodeByteArray([5n, 0n])).toBeUndefined()
  })

  it("reads raw ByteArray panic data left unformatted (the formatter shows the felts when it cannot read them as a string)", () => {
    const felts = [BYTE_ARRAY_MAGIC, ...byteArrayFelts("Spending: invalid amount")].map((f) => "0x" + f.toString(16))
    expect(revertReasonOf(felts)).toBe("Spending: invalid amount")
    const formatted = `(${felts.join(", ")}, ${ENTRYPOINT_FAILED})`
    expect(reasonIn(`Execution failed. Failure reason:\n${formatted}.\n`)).toBe("Spending: invalid amount")
    const long = "Spending: invalid amount, and a message longer than one 31-byte word"
    const longFelts = [BYTE_ARRAY_MAGIC, ...byteArrayFelts(long)].map((f) => "0x" + f.toString(16))
    expect(revertReasonOf({ revert_error: frame(`(${longFelts.join(", ")}, ${ENTRYPOINT_FAILED})`) })).toBe(long)
  })
})

describe("reason extraction: every account reason in every shape", () => {
  const reasons = [
    "SRC9: duplicated nonce",
    "SRC9: now >= execute_before",
    "SRC9: invalid signature",
    "Session: unauthorized selector",
    "Session: valid_until exceeded",
    "Spending: exceeds window limit"
  ]
  const trace = (item: string) =>
    `Transaction execution has failed:\n0: Error in the called contract (contract address: 0x1, class hash: 0x2, selector: 0x3):\nExecution failed. Failure reason:\n(${item}, ${ENTRYPOINT_FAILED}).\n`
  const shapes: ReadonlyArray<readonly [string, (reason: string) => unknown]> = [
    ["flat string", (r) => r],
    ["formatted tuple", (r) => `(${short(r)}, ${ENTRYPOINT_FAILED})`],
    ["one formatted item", (r) => short(r)],
    ["nested frames (SNIP-29 156 data)", (r) => frame(frame(frame(trace(short(r)))))],
    ["AVNU { execution_error: frames }", (r) => ({ execution_error: frame(trace(short(r))) })],
    ["RPC 0.9 error 40 { revert_error }", (r) => ({ revert_error: frame(trace(short(r))) })],
    ["RPC 0.9 error 41 { transaction_index, execution_error: string }", (r) => ({ transaction_index: 0, execution_error: trace(short(r)) })]
  ]
  for (const [name, shape] of shapes) {
    it(name, () => {
      for (const reason of reasons) expect(revertReasonOf(shape(reason))).toBe(reason)
    })
  }

  it("a Chipi REST message in the sequencer's format leaves no tail of the tuple (reasonIn)", () => {
    for (const reason of reasons) {
      const message = `Failed to execute sponsored transaction: ${trace(short(reason))}`
      expect(reasonIn(message)).toBe(reason)
    }
  })
})

describe("reason extraction: what is not a reason", () => {
  it("a plain message quotes no panic data: reasonIn finds none, revertReasonOf keeps the message", () => {
    for (const message of ["Account validation failed: __validate__ returned 0", "Invalid transaction nonce: expected 1, got 0", "Internal error"]) {
      expect(reasonIn(message)).toBeUndefined()
      expect(revertReasonOf(message)).toBe(message)
    }
    expect(reasonIn("Contract not found: 0x1234")).toBeUndefined()
  })

  it("only call-stack markers: the first marker", () => {
    expect(revertReasonOf(`(${ENTRYPOINT_FAILED}, ${short("CONSTRUCTOR_FAILED")})`)).toBe("ENTRYPOINT_FAILED")
  })

  it("no text at all, or frames nested past any sane depth", () => {
    expect(revertReasonOf(undefined)).toBeUndefined()
    expect(revertReasonOf({ unrelated: 1 })).toBeUndefined()
    let deep: unknown = "Session: unauthorized selector"
    for (let i = 0; i < 1000; i++) deep = { error: deep }
    expect(innermostText(deep)).toBeUndefined()
  })
})

describe("reason extraction: properties", () => {
  // A short string as the account writes one: printable ASCII, at most 31 characters (no `')`, which would end
  // the formatter's quote early).
  const shortReason = fc.stringMatching(/^[A-Za-z0-9 :_<>=!.,/-]{1,31}$/).filter((s) => s.trim() === s && s !== "" && !s.endsWith("."))
  const frames = (depth: number, leaf: string): unknown => (depth === 0 ? leaf : frame(frames(depth - 1, leaf)))

  it.prop("any short-string reason comes back from any depth of frames, wrapped or not", [shortReason, fc.integer({ min: 0, max: 6 }), fc.boolean()], ([reason, depth, wrapped]) => {
    const leaf = `Execution failed. Failure reason:\n(${short(reason)}, ${ENTRYPOINT_FAILED}).\n`
    const data = frames(depth, leaf)
    expect(revertReasonOf(wrapped ? { execution_error: data } : data)).toBe(reason)
  })

  it.prop("any ByteArray reason comes back, quoted as JSON writes it or as raw felts", [fc.string({ minLength: 1, maxLength: 120 })], ([text]) => {
    expect(revertReasonOf(`(${JSON.stringify(text)}, ${ENTRYPOINT_FAILED})`)).toBe(text)
    const felts = [BYTE_ARRAY_MAGIC, ...byteArrayFelts(text)].map((f) => "0x" + f.toString(16))
    expect(revertReasonOf(felts)).toBe(text)
  })
})
