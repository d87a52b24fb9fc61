import { describe, expect, it } from '@jest/globals'
import { contractColumns, createContractChecker } from '../../src/core/data/contract.js'
import { CsvSource } from '../../src/core/data/csv.js'
import { escapeRegExp, expectUserError, fixture } from './helpers.js'

describe('contractColumns', () => {
  it("lists the schema's properties, then required names not among them", () => {
    expect(
      contractColumns({
        type: 'object',
        properties: { a: { type: 'number' }, b: {} },
        required: ['b', 'target', 'a'],
      }),
    ).toEqual(['a', 'b', 'target'])
    expect(contractColumns({ type: 'object' })).toEqual([])
    expect(contractColumns(true)).toEqual([])
  })
})

describe('createContractChecker', () => {
  it('counts each violating row once and quotes the first five (draft-07)', async () => {
    const schemaPath = fixture('contract.schema.json')
    const checker = createContractChecker(schemaPath)
    expect(contractColumns(checker.schema)).toEqual(['id', 'mean_area', 'label'])
    const source = new CsvSource(fixture('contract-data.csv'))
    for await (const batch of source.batches({ batchSize: 4, columns: contractColumns(checker.schema) })) {
      checker.check(batch)
    }
    expect(checker.summary()).toEqual({
      schema: schemaPath,
      violations: 8,
      rowsChecked: 11,
      examples: [
        { row: 2, message: 'row 2: /mean_area must be >= 0' },
        { row: 3, message: 'row 3: /label must be equal to one of the allowed values' },
        { row: 4, message: 'row 4: /mean_area must be >= 0' },
        { row: 6, message: 'row 6: /mean_area must be number,null' },
        { row: 8, message: 'row 8: /mean_area must be >= 0' },
      ],
    })
  })

  it('passes missing values as null and reports absent required columns', () => {
    const checker = createContractChecker(fixture('contract.schema.json'))
    checker.check({ offset: 0, length: 2, columns: { id: [1, 2], mean_area: [null, 3] } })
    expect(checker.summary()).toEqual({
      schema: fixture('contract.schema.json'),
      violations: 2,
      rowsChecked: 2,
      examples: [
        { row: 1, message: "row 1: must have required property 'label'" },
        { row: 2, message: "row 2: must have required property 'label'" },
      ],
    })
  })

  it('validates 2020-12 schemas with $defs and formats, numbering rows from the batch offset', () => {
    const checker = createContractChecker(fixture('contract-2020.schema.json'))
    checker.check({
      offset: 10,
      length: 5,
      columns: {
        when: ['2024-01-31', '2024-13-01', null, '2024-02-29', '2023-02-29'],
        note: ['ok', 'too long', null, 'abcdef', null],
      },
    })
    expect(checker.summary()).toEqual({
      schema: fixture('contract-2020.schema.json'),
      violations: 4,
      rowsChecked: 5,
      examples: [
        { row: 12, message: 'row 12: /when must match format "date"' },
        { row: 13, message: 'row 13: /when must be string' },
        { row: 14, message: 'row 14: /note must NOT have more than 5 characters' },
        { row: 15, message: 'row 15: /when must match format "date"' },
      ],
    })
  })

  it('rejects schema files that cannot be used, naming the file', async () => {
    const missing = fixture('absent.schema.json')
    await expectUserError(() => createContractChecker(missing), `${missing}: cannot read the data contract (file not found)`, missing)
    const badJson = fixture('contract-bad-json.json')
    await expectUserError(
      () => createContractChecker(badJson),
      new RegExp(`^${escapeRegExp(badJson)}: the data contract is not valid JSON \\(.+\\)$`),
      badJson,
    )
    const invalid = fixture('contract-invalid.schema.json')
    await expectUserError(
      () => createContractChecker(invalid),
      new RegExp(
        `^${escapeRegExp(invalid)}: not a valid JSON Schema \\(schema is invalid: data/properties/a/type must be equal to one of the allowed values`,
      ),
      invalid,
    )
    const draft04 = fixture('contract-draft04.schema.json')
    await expectUserError(
      () => createContractChecker(draft04),
      `${draft04}: unsupported JSON Schema dialect "http://json-schema.org/draft-04/schema#" in $schema; use draft-07, 2019-09 or 2020-12`,
      draft04,
    )
    const array = fixture('contract-array.json')
    await expectUserError(
      () => createContractChecker(array),
      `${array}: the data contract must be a JSON Schema object describing one row`,
      array,
    )
  })
})
