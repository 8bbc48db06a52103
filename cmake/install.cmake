# `cmake --install`: the client libraries, their public headers, the generated proto headers, the
# CLI, and a CMake package (weightprintConfig.cmake, its version file and exported targets) so
# that another project can write
#
#   find_package(weightprint CONFIG REQUIRED)                     # or COMPONENTS client
#   target_link_libraries(app PRIVATE weightprint::client)        # remote only: gRPC, no RocksDB/FAISS
#   target_link_libraries(tool PRIVATE weightprint::embedded)     # the registry in-process
#
# Two export sets: `client` (wp_client and what it links: the indexer, the report values, the
# proto) and `embedded` (the store, the registry and the embedded client). A consumer that asks
# for COMPONENTS client loads only the first and needs neither RocksDB nor FAISS installed.
# docs/API.md, "Using the C++ client from your project".
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(WP_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/weightprint)
set(WP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/weightprint)
set(WP_CLIENT_TARGETS
  wp_base wp_proto wp_bundle wp_indexer_core wp_fingerprint wp_formats wp_indexer wp_report wp_client)
set(WP_EMBEDDED_TARGETS wp_store wp_registry wp_embedded)

# The modules name their include directories as build-tree paths; installed, every header sits
# under include/weightprint/ with the same relative path ("client/registry_client.h").
foreach(target IN LISTS WP_CLIENT_TARGETS WP_EMBEDDED_TARGETS)
  get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  set(wrapped "")
  foreach(dir IN LISTS dirs)
    list(APPEND wrapped "$<BUILD_INTERFACE:${dir}>")
  endforeach()
  list(APPEND wrapped "$<INSTALL_INTERFACE:${WP_INSTALL_INCLUDEDIR}>")
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${wrapped}")
endforeach()

# Consumers name the two faces without the wp_ prefix.
set_target_properties(wp_client PROPERTIES EXPORT_NAME client)
set_target_properties(wp_embedded PROPERTIES EXPORT_NAME embedded)

install(TARGETS ${WP_CLIENT_TARGETS} EXPORT weightprintClientTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS ${WP_EMBEDDED_TARGETS} EXPORT weightprintEmbeddedTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS weightprint RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT weightprintClientTargets NAMESPACE weightprint::
  FILE weightprintClientTargets.cmake DESTINATION ${WP_INSTALL_CMAKEDIR})
install(EXPORT weightprintEmbeddedTargets NAMESPACE weightprint::
  FILE weightprintEmbeddedTargets.cmake DESTINATION ${WP_INSTALL_CMAKEDIR})

# Public headers: every header outside an internal/ folder of the installed modules
# (docs/ARCHITECTURE.md: such a header is its folder's public face; no public header includes
# an internal one). The service (registry/service/) is not installed.
foreach(dir base bundle client indexer)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${WP_INSTALL_INCLUDEDIR}/${dir}
    FILES_MATCHING PATTERN "*.h" PATTERN "internal" EXCLUDE PATTERN "python" EXCLUDE
    PATTERN "cli" EXCLUDE)
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/registry/ DESTINATION ${WP_INSTALL_INCLUDEDIR}/registry
  FILES_MATCHING PATTERN "*.h" PATTERN "internal" EXCLUDE PATTERN "service" EXCLUDE)
# Generated protobuf and gRPC headers ("weightprint/v1/registry.grpc.pb.h") and the schema.
install(DIRECTORY ${PROJECT_BINARY_DIR}/proto/gen/weightprint
  DESTINATION ${WP_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.pb.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/weightprint
  DESTINATION ${CMAKE_INSTALL_DATADIR}/weightprint/proto FILES_MATCHING PATTERN "*.proto")

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/weightprintConfig.cmake.in
  ${PROJECT_BINARY_DIR}/weightprintConfig.cmake INSTALL_DESTINATION ${WP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/weightprintConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weightprintConfig.cmake
  ${PROJECT_BINARY_DIR}/weightprintConfigVersion.cmake DESTINATION ${WP_INSTALL_CMAKEDIR})
