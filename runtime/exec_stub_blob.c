/* Embeds the built exec stub (exec_stub.c) into the runtime library. */
__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl berth_exec_stub_start\n"
        "berth_exec_stub_start:\n"
        ".incbin \"" BERTH_EXEC_STUB_PATH "\"\n"
        ".globl berth_exec_stub_end\n"
        "berth_exec_stub_end:\n"
        ".previous\n");
