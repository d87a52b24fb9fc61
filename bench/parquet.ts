/*
 * The benchmark's Parquet file: the same rows as its CSV, written with the writer modelgate itself uses
 * (hyparquet-writer; snappy-compressed DOUBLE columns), in row groups of a size typical of real files.
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { ParquetWriter, fileWriter } from 'hyparquet-writer'

export async function csvToParquet(csvPath: string, outPath: string, rowGroupRows = 131_072): Promise<number> {
  const lines = createInterface({ input: createReadStream(csvPath), crlfDelay: Infinity })
  let header: string[] | undefined
  let columns: number[][] = []
  let writer: ParquetWriter | undefined
  let rows = 0
  const flush = async () => {
    if (!header || columns[0]!.length === 0) return
    writer ??= new ParquetWriter({
      writer: fileWriter(outPath),
      schema: [
        { name: 'root', num_children: header.length },
        ...header.map((name) => ({ name, type: 'DOUBLE' as const, repetition_type: 'REQUIRED' as const })),
      ],
      createdBy: 'modelgate bench',
    })
    await writer.write({ columnData: header.map((name, j) => ({ name, data: columns[j]! })), rowGroupSize: rowGroupRows })
    columns = header.map(() => [])
  }
  for await (const line of lines) {
    if (!line) continue
    if (!header) {
      header = line.split(',')
      columns = header.map(() => [])
      continue
    }
    const cells = line.split(',')
    for (let j = 0; j < cells.length; j++) columns[j]!.push(Number(cells[j]))
    if (++rows % rowGroupRows === 0) await flush()
  }
  await flush()
  await writer?.finish()
  return rows
}
