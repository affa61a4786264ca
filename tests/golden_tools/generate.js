#!/usr/bin/env node
// Runs Segment's published Segment Profiles destination (installed by setup.sh into a scratch
// folder) over the cases in cases.js and writes one golden file per action:
//   node generate.js <scratch-dir> <out-dir>
// Each golden entry holds the case input (mapping = the subscription settings, event = the
// Reverse ETL record) and either the returned {batch:[…]} (as JSON, so undefined keys vanish the
// way they do on the wire) or the error the framework raised.
'use strict'
const path = require('path')
const fs = require('fs')

const [scratch, outDir] = process.argv.slice(2)
if (!scratch || !outDir) {
  console.error('usage: generate.js <scratch-dir> <out-dir>')
  process.exit(2)
}
const scratchDir = path.resolve(scratch)
const core = require(path.join(scratchDir, 'node_modules/@segment/actions-core'))
const definition = require(path.join(scratchDir, 'segment-profiles')).default
const { CASES, ENGAGE_SPACE } = require('./cases.js')

async function runCase(destination, c) {
  const mapping = c.omitEngageSpace ? { ...c.mapping } : { engage_space: ENGAGE_SPACE, ...c.mapping }
  // The framework mutates objects it is handed; keep the recorded input pristine.
  const input = JSON.parse(JSON.stringify({ mapping, event: c.event }))
  const entry = { name: c.name, action: c.action, mapping: input.mapping, event: input.event }
  try {
    const results = await destination.executeAction(c.action, {
      event: JSON.parse(JSON.stringify(c.event)),
      mapping: JSON.parse(JSON.stringify(mapping)),
      settings: {}
    })
    const executed = results.find((r) => r.output === 'Action Executed')
    entry.output = JSON.parse(JSON.stringify(executed.data))
  } catch (err) {
    if (process.env.GOLDEN_DEBUG) console.error(err.stack)
    entry.error = { name: err.name, code: err.code ?? null, status: err.status ?? null, message: err.message }
  }
  return entry
}

async function main() {
  const destination = new core.Destination(definition)
  const byAction = {}
  const seen = new Set()
  for (const c of CASES) {
    if (seen.has(c.name)) throw new Error(`duplicate case name ${c.name}`)
    seen.add(c.name)
    const entry = await runCase(destination, c)
    ;(byAction[c.action] ??= []).push(entry)
  }
  fs.mkdirSync(outDir, { recursive: true })
  const coreVersion = require(path.join(scratchDir, 'node_modules/@segment/actions-core/package.json')).version
  for (const [action, cases] of Object.entries(byAction)) {
    const file = path.join(outDir, `${action}.json`)
    const doc = { generator: 'tests/golden_tools/generate.js', actions_core: coreVersion, action, cases }
    fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
    console.log(`${file}: ${cases.length} cases`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
