# `cmake --install` puts the headers, the module libraries and a package config in place so
# that a user's project can `find_package(ferro)` and link `ferro::ferro` or one module.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(mods GLOBAL PROPERTY FERRO_MODULE_TARGETS)
install(TARGETS ${mods} ferro_all EXPORT ferroTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/ferro/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ferro
  FILES_MATCHING PATTERN "*.hpp"
  PATTERN "*_test*" EXCLUDE PATTERN "*_bench*" EXCLUDE)
install(EXPORT ferroTargets NAMESPACE ferro:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ferro)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ferroConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ferroConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ferro)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ferroConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ferroConfig.cmake ${PROJECT_BINARY_DIR}/ferroConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ferro)
