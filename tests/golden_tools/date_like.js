#!/usr/bin/env node
// Records what actions-core's `date-like` format (dayjs, falling back to JavaScript's Date parser)
// says about each string, using the dayjs installed by setup.sh:
//   node date_like.js <scratch-dir> <out-file>
// The check mirrors actions-core's format function: a numeric string equal to its own number is
// read as unix seconds, anything else is handed to dayjs.
'use strict'
const path = require('path')
const fs = require('fs')

const [scratch, outFile] = process.argv.slice(2)
if (!scratch || !outFile) {
  console.error('usage: date_like.js <scratch-dir> <out-file>')
  process.exit(2)
}
const dayjs = require(path.join(path.resolve(scratch), 'node_modules/dayjs'))
const { DATE_LIKE_STRINGS } = require('./date_like_strings.js')

const isDateLike = (data) => {
  let date = dayjs(data)
  if (String(Number(data)) === data) date = dayjs.unix(Number(data))
  return date.isValid()
}
const cases = DATE_LIKE_STRINGS.map((text) => ({ text, valid: isDateLike(text) }))
fs.writeFileSync(outFile, JSON.stringify({ generator: 'tests/golden_tools/date_like.js', cases }, null, 2) + '\n')
console.log(`${outFile}: ${cases.length} strings`)
