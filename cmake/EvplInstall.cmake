# Installation and packaging: libraries, public headers, evpl.pc and the CMake
# package (find_package(evpl) -> evpl::evpl, evpl::evpl_static).
#
# Included at the end of the top-level CMakeLists.txt, so that backends can
# first add what the static library needs at link time:
#   EVPL_PC_LIBS_PRIVATE       list, e.g. -luring -laio   (Libs.private)
#   EVPL_PC_REQUIRES_PRIVATE   list, e.g. liburing openssl (Requires.private)
#   EVPL_CONFIG_DEPENDENCIES   list of CMake lines for evplConfig.cmake,
#                              e.g. "find_dependency(OpenSSL)"
include(CMakePackageConfigHelpers)

set(EVPL_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/evpl)

install(TARGETS evpl evpl_static
        EXPORT evplTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/evpl
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

install(EXPORT evplTargets
        NAMESPACE evpl::
        FILE evplTargets.cmake
        DESTINATION ${EVPL_CMAKE_INSTALL_DIR})

list(JOIN EVPL_CONFIG_DEPENDENCIES "\n" EVPL_CONFIG_DEPENDENCIES_STR)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/evplConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/evplConfig.cmake
                              INSTALL_DESTINATION ${EVPL_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/evplConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/evplConfig.cmake ${CMAKE_BINARY_DIR}/evplConfigVersion.cmake
        DESTINATION ${EVPL_CMAKE_INSTALL_DIR})

# evpl.pc names the prefix the tree is installed to, which is known only at
# install time (`cmake --install --prefix DIR` overrides the configured one),
# so the final substitution runs then.  DESTDIR is not part of the prefix.
foreach(kind BINDIR LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(EVPL_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(EVPL_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
list(REMOVE_DUPLICATES EVPL_PC_LIBS_PRIVATE)
list(REMOVE_DUPLICATES EVPL_PC_REQUIRES_PRIVATE)
list(JOIN EVPL_PC_LIBS_PRIVATE " " EVPL_PC_LIBS_PRIVATE_STR)
list(JOIN EVPL_PC_REQUIRES_PRIVATE " " EVPL_PC_REQUIRES_PRIVATE_STR)
set(EVPL_PC_PREFIX "@EVPL_PC_PREFIX@") # kept for the install-time pass
configure_file(${CMAKE_SOURCE_DIR}/cmake/evpl.pc.in ${CMAKE_BINARY_DIR}/evpl.pc.in @ONLY)
install(CODE "
  set(EVPL_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_BINARY_DIR}/evpl.pc.in\" \"${CMAKE_BINARY_DIR}/install/evpl.pc\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/install/evpl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# evpl_rpc2.pc (libevpl_rpc2, src/rpc2/), finished at install time the same way.
if(TARGET evpl_rpc2)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/evpl_rpc2.pc.in ${CMAKE_BINARY_DIR}/evpl_rpc2.pc.in @ONLY)
  install(CODE "
    set(EVPL_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${CMAKE_BINARY_DIR}/evpl_rpc2.pc.in\" \"${CMAKE_BINARY_DIR}/install/evpl_rpc2.pc\" @ONLY)
  ")
  install(FILES ${CMAKE_BINARY_DIR}/install/evpl_rpc2.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
