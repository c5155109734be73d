/*
 * Reset and fault vectors for the QEMU harness (mps2-an386, Cortex-M4).
 * A fault ends QEMU through semihosting with a failure status, so a blob
 * that crashes fails the check instead of hanging it.
 */
  .syntax unified
  .cpu cortex-m4
  .thumb

  .section .vectors, "a"
  .word __stack_top
  .word reset
  .word fault /* NMI */
  .word fault /* HardFault */
  .word fault /* MemManage */
  .word fault /* BusFault */
  .word fault /* UsageFault */

  .text
  .thumb_func
  .global reset
reset:
  bl main
  b .

  .thumb_func
fault:
  movs r0, #0x18        /* SYS_EXIT */
  ldr r1, =0x20024      /* ADP_Stopped_InternalError: QEMU exits with status 1 */
  bkpt 0xab
  b .
