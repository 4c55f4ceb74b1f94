# evpl_xdr_library(<target> <file.x> [RPC] [NO_ENUM_CHECK] [SHARED|OBJECT])
#
# Turns one .x file into a library target (docs/xdr.md): runs xdrzcc
# (-r with RPC, -e with NO_ENUM_CHECK) into <binary dir>/<name>_xdr.{c,h},
# builds the .c as a static library (or SHARED / OBJECT) and puts the
# header's directory on the target's public include path, so consumers
# `#include "<name>_xdr.h"`.  With RPC the target links evpl::evpl_rpc2 (or
# evpl_rpc2 inside libevpl's own build) when it exists, else evpl::evpl.
#
# Works from the installed package (find_package(evpl), generator
# evpl::xdrzcc) and inside a build that includes libevpl with
# add_subdirectory() (generator target xdrzcc).
function(evpl_xdr_library target xfile)
  cmake_parse_arguments(X "RPC;NO_ENUM_CHECK;SHARED;OBJECT" "" "" ${ARGN})
  if(TARGET evpl::xdrzcc)
    set(gen evpl::xdrzcc)
  elseif(TARGET xdrzcc)
    set(gen xdrzcc)
  else()
    message(FATAL_ERROR "evpl_xdr_library: the xdrzcc generator is not available")
  endif()
  get_filename_component(xabs "${xfile}" ABSOLUTE)
  get_filename_component(base "${xfile}" NAME_WE)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/${target}_xdr)
  set(c ${dir}/${base}_xdr.c)
  set(h ${dir}/${base}_xdr.h)
  set(opts)
  if(X_RPC)
    list(APPEND opts -r)
  endif()
  if(X_NO_ENUM_CHECK)
    list(APPEND opts -e)
  endif()
  file(MAKE_DIRECTORY ${dir})
  add_custom_command(OUTPUT ${c} ${h}
    COMMAND ${gen} ${opts} ${xabs} ${c} ${h}
    DEPENDS ${xabs} ${gen}
    COMMENT "xdrzcc ${xfile}"
    VERBATIM)
  set(kind STATIC)
  if(X_SHARED)
    set(kind SHARED)
  elseif(X_OBJECT)
    set(kind OBJECT)
  endif()
  add_library(${target} ${kind} ${c} ${h})
  target_include_directories(${target} PUBLIC ${dir})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(X_RPC)
    if(TARGET evpl::evpl_rpc2)
      target_link_libraries(${target} PUBLIC evpl::evpl_rpc2)
    elseif(TARGET evpl_rpc2)
      target_link_libraries(${target} PUBLIC evpl_rpc2)
    elseif(TARGET evpl::evpl)
      target_link_libraries(${target} PUBLIC evpl::evpl)
    else()
      target_link_libraries(${target} PUBLIC evpl)
    endif()
  endif()
endfunction()
