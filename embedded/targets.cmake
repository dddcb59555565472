# The on-target test program (see add_to_build.cmake): the freestanding objects of every layer,
# the checks, startup code and a linker script for qemu's mps2-an385 (Cortex-M3).
set(FERRO_EMBEDDED_DIR ${CMAKE_SOURCE_DIR}/embedded)

add_executable(ferro_embedded_test
  ${FERRO_EMBEDDED_DIR}/main.cpp
  ${FERRO_EMBEDDED_DIR}/check_core_storage.cpp
  ${FERRO_EMBEDDED_DIR}/check_alloc_pool.cpp
  ${FERRO_EMBEDDED_DIR}/check_gc_mrfs_vnv.cpp
  ${FERRO_EMBEDDED_DIR}/semihost.cpp
  ${FERRO_EMBEDDED_DIR}/startup.cpp
  ${FERRO_EMBEDDED_DIR}/atomic64.c)
set_target_properties(ferro_embedded_test PROPERTIES SUFFIX .elf)
target_compile_options(ferro_embedded_test PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${FERRO_WARNINGS}>)
get_property(objs GLOBAL PROPERTY FERRO_FREESTANDING_OBJECT_TARGETS)
# Object libraries carry their include paths and C++20 requirement along.
target_link_libraries(ferro_embedded_test PRIVATE ${objs} ferro::pool)
target_link_options(ferro_embedded_test PRIVATE
  -T${FERRO_EMBEDDED_DIR}/mps2_an385.ld -nostartfiles --specs=nano.specs --specs=nosys.specs
  -Wl,-Map=${CMAKE_CURRENT_BINARY_DIR}/ferro_embedded_test.map)
set_target_properties(ferro_embedded_test PROPERTIES LINK_DEPENDS ${FERRO_EMBEDDED_DIR}/mps2_an385.ld)
add_custom_command(TARGET ferro_embedded_test POST_BUILD
  COMMAND ${FERRO_EMBEDDED_DIR}/check_no_heap.sh $<TARGET_FILE:ferro_embedded_test>
  VERBATIM)
