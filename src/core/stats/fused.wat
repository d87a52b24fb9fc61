;; The fused bootstrap kernel's two hot loops (fused.ts), one block of rows at a time: the row pass and
;; the score-order pass, four resamples per call, one per i32x4 lane. In each lane the same integer and
;; IEEE double operations, in the same order, as the JavaScript loops they replace (kernels/), so every
;; state is the same bit for bit (the tests hold the kernel to the weighted kernels).
;; Why WebAssembly: TurboFan compiles its i32 and f64 arithmetic and byte loads without the type and
;; bounds checks it keeps in JavaScript: a resample at 1M rows (two log-loss columns, two rankings, the
;; cells) went from 33–34 ms in JavaScript to 20–22 ms in scalar wasm. Why four lanes: a row's hash,
;; truth, group end and term are loaded once for four resamples, and the hash, the inverse CDF and the
;; sums are one vector instruction for four: the bench's comparison statistics (every binary metric,
;; candidate, baseline and delta) went from 10.6–11.1 ms a resample to 7.5–8.2 ms, ROC AUC's passes
;; alone from 10.3 to 5.2, the counts' row pass from 2.25 to 1.49 (1M rows, 32 resamples, one thread,
;; the same states bit for bit). The weight and Neumaier's step are written out in each loop, not
;; called: Node 20's V8 does not inline calls between wasm functions.
;;
;; fused.ts copies a block's columns into the fixed areas below, then calls a pass once per four
;; resamples of its batch; the running sums of the row pass stay here between blocks (SUMS, CELLS,
;; TOTALS), so a batch crosses into JavaScript once per block and four resamples, not per row.
;; `npm run generate` assembles this file into fused-wasm.ts (scripts/fixtures/gen-wasm.mjs).
(module
  ;; Byte offsets (fusedStates in fused.ts names the same ones in `area`; a block is at most 4096 rows).
  ;;   4096   THRESHOLDS  12 × u32: the inverse CDF's cut points, ascending (random.ts POISSON1_THRESHOLDS)
  ;;   4224   LANES       6 × i32x4, a lane a resample: the four keys (rows4, rank4), then rank4's open
  ;;                      group's positives and negatives (in and out), within, below and closed positives (out)
  ;;   4352   SUMS        16 slots × 8 f64: Neumaier sum and compensation of four columns of terms
  ;;   5376   CELLS       16 slots × 8 f64: weighted counts of the eight cells
  ;;   6400   TOTALS      16 × f64: total weight
  ;;   6528   CELLS4      8 × i32x4: rows4's block cell counts, a lane a resample, then its totals (scratch)
  ;;   8192   HASH        4096 × i32: the rows' first-round hashes
  ;;   24576  TRUTH       4096 × u8
  ;;   28672  GROUPEND    4096 × u8
  ;;   32768  CODE        4096 × u8
  ;;   36864  ORDER       4096 × i32: row numbers in score order (a split job's bounds check)
  ;;   53248  TERMS       4 × 4096 × f64
  ;;   184320 WEIGHTS4    4096 × i32x4: rows4's weights of the block's rows, a lane a resample (scratch)
  (memory (export "memory") 4 4)

  ;; The score-order pass of four resamples (keys at LANES, one a lane) over block positions [$start,
  ;; $end), each lane's open group's sums coming in at LANES. Per closed group: within += gp·(2·below + gn),
  ;; below += gn, closed += gp, int32 (fused.ts states why they stay below 2³¹). Rows outside [$rowStart,
  ;; $rowEnd) weigh 0 unless $whole. A row's weight is random.ts poissonWeight's second round and inverse
  ;; CDF: the count of thresholds at or below the hash, six compares always, the other six when a lane
  ;; reaches the sixth (a Poisson(1) count of 6 or more, 0.06% of rows).
  (func (export "rank4")
    (param $start i32) (param $end i32) (param $whole i32) (param $rowStart i32) (param $rowEnd i32)
    (local $j i32) (local $row i32)
    (local $kb v128) (local $h v128) (local $w v128) (local $positive v128)
    (local $gp v128) (local $gn v128) (local $below v128) (local $within v128) (local $closed v128)
    (local $m1 v128) (local $m2 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $t4 v128) (local $t5 v128)
    (local $t6 v128) (local $t7 v128) (local $t8 v128) (local $t9 v128) (local $t10 v128) (local $t11 v128)
    (local.set $kb (v128.load offset=4224 (i32.const 0)))
    (local.set $gp (v128.load offset=4240 (i32.const 0)))
    (local.set $gn (v128.load offset=4256 (i32.const 0)))
    (local.set $m1 (i32x4.splat (i32.const 0x7feb352d)))
    (local.set $m2 (i32x4.splat (i32.const 0x846ca68b)))
    (local.set $t0 (i32x4.splat (i32.load offset=4096 (i32.const 0))))
    (local.set $t1 (i32x4.splat (i32.load offset=4100 (i32.const 0))))
    (local.set $t2 (i32x4.splat (i32.load offset=4104 (i32.const 0))))
    (local.set $t3 (i32x4.splat (i32.load offset=4108 (i32.const 0))))
    (local.set $t4 (i32x4.splat (i32.load offset=4112 (i32.const 0))))
    (local.set $t5 (i32x4.splat (i32.load offset=4116 (i32.const 0))))
    (local.set $t6 (i32x4.splat (i32.load offset=4120 (i32.const 0))))
    (local.set $t7 (i32x4.splat (i32.load offset=4124 (i32.const 0))))
    (local.set $t8 (i32x4.splat (i32.load offset=4128 (i32.const 0))))
    (local.set $t9 (i32x4.splat (i32.load offset=4132 (i32.const 0))))
    (local.set $t10 (i32x4.splat (i32.load offset=4136 (i32.const 0))))
    (local.set $t11 (i32x4.splat (i32.load offset=4140 (i32.const 0))))
    (local.set $j (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $j) (local.get $end)))
      (loop $next
        ;; random.ts poissonWeight's second round, four keys at once.
        (local.set $h (i32x4.add (i32x4.splat (i32.load offset=8192 (i32.shl (local.get $j) (i32.const 2)))) (local.get $kb)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32x4.mul (local.get $h) (local.get $m1)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 15))))
        (local.set $h (i32x4.mul (local.get $h) (local.get $m2)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        ;; A true compare is −1 in its lane: subtracting the masks counts the thresholds passed.
        (local.set $w
          (i32x4.sub
            (i32x4.sub
              (i32x4.sub (i32x4.sub (v128.const i64x2 0 0) (i32x4.ge_u (local.get $h) (local.get $t0))) (i32x4.ge_u (local.get $h) (local.get $t1)))
              (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t2)) (i32x4.ge_u (local.get $h) (local.get $t3))))
            (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t4)) (i32x4.ge_u (local.get $h) (local.get $t5)))))
        (if (v128.any_true (i32x4.ge_u (local.get $h) (local.get $t6)))
          (then
            (local.set $w
              (i32x4.sub
                (i32x4.sub
                  (i32x4.sub (local.get $w) (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t6)) (i32x4.ge_u (local.get $h) (local.get $t7))))
                  (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t8)) (i32x4.ge_u (local.get $h) (local.get $t9))))
                (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t10)) (i32x4.ge_u (local.get $h) (local.get $t11)))))))
        (if (i32.eqz (local.get $whole))
          (then
            (local.set $row (i32.load offset=36864 (i32.shl (local.get $j) (i32.const 2))))
            (if (i32.or (i32.lt_s (local.get $row) (local.get $rowStart)) (i32.ge_s (local.get $row) (local.get $rowEnd)))
              (then (local.set $w (v128.const i64x2 0 0))))))
        (local.set $positive (v128.and (local.get $w) (i32x4.splat (i32.sub (i32.const 0) (i32.load8_u offset=24576 (local.get $j))))))
        (local.set $gp (i32x4.add (local.get $gp) (local.get $positive)))
        (local.set $gn (i32x4.add (local.get $gn) (i32x4.sub (local.get $w) (local.get $positive))))
        (if (i32.load8_u offset=28672 (local.get $j))
          (then
            (local.set $within
              (i32x4.add (local.get $within) (i32x4.mul (local.get $gp) (i32x4.add (i32x4.shl (local.get $below) (i32.const 1)) (local.get $gn)))))
            (local.set $below (i32x4.add (local.get $below) (local.get $gn)))
            (local.set $closed (i32x4.add (local.get $closed) (local.get $gp)))
            (local.set $gp (v128.const i64x2 0 0))
            (local.set $gn (v128.const i64x2 0 0))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $next (i32.lt_s (local.get $j) (local.get $end)))))
    (v128.store offset=4240 (i32.const 0) (local.get $gp))
    (v128.store offset=4256 (i32.const 0) (local.get $gn))
    (v128.store offset=4272 (i32.const 0) (local.get $within))
    (v128.store offset=4288 (i32.const 0) (local.get $below))
    (v128.store offset=4304 (i32.const 0) (local.get $closed)))

  ;; The row pass of four resamples (keys at LANES, batch slots $slot .. $slot + 3, one a lane) over the
  ;; block's $count rows: each one's total weight, cell counts (when $hasCode) and the sums of the first
  ;; $terms columns of terms. The weights as in rank4, kept at WEIGHTS4 for the columns' loops: a column
  ;; at a time (f64x2 holds two lanes), since all four at once need more vector registers than x64 has,
  ;; and the spills made that loop slower than one resample at a time (5.8 against 4.5 ms at 1M rows).
  (func (export "rows4") (param $count i32) (param $slot i32) (param $terms i32) (param $hasCode i32)
    (local $i i32) (local $at i32) (local $cell i32) (local $l i32)
    (local $kb v128) (local $h v128) (local $w v128) (local $total v128) (local $m1 v128) (local $m2 v128)
    (local $wA v128) (local $wB v128) (local $v v128) (local $x v128) (local $t v128)
    (local $sA v128) (local $cA v128) (local $sB v128) (local $cB v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $t4 v128) (local $t5 v128) (local $t6 v128) (local $t7 v128) (local $t8 v128) (local $t9 v128) (local $t10 v128) (local $t11 v128)
    (local.set $kb (v128.load offset=4224 (i32.const 0)))
    (local.set $m1 (i32x4.splat (i32.const 0x7feb352d)))
    (local.set $m2 (i32x4.splat (i32.const 0x846ca68b)))
    (local.set $t0 (i32x4.splat (i32.load offset=4096 (i32.const 0))))
    (local.set $t1 (i32x4.splat (i32.load offset=4100 (i32.const 0))))
    (local.set $t2 (i32x4.splat (i32.load offset=4104 (i32.const 0))))
    (local.set $t3 (i32x4.splat (i32.load offset=4108 (i32.const 0))))
    (local.set $t4 (i32x4.splat (i32.load offset=4112 (i32.const 0))))
    (local.set $t5 (i32x4.splat (i32.load offset=4116 (i32.const 0))))
    (local.set $t6 (i32x4.splat (i32.load offset=4120 (i32.const 0))))
    (local.set $t7 (i32x4.splat (i32.load offset=4124 (i32.const 0))))
    (local.set $t8 (i32x4.splat (i32.load offset=4128 (i32.const 0))))
    (local.set $t9 (i32x4.splat (i32.load offset=4132 (i32.const 0))))
    (local.set $t10 (i32x4.splat (i32.load offset=4136 (i32.const 0))))
    (local.set $t11 (i32x4.splat (i32.load offset=4140 (i32.const 0))))
    (memory.fill (i32.const 6528) (i32.const 0) (i32.const 128))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $count)))
      (loop $row
        ;; random.ts poissonWeight's second round, four keys at once.
        (local.set $h (i32x4.add (i32x4.splat (i32.load offset=8192 (i32.shl (local.get $i) (i32.const 2)))) (local.get $kb)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32x4.mul (local.get $h) (local.get $m1)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 15))))
        (local.set $h (i32x4.mul (local.get $h) (local.get $m2)))
        (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
        ;; A true compare is −1 in its lane: subtracting the masks counts the thresholds passed.
        (local.set $w
          (i32x4.sub
            (i32x4.sub
              (i32x4.sub (i32x4.sub (v128.const i64x2 0 0) (i32x4.ge_u (local.get $h) (local.get $t0))) (i32x4.ge_u (local.get $h) (local.get $t1)))
              (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t2)) (i32x4.ge_u (local.get $h) (local.get $t3))))
            (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t4)) (i32x4.ge_u (local.get $h) (local.get $t5)))))
        (if (v128.any_true (i32x4.ge_u (local.get $h) (local.get $t6)))
          (then
            (local.set $w
              (i32x4.sub
                (i32x4.sub
                  (i32x4.sub (local.get $w) (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t6)) (i32x4.ge_u (local.get $h) (local.get $t7))))
                  (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t8)) (i32x4.ge_u (local.get $h) (local.get $t9))))
                (i32x4.add (i32x4.ge_u (local.get $h) (local.get $t10)) (i32x4.ge_u (local.get $h) (local.get $t11)))))))
        (v128.store offset=184320 (i32.shl (local.get $i) (i32.const 4)) (local.get $w))
        (local.set $total (i32x4.add (local.get $total) (local.get $w)))
        (if (local.get $hasCode)
          (then
            (local.set $cell (i32.add (i32.const 6528) (i32.shl (i32.load8_u offset=32768 (local.get $i)) (i32.const 4))))
            (v128.store (local.get $cell) (i32x4.add (v128.load (local.get $cell)) (local.get $w)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $row (i32.lt_s (local.get $i) (local.get $count)))))
    (local.set $at (i32.add (i32.const 4352) (i32.shl (local.get $slot) (i32.const 6))))
    (block $terms
    ;; Column 0: its Neumaier steps (kernels/kernel.ts weightedAverage), lanes 0 and 1 as doubles, then 2 and 3.
    (br_if $terms (i32.le_s (local.get $terms) (i32.const 0)))
    (local.set $sA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 0)))) (f64.load (i32.add (local.get $at) (i32.const 64)))))
    (local.set $cA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 8)))) (f64.load (i32.add (local.get $at) (i32.const 72)))))
    (local.set $sB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 128)))) (f64.load (i32.add (local.get $at) (i32.const 192)))))
    (local.set $cB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 136)))) (f64.load (i32.add (local.get $at) (i32.const 200)))))
    (local.set $i (i32.const 0))
    (block $done0
      (br_if $done0 (i32.ge_s (local.get $i) (local.get $count)))
      (loop $row0
        (local.set $w (v128.load offset=184320 (i32.shl (local.get $i) (i32.const 4))))
        (local.set $wA (f64x2.convert_low_i32x4_s (local.get $w)))
        (local.set $wB (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))
        (local.set $v (v128.load64_splat offset=53248 (i32.shl (local.get $i) (i32.const 3))))
        (local.set $x (f64x2.mul (local.get $wA) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sA) (local.get $x)))
        (local.set $cA
          (f64x2.add
            (local.get $cA)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sA) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sA))
              (f64x2.ge (f64x2.abs (local.get $sA)) (f64x2.abs (local.get $x))))))
        (local.set $sA (local.get $t))
        (local.set $x (f64x2.mul (local.get $wB) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sB) (local.get $x)))
        (local.set $cB
          (f64x2.add
            (local.get $cB)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sB) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sB))
              (f64x2.ge (f64x2.abs (local.get $sB)) (f64x2.abs (local.get $x))))))
        (local.set $sB (local.get $t))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $row0 (i32.lt_s (local.get $i) (local.get $count)))))
    (f64.store (i32.add (local.get $at) (i32.const 0)) (f64x2.extract_lane 0 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 64)) (f64x2.extract_lane 1 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 8)) (f64x2.extract_lane 0 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 72)) (f64x2.extract_lane 1 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 128)) (f64x2.extract_lane 0 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 192)) (f64x2.extract_lane 1 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 136)) (f64x2.extract_lane 0 (local.get $cB)))
    (f64.store (i32.add (local.get $at) (i32.const 200)) (f64x2.extract_lane 1 (local.get $cB)))
    ;; Column 1: its Neumaier steps (kernels/kernel.ts weightedAverage), lanes 0 and 1 as doubles, then 2 and 3.
    (br_if $terms (i32.le_s (local.get $terms) (i32.const 1)))
    (local.set $sA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 16)))) (f64.load (i32.add (local.get $at) (i32.const 80)))))
    (local.set $cA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 24)))) (f64.load (i32.add (local.get $at) (i32.const 88)))))
    (local.set $sB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 144)))) (f64.load (i32.add (local.get $at) (i32.const 208)))))
    (local.set $cB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 152)))) (f64.load (i32.add (local.get $at) (i32.const 216)))))
    (local.set $i (i32.const 0))
    (block $done1
      (br_if $done1 (i32.ge_s (local.get $i) (local.get $count)))
      (loop $row1
        (local.set $w (v128.load offset=184320 (i32.shl (local.get $i) (i32.const 4))))
        (local.set $wA (f64x2.convert_low_i32x4_s (local.get $w)))
        (local.set $wB (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))
        (local.set $v (v128.load64_splat offset=86016 (i32.shl (local.get $i) (i32.const 3))))
        (local.set $x (f64x2.mul (local.get $wA) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sA) (local.get $x)))
        (local.set $cA
          (f64x2.add
            (local.get $cA)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sA) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sA))
              (f64x2.ge (f64x2.abs (local.get $sA)) (f64x2.abs (local.get $x))))))
        (local.set $sA (local.get $t))
        (local.set $x (f64x2.mul (local.get $wB) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sB) (local.get $x)))
        (local.set $cB
          (f64x2.add
            (local.get $cB)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sB) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sB))
              (f64x2.ge (f64x2.abs (local.get $sB)) (f64x2.abs (local.get $x))))))
        (local.set $sB (local.get $t))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $row1 (i32.lt_s (local.get $i) (local.get $count)))))
    (f64.store (i32.add (local.get $at) (i32.const 16)) (f64x2.extract_lane 0 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 80)) (f64x2.extract_lane 1 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 24)) (f64x2.extract_lane 0 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 88)) (f64x2.extract_lane 1 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 144)) (f64x2.extract_lane 0 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 208)) (f64x2.extract_lane 1 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 152)) (f64x2.extract_lane 0 (local.get $cB)))
    (f64.store (i32.add (local.get $at) (i32.const 216)) (f64x2.extract_lane 1 (local.get $cB)))
    ;; Column 2: its Neumaier steps (kernels/kernel.ts weightedAverage), lanes 0 and 1 as doubles, then 2 and 3.
    (br_if $terms (i32.le_s (local.get $terms) (i32.const 2)))
    (local.set $sA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 32)))) (f64.load (i32.add (local.get $at) (i32.const 96)))))
    (local.set $cA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 40)))) (f64.load (i32.add (local.get $at) (i32.const 104)))))
    (local.set $sB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 160)))) (f64.load (i32.add (local.get $at) (i32.const 224)))))
    (local.set $cB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 168)))) (f64.load (i32.add (local.get $at) (i32.const 232)))))
    (local.set $i (i32.const 0))
    (block $done2
      (br_if $done2 (i32.ge_s (local.get $i) (local.get $count)))
      (loop $row2
        (local.set $w (v128.load offset=184320 (i32.shl (local.get $i) (i32.const 4))))
        (local.set $wA (f64x2.convert_low_i32x4_s (local.get $w)))
        (local.set $wB (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))
        (local.set $v (v128.load64_splat offset=118784 (i32.shl (local.get $i) (i32.const 3))))
        (local.set $x (f64x2.mul (local.get $wA) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sA) (local.get $x)))
        (local.set $cA
          (f64x2.add
            (local.get $cA)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sA) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sA))
              (f64x2.ge (f64x2.abs (local.get $sA)) (f64x2.abs (local.get $x))))))
        (local.set $sA (local.get $t))
        (local.set $x (f64x2.mul (local.get $wB) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sB) (local.get $x)))
        (local.set $cB
          (f64x2.add
            (local.get $cB)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sB) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sB))
              (f64x2.ge (f64x2.abs (local.get $sB)) (f64x2.abs (local.get $x))))))
        (local.set $sB (local.get $t))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $row2 (i32.lt_s (local.get $i) (local.get $count)))))
    (f64.store (i32.add (local.get $at) (i32.const 32)) (f64x2.extract_lane 0 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 96)) (f64x2.extract_lane 1 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 40)) (f64x2.extract_lane 0 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 104)) (f64x2.extract_lane 1 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 160)) (f64x2.extract_lane 0 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 224)) (f64x2.extract_lane 1 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 168)) (f64x2.extract_lane 0 (local.get $cB)))
    (f64.store (i32.add (local.get $at) (i32.const 232)) (f64x2.extract_lane 1 (local.get $cB)))
    ;; Column 3: its Neumaier steps (kernels/kernel.ts weightedAverage), lanes 0 and 1 as doubles, then 2 and 3.
    (br_if $terms (i32.le_s (local.get $terms) (i32.const 3)))
    (local.set $sA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 48)))) (f64.load (i32.add (local.get $at) (i32.const 112)))))
    (local.set $cA (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 56)))) (f64.load (i32.add (local.get $at) (i32.const 120)))))
    (local.set $sB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 176)))) (f64.load (i32.add (local.get $at) (i32.const 240)))))
    (local.set $cB (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $at) (i32.const 184)))) (f64.load (i32.add (local.get $at) (i32.const 248)))))
    (local.set $i (i32.const 0))
    (block $done3
      (br_if $done3 (i32.ge_s (local.get $i) (local.get $count)))
      (loop $row3
        (local.set $w (v128.load offset=184320 (i32.shl (local.get $i) (i32.const 4))))
        (local.set $wA (f64x2.convert_low_i32x4_s (local.get $w)))
        (local.set $wB (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))
        (local.set $v (v128.load64_splat offset=151552 (i32.shl (local.get $i) (i32.const 3))))
        (local.set $x (f64x2.mul (local.get $wA) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sA) (local.get $x)))
        (local.set $cA
          (f64x2.add
            (local.get $cA)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sA) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sA))
              (f64x2.ge (f64x2.abs (local.get $sA)) (f64x2.abs (local.get $x))))))
        (local.set $sA (local.get $t))
        (local.set $x (f64x2.mul (local.get $wB) (local.get $v)))
        (local.set $t (f64x2.add (local.get $sB) (local.get $x)))
        (local.set $cB
          (f64x2.add
            (local.get $cB)
            (v128.bitselect
              (f64x2.add (f64x2.sub (local.get $sB) (local.get $t)) (local.get $x))
              (f64x2.add (f64x2.sub (local.get $x) (local.get $t)) (local.get $sB))
              (f64x2.ge (f64x2.abs (local.get $sB)) (f64x2.abs (local.get $x))))))
        (local.set $sB (local.get $t))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $row3 (i32.lt_s (local.get $i) (local.get $count)))))
    (f64.store (i32.add (local.get $at) (i32.const 48)) (f64x2.extract_lane 0 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 112)) (f64x2.extract_lane 1 (local.get $sA)))
    (f64.store (i32.add (local.get $at) (i32.const 56)) (f64x2.extract_lane 0 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 120)) (f64x2.extract_lane 1 (local.get $cA)))
    (f64.store (i32.add (local.get $at) (i32.const 176)) (f64x2.extract_lane 0 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 240)) (f64x2.extract_lane 1 (local.get $sB)))
    (f64.store (i32.add (local.get $at) (i32.const 184)) (f64x2.extract_lane 0 (local.get $cB)))
    (f64.store (i32.add (local.get $at) (i32.const 248)) (f64x2.extract_lane 1 (local.get $cB)))
    )
    ;; Each lane's total and cell counts added to its slot's doubles: int32 within a block, doubles across.
    (v128.store offset=6656 (i32.const 0) (local.get $total))
    (local.set $l (i32.const 0))
    (loop $lanes
      (local.set $at (i32.add (i32.const 6400) (i32.shl (i32.add (local.get $slot) (local.get $l)) (i32.const 3))))
      (f64.store (local.get $at)
        (f64.add (f64.load (local.get $at)) (f64.convert_i32_s (i32.load offset=6656 (i32.shl (local.get $l) (i32.const 2))))))
      (local.set $at (i32.add (i32.const 5376) (i32.shl (i32.add (local.get $slot) (local.get $l)) (i32.const 6))))
      (local.set $cell (i32.const 0))
      (loop $cells
        (f64.store (local.get $at)
          (f64.add (f64.load (local.get $at))
            (f64.convert_i32_s (i32.load offset=6528 (i32.add (i32.shl (local.get $cell) (i32.const 4)) (i32.shl (local.get $l) (i32.const 2)))))))
        (local.set $at (i32.add (local.get $at) (i32.const 8)))
        (local.set $cell (i32.add (local.get $cell) (i32.const 1)))
        (br_if $cells (i32.lt_s (local.get $cell) (i32.const 8))))
      (local.set $l (i32.add (local.get $l) (i32.const 1)))
      (br_if $lanes (i32.lt_s (local.get $l) (i32.const 4)))))
)
