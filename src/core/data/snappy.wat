;; Snappy decompression of one Parquet page (parquet-snappy.ts holds the format's reference decoder in
;; JavaScript and says when this runs). It decodes only streams that are wholly valid: on any element the
;; reference would refuse, or would treat oddly (a length or an offset that a 32-bit read makes negative,
;; a write past the end), it returns 1 and writes nothing the caller uses, and the caller decodes the page
;; with the reference, which gives that stream's own output or error. So the result is the reference's for
;; every input; this only makes valid pages fast.
;;
;; Why WebAssembly: Parquet pages of floating-point numbers are mostly short literals and short copies
;; (13 and 6 bytes on average in the benchmark's pages), and in JavaScript each costs a bounds-checked
;; byte loop or a subarray allocation. Here a short element moves as one 16-byte (v128) load and store,
;; which may write up to 15 bytes past the element: the caller leaves 64 bytes of slack after the output,
;; and every byte past an element is written again by the elements after it.
;;
;; `npm run generate` assembles this file into snappy-wasm.ts (scripts/fixtures/gen-wasm.mjs).
;;
;; uncompress(in, inLen, out, outLen): the stream at memory[in, in + inLen), the page to memory[out,
;; out + outLen). 0: done, memory[out, out + outLen) is the page. 1: decode it with the reference.
(module
  (memory (export "memory") 1)
  (func (export "uncompress") (param $in i32) (param $inLen i32) (param $out i32) (param $outLen i32) (result i32)
    (local $pos i32) (local $end i32) (local $op i32) (local $oend i32)
    (local $c i32) (local $len i32) (local $off i32) (local $ls i32) (local $i i32)
    (local.set $pos (local.get $in))
    (local.set $end (i32.add (local.get $in) (local.get $inLen)))
    (local.set $op (local.get $out))
    (local.set $oend (i32.add (local.get $out) (local.get $outLen)))
    ;; The preamble: the page's length as a varint (the caller already knows it).
    (block $pre
      (loop $varint
        (br_if $pre (i32.ge_u (local.get $pos) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $pos)))
        (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
        (br_if $varint (i32.ge_u (local.get $c) (i32.const 128)))))
    (if (i32.and (i32.ne (local.get $outLen) (i32.const 0)) (i32.ge_u (local.get $pos) (local.get $end)))
      (then (return (i32.const 1))))
    (block $done
      (loop $element
        (br_if $done (i32.ge_u (local.get $pos) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $pos)))
        (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
        ;; The reference refuses a tag byte that ends the stream.
        (if (i32.ge_u (local.get $pos) (local.get $end)) (then (return (i32.const 1))))
        (if (i32.eqz (i32.and (local.get $c) (i32.const 3)))
          (then
            ;; A literal: len bytes of the stream itself.
            (local.set $len (i32.add (i32.shr_u (local.get $c) (i32.const 2)) (i32.const 1)))
            (if (i32.gt_u (local.get $len) (i32.const 60))
              (then
                (if (i32.ge_u (i32.add (local.get $pos) (i32.const 3)) (local.get $end)) (then (return (i32.const 1))))
                (local.set $ls (i32.sub (local.get $len) (i32.const 60)))
                (local.set $len (i32.load (local.get $pos)))
                (if (i32.lt_u (local.get $ls) (i32.const 4))
                  (then
                    (local.set $len
                      (i32.and (local.get $len)
                        (i32.sub (i32.shl (i32.const 1) (i32.shl (local.get $ls) (i32.const 3))) (i32.const 1))))))
                ;; Four length bytes that a 32-bit read makes negative: the reference's oddity, not ours.
                (if (i32.ge_u (local.get $len) (i32.const 0x7fffffff)) (then (return (i32.const 1))))
                (local.set $len (i32.add (local.get $len) (i32.const 1)))
                (local.set $pos (i32.add (local.get $pos) (local.get $ls)))))
            (if (i32.gt_u (local.get $len) (i32.sub (local.get $end) (local.get $pos))) (then (return (i32.const 1))))
            (if (i32.gt_u (local.get $len) (i32.sub (local.get $oend) (local.get $op))) (then (return (i32.const 1))))
            (if (i32.le_u (local.get $len) (i32.const 16))
              (then (v128.store (local.get $op) (v128.load (local.get $pos))))
              (else (memory.copy (local.get $op) (local.get $pos) (local.get $len))))
            (local.set $pos (i32.add (local.get $pos) (local.get $len)))
            (local.set $op (i32.add (local.get $op) (local.get $len)))
            (br $element)))
        ;; A copy: len bytes from off bytes back in the output.
        (if (i32.eq (i32.and (local.get $c) (i32.const 3)) (i32.const 1))
          (then
            (local.set $len (i32.add (i32.and (i32.shr_u (local.get $c) (i32.const 2)) (i32.const 7)) (i32.const 4)))
            (local.set $off
              (i32.or (i32.load8_u (local.get $pos)) (i32.shl (i32.shr_u (local.get $c) (i32.const 5)) (i32.const 8))))
            (local.set $pos (i32.add (local.get $pos) (i32.const 1))))
          (else
            (local.set $len (i32.add (i32.shr_u (local.get $c) (i32.const 2)) (i32.const 1)))
            (if (i32.eq (i32.and (local.get $c) (i32.const 3)) (i32.const 2))
              (then
                (if (i32.le_u (i32.sub (local.get $end) (local.get $pos)) (i32.const 1)) (then (return (i32.const 1))))
                (local.set $off (i32.load16_u (local.get $pos)))
                (local.set $pos (i32.add (local.get $pos) (i32.const 2))))
              (else
                (if (i32.le_u (i32.sub (local.get $end) (local.get $pos)) (i32.const 3)) (then (return (i32.const 1))))
                (local.set $off (i32.load (local.get $pos)))
                ;; An offset a 32-bit read makes negative: the reference reads ahead of itself there.
                (if (i32.lt_s (local.get $off) (i32.const 0)) (then (return (i32.const 1))))
                (local.set $pos (i32.add (local.get $pos) (i32.const 4)))))))
        (if (i32.eqz (local.get $off)) (then (return (i32.const 1))))
        (if (i32.gt_u (local.get $off) (i32.sub (local.get $op) (local.get $out))) (then (return (i32.const 1))))
        (if (i32.gt_u (local.get $len) (i32.sub (local.get $oend) (local.get $op))) (then (return (i32.const 1))))
        (if (i32.ge_u (local.get $off) (i32.const 16))
          (then
            ;; 16 bytes at a time from at least 16 back: each load reads only bytes already final.
            (local.set $i (i32.const 0))
            (loop $wide
              (v128.store
                (i32.add (local.get $op) (local.get $i))
                (v128.load (i32.sub (i32.add (local.get $op) (local.get $i)) (local.get $off))))
              (local.set $i (i32.add (local.get $i) (i32.const 16)))
              (br_if $wide (i32.lt_u (local.get $i) (local.get $len)))))
          (else
            ;; Nearer than 16 bytes the copy overlaps what it writes: byte by byte, as the format means it.
            (local.set $i (i32.const 0))
            (loop $narrow
              (i32.store8
                (i32.add (local.get $op) (local.get $i))
                (i32.load8_u (i32.sub (i32.add (local.get $op) (local.get $i)) (local.get $off))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $narrow (i32.lt_u (local.get $i) (local.get $len))))))
        (local.set $op (i32.add (local.get $op) (local.get $len)))
        (br $element)))
    (i32.ne (local.get $op) (local.get $oend)))
)
