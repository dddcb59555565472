// Reset and fault handling for a bare Cortex-M3: copy .data, clear .bss, run the static
// constructors, call main, report its verdict over semihosting. Any fault or ferro panic ends
// the run as a failure instead of hanging qemu.
#include <cstdint>

#include "semihost.hpp"

extern "C" {
extern std::uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[], __stack_top[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
int main();
void reset_handler();
void fault_handler();

// ferro::panic calls this first (a weak symbol in core): a firmware build logs and resets.
void ferro_panic_hook(const char* message, const char* file, int line) {
  embedded::put("ferro panic: ");
  embedded::put(message);
  embedded::put(" at ");
  embedded::put(file);
  embedded::put(":");
  embedded::put_dec(static_cast<std::uint64_t>(line));
  embedded::put("\nFAIL\n");
  embedded::exit(false);
}

// A pure virtual call or a guard-less static: neither should happen; end the run if it does.
void __cxa_pure_virtual() { ferro_panic_hook("pure virtual call", __FILE__, __LINE__); }
}

void reset_handler() {
  for (std::uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (std::uint32_t* dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  for (auto** f = __init_array_start; f < __init_array_end; ++f) (*f)();
  embedded::exit(main() == 0);
}

void fault_handler() {
  embedded::put("hard fault\nFAIL\n");
  embedded::exit(false);
}

using Handler = void (*)();

// The first 16 entries of the vector table: the initial stack pointer, then the exceptions.
// External interrupts are never enabled, so the table stops there.
__attribute__((section(".vectors"), used)) const Handler vectors[16] = {
    reinterpret_cast<Handler>(__stack_top),
    reset_handler,
    fault_handler,  // NMI
    fault_handler,  // HardFault
    fault_handler,  // MemManage
    fault_handler,  // BusFault
    fault_handler,  // UsageFault
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    fault_handler,  // SVCall
    fault_handler,  // DebugMonitor
    nullptr,
    fault_handler,  // PendSV
    fault_handler,  // SysTick
};
