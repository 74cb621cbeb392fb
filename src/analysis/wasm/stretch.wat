;; Bilinear stretch of interleaved RGB bytes into interleaved float32 RGB, one pixel per f32x4 (R, G, B, 0) with
;; WebAssembly SIMD: the person-mask and pose inputs on the live path (src/analysis/align.ts `stretch` explains the
;; sampling; the caller computes the column and row tables). Edit here, then `npm run wasm` regenerates
;; stretch.wasm.ts.
(module
  (memory (export "memory") 1)

  ;; For each output row y < $dh (row table at $rows: 16 bytes per row = byte offset of source row y0, of row y1,
  ;; f32 fy) and column x < $dw (column table at $cols: byte offset of source column x0, of x1, f32 fx), the bilinear
  ;; sample times $scale is stored (or, with $add = 1, added) at $dst + y·$stride + x·12. Each store writes 16 bytes:
  ;; the fourth lane is 0 and lands on the next pixel's R, which is written after it (set) or left unchanged (add);
  ;; the caller leaves 4 bytes after the output and 1 byte after the source.
  (func (export "stretch")
    (param $src i32) (param $cols i32) (param $dw i32) (param $rows i32) (param $dh i32)
    (param $dst i32) (param $stride i32) (param $scale f32) (param $add i32)
    (local $y i32) (local $x i32) (local $r0 i32) (local $r1 i32) (local $fy v128) (local $c i32) (local $d i32)
    (local $fx v128) (local $top v128) (local $bot v128) (local $a v128) (local $v v128) (local $k v128)
    (local $mask v128) (local $b v128)
    (local.set $k (f32x4.splat (local.get $scale)))
    ;; 3 bytes of a pixel (and the byte after, masked off) → f32x4 (R, G, B, 0), with the signed conversions (x86 has
    ;; no unsigned ones: the values are < 256 anyway); written out at each of the four
    ;; neighbours below because V8 does not inline calls between wasm functions here
    (local.set $mask (v128.const i32x4 0x00ffffff 0 0 0))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $y) (local.get $dh)))
        (local.set $r0 (i32.add (local.get $src) (i32.load offset=0 (local.get $rows))))
        (local.set $r1 (i32.add (local.get $src) (i32.load offset=4 (local.get $rows))))
        (local.set $fy (f32x4.splat (f32.load offset=8 (local.get $rows))))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $stride))))
        (local.set $c (local.get $cols))
        (local.set $x (i32.const 0))
        (block $cols_done
          (loop $col
            (br_if $cols_done (i32.ge_u (local.get $x) (local.get $dw)))
            (local.set $fx (f32x4.splat (f32.load offset=8 (local.get $c))))
            (local.set $a (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                (v128.and (v128.load32_zero (i32.add (local.get $r0) (i32.load offset=0 (local.get $c)))) (local.get $mask))))))
            (local.set $b (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                (v128.and (v128.load32_zero (i32.add (local.get $r0) (i32.load offset=4 (local.get $c)))) (local.get $mask))))))
            (local.set $top (f32x4.add (local.get $a) (f32x4.mul (f32x4.sub (local.get $b) (local.get $a)) (local.get $fx))))
            (local.set $a (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                (v128.and (v128.load32_zero (i32.add (local.get $r1) (i32.load offset=0 (local.get $c)))) (local.get $mask))))))
            (local.set $b (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                (v128.and (v128.load32_zero (i32.add (local.get $r1) (i32.load offset=4 (local.get $c)))) (local.get $mask))))))
            (local.set $bot (f32x4.add (local.get $a) (f32x4.mul (f32x4.sub (local.get $b) (local.get $a)) (local.get $fx))))
            (local.set $v (f32x4.mul (local.get $k)
              (f32x4.add (local.get $top) (f32x4.mul (f32x4.sub (local.get $bot) (local.get $top)) (local.get $fy)))))
            (if (local.get $add)
              (then (local.set $v (f32x4.add (local.get $v) (v128.load (local.get $d))))))
            (v128.store (local.get $d) (local.get $v))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $d (i32.add (local.get $d) (i32.const 12)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $col)))
        (local.set $rows (i32.add (local.get $rows) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $row))))

  ;; $n float32 at $p (≥ 0) → int32 rounded half up, in place, 4 at a time ($n is a multiple of 4): the pose input
  (func (export "round_i32") (param $p i32) (param $n i32)
    (local $end i32) (local $half v128)
    (local.set $half (f32x4.splat (f32.const 0.5)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p)
          (i32x4.trunc_sat_f32x4_s (f32x4.add (v128.load (local.get $p)) (local.get $half))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $each))))
)
