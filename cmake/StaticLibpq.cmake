# Why this exists: Debian's libpq.a cannot be linked statically (it needs
# GSSAPI and LDAP, shipped only as shared libraries). So libpq, libpgcommon
# and libpgport are built here from the PostgreSQL source (major 15 or newer:
# the one the build's distribution offers), without those
# dependencies, and linked with Debian's static OpenSSL. Defines pgep::libpq.
#
# Source of the tarball, in this order:
#   PG_SOURCE         local path or URL of a postgresql-N.x .tar.bz2/.tar.gz (N >= 15)
#   PG_SOURCE_SHA256  its SHA256; required for a URL, verified when given
#   (neither)         cmake/fetch-postgres-source.sh downloads it at configure
#                     time with apt-get source (postgresql-$PG_MAJOR, else the
#                     newest the distribution has), checked against the .dsc,
#                     and caches it in the build directory.

include(ExternalProject)

set(PG_SOURCE "" CACHE STRING
  "PostgreSQL (15 or newer) source tarball (path or URL); empty: fetch with apt-get source")
set(PG_SOURCE_SHA256 "" CACHE STRING
  "SHA256 of PG_SOURCE (required when PG_SOURCE is a URL)")

# Keep the tarball's timestamps: with extraction times, make may find a
# pre-generated file (gram.c, errcodes.h) older than its source and try to
# regenerate it with bison or perl.
set(_pgep_timestamp_args "")
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.24)
  set(_pgep_timestamp_args DOWNLOAD_EXTRACT_TIMESTAMP TRUE)
endif()

set(_pgep_pg_dir ${CMAKE_BINARY_DIR}/postgres)
set(_pgep_pg_stage ${_pgep_pg_dir}/stage)

# --- the tarball ------------------------------------------------------------
set(_pgep_hash_args "")
if(PG_SOURCE_SHA256)
  string(TOLOWER "${PG_SOURCE_SHA256}" _pgep_sha)
  if(NOT _pgep_sha MATCHES "^[0-9a-f]+$")
    message(FATAL_ERROR "PG_SOURCE_SHA256 is not a hex SHA256: '${PG_SOURCE_SHA256}'")
  endif()
  string(LENGTH "${_pgep_sha}" _pgep_sha_len)
  if(NOT _pgep_sha_len EQUAL 64)
    message(FATAL_ERROR "PG_SOURCE_SHA256 must have 64 hex digits: '${PG_SOURCE_SHA256}'")
  endif()
  set(_pgep_hash_args URL_HASH SHA256=${_pgep_sha})
endif()

if(PG_SOURCE MATCHES "^[A-Za-z][A-Za-z0-9+.-]*://")
  if(NOT PG_SOURCE_SHA256)
    message(FATAL_ERROR "PG_SOURCE is a URL (${PG_SOURCE}); set PG_SOURCE_SHA256 to its checksum")
  endif()
  set(_pgep_tarball "${PG_SOURCE}")
elseif(PG_SOURCE)
  get_filename_component(_pgep_tarball "${PG_SOURCE}" ABSOLUTE)
  if(NOT EXISTS "${_pgep_tarball}" OR IS_DIRECTORY "${_pgep_tarball}")
    message(FATAL_ERROR "PG_SOURCE: no such file: ${_pgep_tarball}")
  endif()
else()
  execute_process(
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/fetch-postgres-source.sh ${_pgep_pg_dir}/tarball
    OUTPUT_VARIABLE _pgep_tarball
    RESULT_VARIABLE _pgep_rc
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _pgep_rc EQUAL 0 OR NOT EXISTS "${_pgep_tarball}")
    message(FATAL_ERROR "Could not obtain the PostgreSQL source with apt-get source "
      "(see the messages above). Set PG_SOURCE to a postgresql-N.x tarball (N >= 15) "
      "(path or URL, with PG_SOURCE_SHA256), or pass -DPG_ENTRYPOINT_STATIC=OFF.")
  endif()
  # checked against the .dsc by the script; pinned here for the extract step
  file(SHA256 "${_pgep_tarball}" _pgep_fetched_sha)
  if(PG_SOURCE_SHA256 AND NOT _pgep_fetched_sha STREQUAL _pgep_sha)
    message(FATAL_ERROR "PG_SOURCE_SHA256 (${_pgep_sha}) does not match the "
      "fetched ${_pgep_tarball} (${_pgep_fetched_sha})")
  endif()
  set(_pgep_hash_args URL_HASH SHA256=${_pgep_fetched_sha})
endif()

string(REGEX REPLACE "[?#].*$" "" _pgep_name "${_pgep_tarball}")
get_filename_component(_pgep_name "${_pgep_name}" NAME)
if(NOT _pgep_name MATCHES "^postgresql-(1[5-9]|[2-9][0-9])[._][0-9].*\\.tar\\.(bz2|gz|xz)$")
  message(FATAL_ERROR "PG_SOURCE must be a postgresql-N.x .tar.bz2, .tar.gz or .tar.xz with N >= 15 "
    "(postgresql-N.M.tar.* or Debian's postgresql-N_N.M.orig.tar.*), got: ${_pgep_name}")
endif()
message(STATUS "libpq for the static link: ${_pgep_tarball}")

# --- the build ----------------------------------------------------------------
# Only what libpq needs: the generated headers, libpgport_shlib.a,
# libpgcommon_shlib.a and libpq.a (the _shlib variants are the ones built for
# use inside libpq). "$(MAKE)" shares the jobserver of a Makefile build.
if(CMAKE_GENERATOR MATCHES "Make")
  set(_pgep_make "$(MAKE)")
else()
  cmake_host_system_information(RESULT _pgep_ncpu QUERY NUMBER_OF_LOGICAL_CORES)
  set(_pgep_make make -j${_pgep_ncpu})
endif()

set(_pgep_libs
  ${_pgep_pg_stage}/lib/libpq.a
  ${_pgep_pg_stage}/lib/libpgcommon_shlib.a
  ${_pgep_pg_stage}/lib/libpgport_shlib.a)
set(_pgep_headers
  src/interfaces/libpq/libpq-fe.h
  src/interfaces/libpq/libpq-events.h
  src/include/postgres_ext.h)
# included by postgres_ext.h up to 17; PostgreSQL 18 has no such header
set(_pgep_optional_header src/include/pg_config_ext.h)

ExternalProject_Add(pgep_postgres_libpq
  PREFIX ${_pgep_pg_dir}
  URL ${_pgep_tarball}
  ${_pgep_hash_args}
  ${_pgep_timestamp_args}
  TLS_VERIFY ON
  BUILD_IN_SOURCE 1
  CONFIGURE_COMMAND <SOURCE_DIR>/configure
    --quiet
    CC=${CMAKE_C_COMPILER}
    --prefix=${_pgep_pg_stage}
    --without-readline --without-zlib --without-icu --without-gssapi
    --without-ldap --with-ssl=openssl
    --disable-nls --without-lz4 --without-zstd --without-libxml
    --without-pam --without-selinux --without-systemd
  BUILD_COMMAND
          ${_pgep_make} -s -C src/backend generated-headers
  COMMAND ${_pgep_make} -s -C src/port libpgport_shlib.a
  COMMAND ${_pgep_make} -s -C src/common libpgcommon_shlib.a
  COMMAND ${_pgep_make} -s -C src/interfaces/libpq libpq.a
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_pgep_pg_stage}/lib ${_pgep_pg_stage}/include
  COMMAND ${CMAKE_COMMAND} -E copy_if_different
    src/interfaces/libpq/libpq.a src/common/libpgcommon_shlib.a src/port/libpgport_shlib.a
    ${_pgep_pg_stage}/lib/
  COMMAND ${CMAKE_COMMAND} -E copy_if_different ${_pgep_headers} ${_pgep_pg_stage}/include/
  COMMAND sh -c "[ ! -f ${_pgep_optional_header} ] || cp -p ${_pgep_optional_header} ${_pgep_pg_stage}/include/"
  BUILD_BYPRODUCTS ${_pgep_libs}
  INSTALL_COMMAND ""
  LOG_CONFIGURE 1
  LOG_OUTPUT_ON_FAILURE 1)

# --- the link ----------------------------------------------------------------
set(OPENSSL_USE_STATIC_LIBS TRUE)
find_package(OpenSSL REQUIRED)
foreach(_pgep_lib IN ITEMS "${OPENSSL_SSL_LIBRARY}" "${OPENSSL_CRYPTO_LIBRARY}")
  if(NOT _pgep_lib MATCHES "\\.a$")
    message(FATAL_ERROR "A static OpenSSL is needed (libssl.a, libcrypto.a: "
      "apt-get install libssl-dev), found: ${_pgep_lib}")
  endif()
endforeach()
# A libcrypto.a built with compression (OpenSSL 3.5 in trixie and forky:
# libcrypto.pc's Libs.private has -lz -lzstd) needs those libraries too,
# statically. bookworm's OpenSSL 3.0 needs neither.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(_pgep_crypto QUIET libcrypto)
  foreach(_pgep_dep IN ITEMS z zstd brotlienc brotlidec brotlicommon)
    if(NOT _pgep_dep IN_LIST _pgep_crypto_STATIC_LIBRARIES)
      continue()
    endif()
    find_library(_pgep_dep_${_pgep_dep} NAMES lib${_pgep_dep}.a)
    if(NOT _pgep_dep_${_pgep_dep})
      message(FATAL_ERROR "The static libcrypto.a needs lib${_pgep_dep}.a (libcrypto.pc: "
        "Libs.private), which is missing: apt-get install zlib1g-dev libzstd-dev libbrotli-dev")
    endif()
    set_property(TARGET OpenSSL::Crypto APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES ${_pgep_dep_${_pgep_dep}})
  endforeach()
endif()
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

# IMPORTED archives in link order (libpq -> pgcommon -> pgport -> OpenSSL);
# each waits for the external build.
file(MAKE_DIRECTORY ${_pgep_pg_stage}/include ${_pgep_pg_stage}/lib)
foreach(_pgep_lib IN ITEMS pgport_shlib pgcommon_shlib pq)
  add_library(pgep_imported_${_pgep_lib} STATIC IMPORTED)
  set_target_properties(pgep_imported_${_pgep_lib} PROPERTIES
    IMPORTED_LOCATION ${_pgep_pg_stage}/lib/lib${_pgep_lib}.a)
  add_dependencies(pgep_imported_${_pgep_lib} pgep_postgres_libpq)
endforeach()
set_target_properties(pgep_imported_pgport_shlib PROPERTIES
  INTERFACE_LINK_LIBRARIES "OpenSSL::Crypto;m")
set_target_properties(pgep_imported_pgcommon_shlib PROPERTIES
  INTERFACE_LINK_LIBRARIES "pgep_imported_pgport_shlib;OpenSSL::Crypto;m")
set_target_properties(pgep_imported_pq PROPERTIES
  INTERFACE_LINK_LIBRARIES
    "pgep_imported_pgcommon_shlib;pgep_imported_pgport_shlib;OpenSSL::SSL;OpenSSL::Crypto;Threads::Threads;m")

add_library(pgep_libpq INTERFACE)
# SYSTEM: the project's -Werror warning set is not applied to PostgreSQL's headers
target_include_directories(pgep_libpq SYSTEM INTERFACE ${_pgep_pg_stage}/include)
target_link_libraries(pgep_libpq INTERFACE pgep_imported_pq)
add_dependencies(pgep_libpq pgep_postgres_libpq)
add_library(pgep::libpq ALIAS pgep_libpq)
