/**
 * The shape bounds of a request body (src/devnet/server/bounds.ts), checked over its bytes as they arrive: exactly
 * at each bound a body passes, one past it is refused naming the bound, and a body fed in pieces of any size is
 * judged as when it is fed whole. JSON text as RFC 8259 writes it (strings, escapes, arrays, objects, blanks).
 */
import { describe, expect, it } from "@effect/vitest"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { ShapeScanner } from "../../src/devnet/server/bounds.js"
import { random } from "../helpers/hostile.js"

const { maxDepth, maxMembers, maxStringBytes } = DevnetServer.SHAPE_DEFAULTS
const bytes = (text: string) => new TextEncoder().encode(text)
const scan = (text: string) => {
  const scanner = new ShapeScanner()
  const beyond = scanner.feed(bytes(text))
  return { beyond, entries: scanner.entries }
}

describe("shape bounds", () => {
  it("each bound: at it a body passes, one past it is refused naming the bound", () => {
    expect(scan("[".repeat(maxDepth) + "]".repeat(maxDepth)).beyond).toBeUndefined()
    expect(scan("[".repeat(maxDepth + 1) + "]".repeat(maxDepth + 1)).beyond).toBe(`the body nests deeper than ${maxDepth} levels`)
    expect(scan(`{"a":`.repeat(maxDepth) + "1" + "}".repeat(maxDepth)).beyond).toBeUndefined()
    expect(scan(`{"a":`.repeat(maxDepth + 1) + "1" + "}".repeat(maxDepth + 1)).beyond).toContain("deeper")
    const members = (n: number) => `{"params":[${Array.from({ length: n }, () => "0").join(",")}]}`
    expect(scan(members(maxMembers)).beyond).toBeUndefined()
    expect(scan(members(maxMembers + 1)).beyond).toBe(`an array or object holds more than ${maxMembers} members`)
    expect(scan(`{"s":"${"a".repeat(maxStringBytes)}"}`).beyond).toBeUndefined()
    expect(scan(`{"s":"${"a".repeat(maxStringBytes + 1)}"}`).beyond).toBe(`a string is longer than ${maxStringBytes} bytes`)
    // Escapes count as written; an escaped quote does not end the string; brackets inside strings are not nesting.
    expect(scan(`{"s":"${"\\\"".repeat(maxStringBytes / 2)}"}`).beyond).toBeUndefined()
    expect(scan(`{"s":"${"\\\"".repeat(maxStringBytes / 2)}x"}`).beyond).toContain("string")
    expect(scan(`["${"[".repeat(maxDepth * 2)}"]`).beyond).toBeUndefined()
    // The top level is a batch: its length is counted, not bounded here.
    expect(scan(`[${Array.from({ length: maxMembers + 5 }, () => "{}").join(",")}]`)).toEqual({ beyond: undefined, entries: maxMembers + 5 })
  })

  it("a batch's entries are counted (strings, nesting and blanks followed); a body that is no array has none", () => {
    expect(scan(` [ {"a":[1,2,{"b":"],[,"}]} , "x,y" ,\n[3,[4]] ,5]`).entries).toBe(4)
    expect(scan(`[]`).entries).toBe(0)
    expect(scan(`{"a":[1,2,3]}`).entries).toBe(0)
    expect(scan(`"[1,2]"`).entries).toBe(0)
  })

  it("a body fed in pieces of any size is judged as when fed whole (2,000 random bodies)", () => {
    const rnd = random(7)
    const pieces = ["[", "]", "{", "}", ",", ":", "\"", "\\", "a", "0", " ", "\n", "\"\\\"\"", "[[[[", "]]]]", "\"x\"", "💥"]
    for (let n = 0; n < 2_000; n++) {
      const text = Array.from({ length: 1 + Math.floor(rnd() * 400) }, () => pieces[Math.floor(rnd() * pieces.length)]!).join("")
      const whole = new ShapeScanner({ maxDepth: 8, maxMembers: 6, maxStringBytes: 12 })
      const beyond = whole.feed(bytes(text))
      const split = new ShapeScanner({ maxDepth: 8, maxMembers: 6, maxStringBytes: 12 })
      const all = bytes(text)
      let at = 0
      let piecewise: string | undefined
      while (at < all.length) {
        const size = 1 + Math.floor(rnd() * 9)
        piecewise = split.feed(all.subarray(at, at + size))
        at += size
      }
      expect([text, piecewise ?? split.feed(new Uint8Array()), split.entries]).toEqual([text, beyond, whole.entries])
    }
  })
})
