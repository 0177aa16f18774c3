/**
 * The shape of the sources, so that each stays readable: no file under src/ is longer than 800 lines, no function
 * longer than 100 (its first line to its last, nested functions counted in their parent too), and src/internal/
 * holds one folder per subsystem. Functions and files are found with the TypeScript compiler's own parser.
 *
 * What does not meet a limit yet is named below with its reason; nothing else is let through. An exemption that is
 * no longer needed fails the test too, so the lists only shrink.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { describe, expect, it } from "vitest"

const root = resolve(fileURLToPath(new URL("..", import.meta.url)))

const MAX_FILE_LINES = 800
const MAX_FUNCTION_LINES = 100

/** Functions longer than the limit today, by `file: name`, with why. */
const LONG_FUNCTIONS: Readonly<Record<string, string>> = {}

/** Files at the root of src/internal/ today, with why they are not in a subsystem's folder yet. */
const LOOSE_INTERNAL_FILES: Readonly<Record<string, string>> = {}

const sources = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : []
  })

const files = sources(join(root, "src")).map((path) => ({
  path: relative(root, path),
  source: ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true)
}))

const lineOf = (source: ts.SourceFile, position: number) => source.getLineAndCharacterOfPosition(position).line + 1

/** A function's name: its own, or that of the declaration, property or method it is the value of. */
const nameOf = (node: ts.Node): string => {
  for (let at: ts.Node | undefined = node; at !== undefined; at = at.parent) {
    if ((ts.isFunctionDeclaration(at) || ts.isMethodDeclaration(at) || ts.isFunctionExpression(at)) && at.name !== undefined) {
      return at.name.getText()
    }
    if ((ts.isVariableDeclaration(at) || ts.isPropertyAssignment(at) || ts.isPropertyDeclaration(at)) && at.name !== undefined) {
      return at.name.getText()
    }
    if (ts.isConstructorDeclaration(at)) return "constructor"
  }
  return "(anonymous)"
}

/** Every function of src/ longer than the limit, as `file: name (lines)`. */
const longFunctions = files.flatMap(({ path, source }) => {
  const found: Array<{ readonly key: string; readonly lines: number }> = []
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const lines = lineOf(source, node.end) - lineOf(source, node.getStart(source)) + 1
      if (lines > MAX_FUNCTION_LINES) found.push({ key: `${path}: ${nameOf(node)}`, lines })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
})

describe("the shape of src/", () => {
  it(`no file is longer than ${MAX_FILE_LINES} lines`, () => {
    const long = files
      .map(({ path, source }) => ({ path, lines: lineOf(source, source.end) }))
      .filter(({ lines }) => lines > MAX_FILE_LINES)
      .map(({ lines, path }) => `${path} (${lines} lines)`)
    expect(long).toEqual([])
  })

  it(`no function is longer than ${MAX_FUNCTION_LINES} lines, but those named with their reason`, () => {
    const unexpected = longFunctions.filter(({ key }) => !(key in LONG_FUNCTIONS)).map(({ key, lines }) => `${key} (${lines} lines)`)
    expect(unexpected).toEqual([])
  })

  it("every function named as long still is (a split one leaves the list)", () => {
    const stillLong = new Set(longFunctions.map(({ key }) => key))
    expect(Object.keys(LONG_FUNCTIONS).filter((key) => !stillLong.has(key))).toEqual([])
  })

  it("src/internal/ holds one folder per subsystem, and only the files named with their reason beside them", () => {
    const internal = join(root, "src", "internal")
    const loose = readdirSync(internal).filter((name) => !statSync(join(internal, name)).isDirectory()).sort()
    expect(loose).toEqual(Object.keys(LOOSE_INTERNAL_FILES).sort())
  })

  it("the measure sees what it should: a function of a hundred and one lines is long", () => {
    const body = Array.from({ length: 99 }, (_, i) => `  const x${i} = ${i}`).join("\n")
    const source = ts.createSourceFile("probe.ts", `export const probe = () => {\n${body}\n}\n`, ts.ScriptTarget.Latest, true)
    const probe = source.statements[0] as ts.VariableStatement
    const fn = probe.declarationList.declarations[0]!.initializer!
    expect(lineOf(source, fn.end) - lineOf(source, fn.getStart(source)) + 1).toBe(101)
    expect(nameOf(fn)).toBe("probe")
  })
})
