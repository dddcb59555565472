# Included by project() in the `cortex-m` preset (CMAKE_PROJECT_INCLUDE): defers including
# embedded/targets.cmake until the top-level CMakeLists.txt has defined every freestanding
# module, so the on-target test program is built with the layers it checks and no shared CMake
# file needs to know about it. (A deferred call may include a file, not add a subdirectory.)
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL include "${CMAKE_SOURCE_DIR}/embedded/targets.cmake")
