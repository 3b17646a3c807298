# Install rules: the drop-in libraries, hakmem.h, a pkg-config file, a CMake package and the
# launcher. Include this from the top-level CMakeLists.txt after the library targets are defined
# (it reads HAK_SHIM, set where they are).
#
#   cmake --install build/release --prefix P
#     P/lib/libhakmem.so -> .so.0 -> .so.0.1.0   the shared drop-in (malloc + hak_* + control API)
#     P/lib/libhakmem.a                          the static drop-in
#     P/include/hakmem.h
#     P/lib/pkgconfig/hakmem.pc                  pkg-config --cflags --libs hakmem
#     P/lib/cmake/hakmem/                        find_package(hakmem): hakmem::hakmem (shared),
#                                                hakmem::hakmem_static
#     P/bin/hakmem                               the launcher (tools/hakmem)
#
# Only builds with the libc-named shim have the drop-in libraries (not ASan/TSan/MSan): there,
# nothing is installed. Both files that name the prefix are relocatable: the package through
# PACKAGE_PREFIX_DIR, the .pc file through ${pcfiledir}, so `--prefix` at install time works.
if(NOT DEFINED HAK_SHIM)
  message(FATAL_ERROR "include(cmake/Install.cmake) after the library targets (HAK_SHIM is unset)")
endif()
if(NOT HAK_SHIM)
  return()
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(HAK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/hakmem)

# The targets carry the source include/ for the build tree; installed, the header is in includedir.
set_property(TARGET hakmem hakmem_static PROPERTY INTERFACE_INCLUDE_DIRECTORIES
             "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>"
             "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")

install(TARGETS hakmem hakmem_static EXPORT hakmem-targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/hakmem.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT hakmem-targets NAMESPACE hakmem:: FILE hakmem-targets.cmake
        DESTINATION ${HAK_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/hakmem-config.cmake.in
                              ${PROJECT_BINARY_DIR}/hakmem-config.cmake
                              INSTALL_DESTINATION ${HAK_INSTALL_CMAKEDIR}
                              PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a minor version may break the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hakmem-config-version.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/hakmem-config.cmake ${PROJECT_BINARY_DIR}/hakmem-config-version.cmake
        DESTINATION ${HAK_INSTALL_CMAKEDIR})

# pkg-config: the prefix is found from the .pc file's own directory (libdir/pkgconfig).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(HAK_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(HAK_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH HAK_PC_UP "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" HAK_PC_UP "${HAK_PC_UP}")
  set(HAK_PC_PREFIX "\${pcfiledir}/${HAK_PC_UP}")
  set(HAK_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(HAK_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(HAK_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/hakmem.pc.in ${PROJECT_BINARY_DIR}/hakmem.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/hakmem.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/hakmem DESTINATION ${CMAKE_INSTALL_BINDIR})

# The install test (label install): plain builds only, like the other drop-in tests.
if(HAK_BUILD_TESTS AND HAK_SANITIZER STREQUAL "none" AND NOT HAK_VALGRIND)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/install ${PROJECT_BINARY_DIR}/tests/install)
endif()
